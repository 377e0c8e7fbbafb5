package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// runGcJSON runs "posixshm gc --json ARGS..." in this process and returns
// its entries by path.
func runGcJSON(t *testing.T, args ...string) map[string]gcEntry {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append([]string{"gc", "--json"}, args...), &out, &errb); code != exitOK {
		t.Fatalf("gc %v: status %d\n%s%s", args, code, out.String(), errb.String())
	}
	return parseGc(t, out.Bytes())
}

func parseGc(t *testing.T, b []byte) map[string]gcEntry {
	t.Helper()
	var entries []gcEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatalf("gc's JSON: %v\n%s", err, b)
	}
	m := map[string]gcEntry{}
	for _, e := range entries {
		if e.Reason == "" || e.Detail == "" || e.Action == "" {
			t.Errorf("entry without action, reason or detail: %+v", e)
		}
		m[e.Path] = e
	}
	return m
}

// wantEntry checks that gc's entry for path has action and reason.
func wantEntry(t *testing.T, m map[string]gcEntry, path, action, reason string) gcEntry {
	t.Helper()
	e, ok := m[path]
	if !ok {
		t.Fatalf("gc listed nothing for %s", path)
	}
	if e.Action != action || e.Reason != reason {
		t.Fatalf("%s: %s, %s (%s); want %s, %s", path, e.Action, e.Reason, e.Detail, action, reason)
	}
	return e
}

// holder starts the helper program name (see hold_test.go) with args, the
// last of which is the file it writes its PID to once ready, and waits
// for that. The process is killed with SIGKILL when the test ends.
func holder(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath(name) // installed by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitReady(t, args[len(args)-1])
	return cmd
}

// waitReady waits up to 10 s for the file ready to exist.
func waitReady(t *testing.T, ready string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within 10s", ready)
		}
	}
}

