package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// requireCRef names the environment variable that turns a skip for want
// of a C program into a failure: CI sets it, so that the tests built on C
// programs cannot quietly stop running there (as in package posixshm).
const requireCRef = "POSIXSHM_REQUIRE_CREF"

// buildC compiles testdata/cref/<src> with gcc (-pthread) into a temporary
// directory and returns the program's path. Without gcc it skips the test,
// saying so, or fails it if requireCRef is set to 1.
func buildC(t *testing.T, src string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		why := "gcc not found in PATH: cannot build testdata/cref/" + src + " (apt-get install gcc libc6-dev)"
		if os.Getenv(requireCRef) == "1" {
			t.Fatalf("%s (and %s=1 requires the tests built on C programs)", why, requireCRef)
		}
		t.Skip(why)
	}
	bin := filepath.Join(t.TempDir(), strings.TrimSuffix(src, ".c"))
	args := []string{"-O2", "-Wall", "-pthread", "-o", bin, filepath.Join("testdata", "cref", src)}
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// gcoursMain is the program "gcours PIDS ARGS...": posixshm ARGS (a gc),
// run with a /proc scan that ignores the processes whose entries cannot be
// read, except those in PIDS (a space-separated list): the processes of
// the test, which are judged as gc judges them. It says on stderr which it
// ignored. A sandbox may run a process that even root cannot read (such as
// its PID 1), which would make every plain object count as in use; the
// tests must still see gc remove one.
func gcoursMain() int {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: gcours PIDS ARGS...")
		return 2
	}
	var ours []int
	for _, f := range strings.Fields(os.Args[1]) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gcours: bad PID", f)
			return 2
		}
		ours = append(ours, pid)
	}
	orig := scanProcs
	scanProcs = func(root string, want map[fileKey]bool, self, euid int) procUsers {
		pu := orig(root, want, self, euid)
		pu.unreadable = slices.DeleteFunc(pu.unreadable, func(p unreadableProc) bool {
			if slices.Contains(ours, p.pid) {
				return false
			}
			fmt.Fprintf(os.Stderr, "gcours: ignoring %s, which cannot be read here: %v\n", p.proc, p.err)
			return true
		})
		return pu
	}
	return run(os.Args[2:], os.Stdout, os.Stderr)
}

// gcThreadsScript runs in a mount namespace of its own with a fresh tmpfs
// on /dev/shm ($1 a directory for the ready files, $2 the threadhold
// program). It leaves a plain object nobody uses and three that C
// programs use where the thread group leader's /proc entries do not show
// it, then prints gc's JSON.
const gcThreadsScript = `set -e
mount -t tmpfs posixshm-test /dev/shm || exit 99
printf 'plain object, not a segment' >/dev/shm/free
"$2" exitmain map /exitmap "$1/exitmap.pid" &
"$2" exitmain open /exitopen "$1/exitopen.pid" &
"$2" unshare /unshared "$1/unshared.pid" &
i=0
while [ ! -e "$1/exitmap.pid" ] || [ ! -e "$1/exitopen.pid" ] || [ ! -e "$1/unshared.pid" ]; do
	i=$((i + 1))
	[ $i -lt 1000 ] || { echo "gc test: the C programs did not start in 10 s" >&2; exit 1; }
	sleep 0.01
done
pids="$(cat "$1/exitmap.pid" "$1/exitopen.pid" "$1/unshared.pid")"
gcours "$pids" gc --json --plain --min-age 0s
kill -KILL $pids
`

// TestGc_PlainThreads: gc --plain sees the use of a plain object by any
// thread, not only the thread group leader's (real C programs, in a
// private /dev/shm): a program whose main thread called pthread_exit while
// a worker keeps the object mapped, or holds its descriptor open, and one
// whose thread holds the descriptor in a table of its own
// (unshare(CLONE_FILES)). Their objects are kept, as open by the program;
// an object nobody uses is removed, so removal is exercised too.
func TestGc_PlainThreads(t *testing.T) {
	if !devShm() {
		t.Skip("this build's convention is not /dev/shm and gc removes no plain objects (the openbsdsim build: no /proc scan)")
	}
	prog := buildC(t, "threadhold.c")
	if os.Geteuid() != 0 {
		t.Skip("needs root on Linux for unshare(1) and a tmpfs on /dev/shm")
	}
	ready := t.TempDir()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", gcThreadsScript, "sh", ready, prog)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if stderr.Len() > 0 {
		t.Logf("stderr:\n%s", stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && (strings.HasPrefix(stderr.String(), "unshare:") || ee.ExitCode() == 99):
		t.Skipf("cannot make a private /dev/shm here: %s", stderr.String())
	case err != nil:
		t.Fatalf("unshare: %v\n%s", err, out)
	}
	m := parseGc(t, out)
	if e := m["/dev/shm/free"]; e.Reason == "unknown_users" {
		t.Skipf("gc cannot tell who uses plain objects here: %s", e.Detail)
	}
	wantEntry(t, m, "/dev/shm/free", actRemoved, "plain_unused")
	for _, name := range []string{"exitmap", "exitopen", "unshared"} {
		b, err := os.ReadFile(filepath.Join(ready, name+".pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		e, ok := m["/dev/shm/"+name]
		switch {
		case !ok:
			t.Errorf("gc listed nothing for /dev/shm/%s", name)
		case e.Action != actKept || e.Reason != "open" || !slices.Equal(e.OpenBy, []int{pid}):
			t.Errorf("/dev/shm/%s, used by pid %d: %s, %s (%s), open_by %v; want kept, open by it", name, pid, e.Action, e.Reason, e.Detail, e.OpenBy)
		}
	}
}
