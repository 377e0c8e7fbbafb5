package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/posixshm/posixshm/sem"
)

// sempath VAR DIR NAME sets VAR to the file of semaphore NAME in OpenBSD's
// layout rooted at DIR.
func cmdSemPath(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: sempath VAR DIR NAME")
	}
	p, err := sem.Dir(args[1]).Path(args[2])
	ts.Check(err)
	ts.Setenv(args[0], p)
}

// semwaiters DIR NAME N waits up to 10s for semaphore NAME in OpenBSD's
// layout rooted at DIR to count N waiters ("-" for DIR: this system's
// layout).
func cmdSemWaiters(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: semwaiters DIR NAME N")
	}
	l := sem.System()
	if args[0] != "-" {
		l = sem.Dir(args[0])
	}
	n, err := strconv.Atoi(args[2])
	ts.Check(err)
	s, err := l.Open(args[1], 0, 0, 0)
	ts.Check(err)
	defer s.Close()
	waitFor(ts, args[2]+" waiters on "+args[1], func() bool {
		i, err := s.Info()
		return err == nil && i.Waiters == n
	})
}

// TestSem_C: "posixshm sem" and glibc's own sem_wait and sem_post share a
// semaphore in /dev/shm: a script's post wakes a C program's wait, a C
// program's post ends a script's wait.
func TestSem_C(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("glibc's semaphores: Linux")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc")
	}
	bin := filepath.Join(t.TempDir(), "glibcsem")
	if out, err := exec.Command(gcc, "-O2", "-pthread", "-o", bin, filepath.Join("..", "..", "sem", "testdata", "cref", "glibcsem.c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	l := sem.GlibcLayout("/dev/shm", 0)
	name := "/posixshm-semcli-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { l.Unlink(name) })
	// Without --dir the command uses this system's convention, which is
	// OpenBSD's in the openbsdsim build: there, this test has no C side.
	if p, _ := sem.Path(name); p != "/dev/shm/sem."+name[1:] {
		t.Skip("this build's convention is not glibc's")
	}
	posixshm := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := posixshm("sem", "create", "--", name); code != 0 {
		t.Fatalf("sem create: %d %s", code, out)
	}
	c := exec.Command(bin, "wait", name)
	var cout bytes.Buffer
	c.Stdout = &cout
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	s, err := l.Open(name, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if i, _ := s.Info(); i.Waiters == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the C waiter never came")
		}
	}
	time.Sleep(20 * time.Millisecond)
	if code, out := posixshm("sem", "post", "--", name); code != 0 {
		t.Fatalf("sem post: %d %s", code, out)
	}
	if err := c.Wait(); err != nil || strings.TrimSpace(cout.String()) != "ok" {
		t.Fatalf("C sem_wait: %v %q", err, cout.String())
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		exec.Command(bin, "post", name).Run()
	}()
	if code, out := posixshm("sem", "wait", "--timeout", "30s", "--", name); code != 0 {
		t.Fatalf("sem wait for C's post: %d %s", code, out)
	}
	if code, out := posixshm("sem", "value", "--", name); code != 0 || out != "0 0\n" {
		t.Fatalf("sem value: %d %q", code, out)
	}
}