func kill(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// agePlain creates the file p holding data, idle for a day.
func agePlain(t *testing.T, p string, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	day := time.Now().Add(-24 * time.Hour)
	if err := os.Chtimes(p, day, day); err != nil {
		t.Fatal(err)
	}
}

// readableScan makes gc's /proc scans in this process ignore processes
// that even root cannot read here and that are none of the test's (a
// sandbox may run one, such as its PID 1), as if on a machine where root
// reads every process, which is what gc --plain needs to remove anything.
// The test's own processes are judged as gc judges them.
func readableScan(t *testing.T, ours ...*exec.Cmd) {
	t.Helper()
	if procRoot == "" {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	orig := scanProcs
	t.Cleanup(func() { scanProcs = orig })
	scanProcs = func(root string, want map[fileKey]bool, self, euid int) procUsers {
		pu := orig(root, want, self, euid)
		if pu.unknown != "" {
			t.Skipf("gc cannot tell who uses plain objects here: %s", pu.unknown)
		}
		pu.unreadable = slices.DeleteFunc(pu.unreadable, func(p unreadableProc) bool {
			for _, c := range ours {
				if c.Process.Pid == p.pid {
					return false
				}
			}
			t.Logf("ignoring %s, which cannot be read here: %v", p.proc, p.err)
			return true
		})
		return pu
	}
}

// TestGc_Plain: with --plain, an idle object that is not a segment is
// removed when no process maps it or holds it open, and kept while one
// does (real processes: one holds it open, one has it mapped with its
// descriptor closed); without --plain it is kept.
func TestGc_Plain(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	path := func(name string) string { p, _ := d.Path(name); return p }
	free, open, mapped := path("/free"), path("/open"), path("/mapped")
	for _, p := range []string{free, open, mapped} {
		agePlain(t, p, strings.Repeat("not a segment ", 40))
	}
	ho := holder(t, "plainhold", "open", open, filepath.Join(t.TempDir(), "open.pid"))
	hm := holder(t, "plainhold", "map", mapped, filepath.Join(t.TempDir(), "map.pid"))
	day := time.Now().Add(-24 * time.Hour)
	for _, p := range []string{open, mapped} {
		os.Chtimes(p, day, day)
	}
	readableScan(t, ho, hm)

	m := runGcJSON(t, "--dir", string(d))
	wantEntry(t, m, free, actKept, "plain")
	m = runGcJSON(t, "--dir", string(d), "--plain")
	e := wantEntry(t, m, free, actRemoved, "plain_unused")
	if e.Kind != "plain" || e.Idle == nil || *e.Idle < 86000 {
		t.Errorf("removed: %+v", e)
	}
	if _, err := os.Stat(free); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s: %v, want it removed", free, err)
	}
	if e := wantEntry(t, m, open, actKept, "open"); !slices.Equal(e.OpenBy, []int{ho.Process.Pid}) {
		t.Errorf("open: open_by %v, want [%d]", e.OpenBy, ho.Process.Pid)
	}
	if e := wantEntry(t, m, mapped, actKept, "open"); !slices.Equal(e.OpenBy, []int{hm.Process.Pid}) {
		t.Errorf("mapped: open_by %v, want [%d]", e.OpenBy, hm.Process.Pid)
	}
	// --min-age protects it however long nobody has used it.
	kill(ho)
	m = runGcJSON(t, "--dir", string(d), "--plain", "--min-age", "48h")
	wantEntry(t, m, open, actKept, "young")
	m = runGcJSON(t, "--dir", string(d), "--plain")
	wantEntry(t, m, open, actRemoved, "plain_unused")
	wantEntry(t, m, mapped, actKept, "open")
	kill(hm)
	m = runGcJSON(t, "--dir", string(d), "--plain")
	wantEntry(t, m, mapped, actRemoved, "plain_unused")
}

// TestGc_UnreadableProcess: a process whose /proc entries gc cannot read
// makes every plain object count as in use, and the reason says so. Here
// gc runs as uid 65534, which cannot read root's processes (this test's
// own, at least); it still removes its own unused segments, whose users
// the kernel's record locks tell, and touches no other user's objects.
func TestGc_NotRoot(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv(1) to run gc as uid 65534")
	}
	bin := nobodyBinary(t) // skips unless root
	dir, err := os.MkdirTemp("", "posixshm-gc-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o1777); err != nil { // as /tmp
		t.Fatal(err)
	}
	d := posixshm.Dir(dir)
	path := func(name string) string { p, _ := d.Path(name); return p }
	day := time.Now().Add(-24 * time.Hour)
	for _, name := range []string{"/mine", "/roots"} {
		s, err := segment.Create(name, 64, &segment.Options{Layout: d})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if err := ageSegment(path(name), day); err != nil {
			t.Fatal(err)
		}
	}
	agePlain(t, path("/plain"), strings.Repeat("not a segment ", 40))
	agePlain(t, path("/rootsplain"), strings.Repeat("not a segment ", 40))
	plainBefore, err := lstatFacts(path("/plain"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/mine", "/plain"} {
		if err := os.Lchown(path(name), 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	nobody := func(args ...string) (map[string]gcEntry, string) {
		cmd := exec.Command(setpriv, append([]string{"--reuid", "65534", "--regid", "65534", "--clear-groups", bin}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v as uid 65534: %v\n%s%s", args, err, out.String(), errb.String())
		}
		if args[0] != "gc" {
			return nil, out.String()
		}
		return parseGc(t, out.Bytes()), errb.String()
	}
	// ls as uid 65534: its own segment's users are counted, root's are
	// not read ("?").
	_, ls := nobody("ls", "--dir", dir)
	for name, users := range map[string]string{"/mine": "0", "/roots": "?", "/plain": "-"} {
		if !regexpLine(ls, users, path(name)) {
			t.Errorf("ls as uid 65534: %s should show %s users:\n%s", name, users, ls)
		}
	}
	m, stderr := nobody("gc", "--json", "--plain", "--dir", dir)
	if stderr != "" {
		t.Errorf("gc as uid 65534 said on stderr: %s", stderr)
	}
	wantEntry(t, m, path("/mine"), actRemoved, "unused")
	wantEntry(t, m, path("/roots"), actKept, "not_owner")
	wantEntry(t, m, path("/rootsplain"), actKept, "not_owner")
	if procRoot == "" {
		// Without /proc (OpenBSD, the openbsdsim build) plain objects are
		// never removed, whoever runs gc.
		wantEntry(t, m, path("/plain"), actKept, "no_proc")
	} else {
		e := wantEntry(t, m, path("/plain"), actKept, "unknown_users")
		if !strings.Contains(e.Detail, "could not be read") || !strings.Contains(e.Detail, "permission denied") {
			t.Errorf("unknown_users without saying why: %s", e.Detail)
		}
	}
	for name, want := range map[string]bool{"/mine": false, "/roots": true, "/plain": true, "/rootsplain": true} {
		if _, err := os.Lstat(path(name)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", name, err == nil, want)
		}
	}
	// Within a microsecond: where restoring goes through futimes(2)
	// (OpenBSD, the openbsdsim build), that is its resolution.
	if fa, err := lstatFacts(path("/plain")); err != nil || fa.Atime.Sub(plainBefore.Atime).Abs() >= time.Microsecond {
		t.Errorf("/plain: atime %v (%v), want %v: gc refreshed what it kept", fa.Atime, err, plainBefore.Atime)
	}
}

// regexpLine reports whether text has a line with the field users and
// ending in path.
func regexpLine(text, users, path string) bool {
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) > 5 && f[4] == users && f[len(f)-1] == path {
			return true
		}
	}
	return false
}

// TestGc_OwnPIDNamespace: gc in a PID namespace of its own cannot see the
// processes outside it, which may use plain objects: it keeps them all,
// and says why. Segments are judged by their record locks, as anywhere.
func TestGc_OwnPIDNamespace(t *testing.T) {
	bin, err := exec.LookPath("posixshm") // installed by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	d := posixshm.Dir(t.TempDir())
	plain, _ := d.Path("/plain")
	seg, _ := d.Path("/seg")
	agePlain(t, plain, strings.Repeat("not a segment ", 40))
	s, err := segment.Create("/seg", 64, &segment.Options{Layout: d})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := ageSegment(seg, time.Now().Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	m := parseGc(t, unshared(t, "--pid", "--fork", "--mount-proc", bin, "gc", "--json", "--plain", "--dir", string(d)))
	if procRoot == "" { // OpenBSD, the openbsdsim build: see TestGc_NotRoot
		wantEntry(t, m, plain, actKept, "no_proc")
	} else {
		e := wantEntry(t, m, plain, actKept, "unknown_users")
		if !strings.Contains(e.Detail, "PID namespace of its own") {
			t.Errorf("unknown_users without saying why: %s", e.Detail)
		}
	}
	wantEntry(t, m, seg, actRemoved, "unused")
}

// shmchurnMain is the program "shmchurn DIR NAME ROUNDS SEED": ROUNDS
// times it opens (or creates) the segment NAME in OpenBSD's layout in
// DIR, checks, twice with a random pause between, that the file it is
// attached to still has its name, closes it, and sleeps up to 5 ms. It fails (status 1)
// if it ever finds itself attached to a removed segment.
func shmchurnMain() int {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: shmchurn DIR NAME ROUNDS SEED")
		return 2
	}
	rounds, _ := strconv.Atoi(os.Args[3])
	seed, _ := strconv.ParseUint(os.Args[4], 10, 64)
	rng := rand.New(rand.NewPCG(seed, uint64(os.Getpid())))
	opts := &segment.Options{Layout: posixshm.Dir(os.Args[1])}
	for i := range rounds {
		s, err := segment.OpenOrCreate(os.Args[2], 64, opts)
		if err != nil {
			fmt.Fprintf(os.Stderr, "shmchurn: round %d: %v\n", i, err)
			return 1
		}
		for range 2 {
			info, err := s.Stat()
			if err != nil || info.Unlinked {
				fmt.Fprintf(os.Stderr, "shmchurn: round %d: attached to a removed segment (creator %v): %+v, %v\n", i, s.Creator(), info, err)
				return 1
			}
			// A short pause, spun: sleeps take a millisecond or more.
			for end := time.Now().Add(time.Duration(rng.IntN(100)) * time.Microsecond); time.Now().Before(end); {
			}
		}
		if err := s.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "shmchurn: round %d: %v\n", i, err)
			return 1
		}
		// Detached for a while: gc's chance to remove it.
		time.Sleep(time.Duration(rng.IntN(5000)) * time.Microsecond)
	}
	return 0
}

// TestGc_RacingOpeners: processes open, check and close a segment in a
// loop while gc (--min-age 0s) removes it whenever nobody is attached.
// No opener may ever find itself attached to a segment gc removed: an
// opener that mapped the file before gc removed it attaches under the
// removal gate and checks the name, and starts again. POSIXSHM_STRESS_ROUNDS
// sets the rounds per opener (default 200).
func TestGc_RacingOpeners(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	rounds := 200
	if n, err := strconv.Atoi(os.Getenv("POSIXSHM_STRESS_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	bin, err := exec.LookPath("shmchurn") // installed by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err = os.MkdirTemp("/dev/shm", "posixshm-gc-race-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	const procs = 3
	done := make(chan error, procs)
	var stderr [procs]bytes.Buffer
	for i := range procs {
		cmd := exec.Command(bin, dir, "/churn", strconv.Itoa(rounds), strconv.FormatUint(seed, 10))
		cmd.Stderr = &stderr[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		go func() { done <- cmd.Wait() }()
	}
	removed, runs := 0, 0
	reasons := map[string]int{}
	for finished := 0; finished < procs; {
		select {
		case err := <-done:
			finished++
			if err != nil {
				for i := range stderr {
					t.Log(stderr[i].String())
				}
				t.Fatalf("an opener failed: %v", err)
			}
		default:
			var out, errb bytes.Buffer
			if code := run([]string{"gc", "--json", "--min-age", "0s", "--dir", dir}, &out, &errb); code != exitOK {
				t.Fatalf("gc: status %d: %s%s", code, out.String(), errb.String())
			}
			runs++
			for _, e := range parseGc(t, out.Bytes()) {
				if e.Action == actRemoved {
					removed++
				}
				reasons[e.Reason]++

			}
		}
	}
	t.Logf("%d openers × %d rounds; gc ran %d times and removed the segment %d times; reasons %v", procs, rounds, runs, removed, reasons)
	if reasons["creator_died"] > 0 {
		t.Errorf("gc said a creator died; none did")
	}
	if removed == 0 {
		t.Errorf("gc never removed the segment: the race was not exercised")
	}
}

// gcSystemScript runs in a mount namespace of its own with a fresh tmpfs
// on /dev/shm: this system's convention, with nobody else's objects. It
// leaves an unused segment, a segment a live process is attached to, a
// plain object a live process has mapped and, if python3 is there, the
// object of a Python program killed with its resource tracker (which
// would otherwise have removed it), then prints gc's JSON.
const gcSystemScript = `set -e
mount -t tmpfs posixshm-test /dev/shm || exit 99
posixshm create /unused >/dev/null
shmhold - /attached "$1/attached.pid" create &
printf 'plain object, not a segment' >/dev/shm/mapped
plainhold map /dev/shm/mapped "$1/mapped.pid" &
if command -v python3 >/dev/null; then
	setsid python3 -c '
from multiprocessing import shared_memory
import os, signal
m = shared_memory.SharedMemory(name="python-leak", create=True, size=4096)
m.buf[:5] = b"hello"
os.killpg(0, signal.SIGKILL)  # the program and its resource tracker
' || true
fi
i=0
while [ ! -e "$1/attached.pid" ] || [ ! -e "$1/mapped.pid" ]; do
	i=$((i + 1))
	[ $i -lt 1000 ] || { echo "gc test: the holders did not start in 10 s" >&2; exit 1; }
	sleep 0.01
done
posixshm gc --json --plain --min-age 0s
kill -KILL $(cat "$1/attached.pid") $(cat "$1/mapped.pid")
`

// TestGc_SystemConvention: without --dir, gc on Linux cleans /dev/shm:
// the unused segment goes, the segment in use and the mapped plain object
// stay, and a crashed Python program's leaked object goes with --plain
// (where every process's /proc entries can be read; else it counts as in
// use, and says why). /dev/shm is a private tmpfs here, so that no other
// program's objects are touched.
func TestGc_SystemConvention(t *testing.T) {
	if !devShm() {
		t.Skip("this build's convention is not /dev/shm (the openbsdsim build: native_openbsd.txtar covers /tmp)")
	}
	m := parseGc(t, unshared(t, "--mount", "--propagation", "private", "sh", "-c", gcSystemScript, "sh", t.TempDir()))
	wantEntry(t, m, "/dev/shm/unused", actRemoved, "unused")
	wantEntry(t, m, "/dev/shm/attached", actKept, "attached")
	wantEntry(t, m, "/dev/shm/mapped", actKept, "open")
	if _, err := exec.LookPath("python3"); err != nil {
		t.Log("no python3: the leaked Python object is not tried")
		return
	}
	if ok, _ := procReadable(); ok {
		wantEntry(t, m, "/dev/shm/python-leak", actRemoved, "plain_unused")
	} else {
		e := wantEntry(t, m, "/dev/shm/python-leak", actKept, "unknown_users")
		t.Logf("the leaked Python object counts as in use here: %s", e.Detail)
	}
}

// unshared runs unshare(1) with args and returns what it printed. It
// needs root on Linux, and skips the test without them, or if unshare
// cannot make the namespaces (or the script its /dev/shm: status 99).
func unshared(t *testing.T, args ...string) []byte {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs root on Linux for unshare(1)")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1)")
	}
	cmd := exec.Command(unshare, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && (strings.HasPrefix(stderr.String(), "unshare:") || ee.ExitCode() == 99):
		t.Skipf("unshare %v: %s", args[:2], stderr.String())
	case err != nil:
		t.Fatalf("unshare %v: %v\n%s%s", args, err, out, stderr.String())
	}
	return out
}

// TestGc_Temp: a temporary file in which a creator builds a new segment
// (where there is no O_TMPFILE: posixshm.CreateUnnamed) is removed once its
// creator has died (nobody holds its creation lock), whatever --min-age
// says, and kept while its creator lives.
func TestGc_Temp(t *testing.T) {
	dir := t.TempDir()
	unixutil.NoTmpfile = true
	defer func() { unixutil.NoTmpfile = false }()
	u, err := posixshm.CreateUnnamed(posixshm.Dir(dir), "/live", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { u.Remove(); u.File().Close() }()
	var live string
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		live = filepath.Join(dir, de.Name())
	}
	// What a creator killed before it linked its segment leaves: no lock.
	dead := filepath.Join(dir, posixshm.TempPrefix+strings.Repeat("ab", 32))
	if err := os.WriteFile(dead, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	m := runGcJSON(t, "--dry-run", "--min-age", "1h", "--dir", dir)
	if e := wantEntry(t, m, dead, actWouldRemove, "abandoned"); e.Kind != "temp" {
		t.Errorf("kind %q", e.Kind)
	}
	wantEntry(t, m, live, actKept, "being_created")
	if _, err := os.Stat(dead); err != nil {
		t.Fatalf("a dry run removed it: %v", err)
	}
	m = runGcJSON(t, "--min-age", "1h", "--dir", dir)
	wantEntry(t, m, dead, actRemoved, "abandoned")
	wantEntry(t, m, live, actKept, "being_created")
	if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("still there: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the live creator's file: %v", err)
	}
}
