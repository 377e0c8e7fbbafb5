package pledge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The confined child's environment.
const (
	envTest     = "POSIXSHM_PLEDGE_TEST"     // t.Name() of the test the child runs confined
	envPromises = "POSIXSHM_PLEDGE_PROMISES" // its promises
	envDir      = "POSIXSHM_PLEDGE_DIR"      // SharedDir's directory
	envToken    = "POSIXSHM_PLEDGE_TOKEN"    // ends the marker lines, so fn's output cannot fake them
)

// Lines the child prints on its standard output for the parent, each
// followed by the token.
const (
	markConfined = "pledge-child: confined"
	markReturned = "pledge-child: returned"
)

// Exit codes of the child besides 0 (fn returned and t did not fail).
const (
	exitFailed = 1 // t failed, or fn called t.FailNow or runtime.Goexit
	exitPanic  = 2 // fn panicked (a -test.timeout also exits 2)
	exitSetup  = 3 // hiding /proc or Confine failed
)

// defaultTimeout bounds a child when the test has no earlier deadline.
const defaultTimeout = 2 * time.Minute

// Result is how a confined child ended.
type Result struct {
	Promises string
	Status   syscall.WaitStatus
	Output   string // the child's standard output and error
	Confined bool   // the child got as far as confining itself
	Returned bool   // fn returned, t did not fail, and the child exited 0
	TimedOut bool   // the parent killed the child after its time ran out
}

// Violated reports whether the kernel killed the confined child for a
// system call its promises do not allow: SIGSYS from
// SECCOMP_RET_KILL_PROCESS, the counterpart of pledge's uncatchable
// SIGABRT.
func (r Result) Violated() bool {
	return r.Confined && !r.TimedOut && r.Status.Signaled() && r.Status.Signal() == syscall.SIGSYS
}

// Succeeded reports whether the child ran fn to its end under its promises
// and exited 0.
func (r Result) Succeeded() bool {
	return r.Confined && r.Returned && !r.TimedOut && r.Status.Exited() && r.Status.ExitStatus() == 0
}

func (r Result) String() string {
	var how string
	switch {
	case r.TimedOut:
		how = "ran out of time and was killed"
	case r.Violated():
		how = "killed by SIGSYS: a system call its promises do not allow"
	case r.Succeeded():
		how = "succeeded"
	case !r.Confined && r.Status.Exited() && r.Status.ExitStatus() == exitSetup:
		how = "could not confine itself"
	case !r.Confined:
		how = fmt.Sprintf("ended before confining itself (%s)", status(r.Status))
	case r.Status.Exited() && r.Status.ExitStatus() == exitFailed:
		how = "failed"
	default:
		how = status(r.Status)
	}
	s := fmt.Sprintf("confined child (promises %q) %s", r.Promises, how)
	if r.Output != "" {
		s += "\n--- child output ---\n" + strings.TrimRight(r.Output, "\n")
	}
	return s
}

func status(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exited with status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("killed by signal %v", ws.Signal())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

// RunConfined runs fn under promises in a helper process: the test binary
// again, running only t's test (-test.run), in a mount namespace of its
// own where /proc is an empty tmpfs, confined with Confine(promises) on
// every thread. It waits for the child and returns how it ended; the
// caller decides what it expected (Result.Succeeded, Result.Violated).
//
// In the child, RunConfined does not return: it confines the process,
// calls fn with the child's t and exits (0 if fn returned and t did not
// fail). Everything the test does before RunConfined therefore runs in
// both processes: guard what only the parent must do with IsChild, and
// share files through SharedDir. fn cannot clean up: it must not use
// t.TempDir or t.Cleanup. One test runs one child: use a subtest each.
//
// It skips the test where the simulation cannot run (no seccomp, another
// architecture, no permission to create a mount namespace: it needs root,
// as CI has).
func RunConfined(t *testing.T, promises string, fn func(t *testing.T)) Result {
	t.Helper()
	if os.Getenv(envTest) == t.Name() {
		runChild(t, fn) // does not return
	}
	if _, err := parse(promises); err != nil {
		t.Fatal(err)
	}
	// The child runs the test from its start, so it would run the first
	// RunConfined of t again, not this one.
	if _, twice := ran.LoadOrStore(t, true); twice {
		t.Fatal("pledge: RunConfined called twice in one test: give each child a subtest")
	}
	t.Cleanup(func() { ran.Delete(t) })
	if err := Supported(); err != nil {
		t.Skipf("%v (the simulation needs linux/amd64 or linux/arm64 with seccomp)", err)
	}
	timeout := defaultTimeout
	if d, ok := t.Deadline(); ok {
		if left := time.Until(d) - 10*time.Second; left < timeout {
			timeout = max(left, time.Second)
		}
	}
	// The child's own -test.timeout fires first and prints its goroutines;
	// the parent's kill is for a child that cannot even do that.
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+runPattern(t.Name()),
		"-test.v=true", "-test.count=1", "-test.timeout="+timeout.String())
	token := strconv.FormatUint(rand.Uint64(), 16)
	cmd.Env = append(childEnv(t, promises), envToken+"="+token)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if cmd.ProcessState == nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("pledge: cannot start a child in a mount namespace of its own (needs root, as in CI): %v", err)
		}
		t.Fatalf("pledge: starting the confined child: %v", err)
	}
	r := Result{
		Promises: promises,
		Status:   cmd.ProcessState.Sys().(syscall.WaitStatus),
		Output:   out.String(),
		TimedOut: ctx.Err() != nil,
	}
	r.Confined = strings.Contains(r.Output, markConfined+" "+token+"\n")
	r.Returned = strings.Contains(r.Output, "\n"+markReturned+" "+token+"\n")
	t.Logf("confined child (promises %q): %s", promises, status(r.Status))
	return r
}

// IsChild reports whether this process is the confined child of t's test:
// code before RunConfined runs in the parent and in the child, and parent
// work (setting up files, starting other processes) must not run twice.
//
// That holds for the tests around it too: a test whose subtests call
// RunConfined runs again, up to the subtest, in each of their children, so
// IsChild(t) is true there for t and every test t is inside.
func IsChild(t *testing.T) bool {
	name := os.Getenv(envTest)
	return name != "" && (name == t.Name() || strings.HasPrefix(name, t.Name()+"/"))
}

// ran holds the tests that called RunConfined, in the parent.
var ran sync.Map // *testing.T → true

// sharedDirs holds SharedDir's directory per test, in the parent.
var sharedDirs sync.Map // t.Name() → string

// SharedDir returns a directory that t's test and its confined child both
// see: in the parent a t.TempDir (the same one on every call with this t),
// in the child the parent's. Call it with the t given to RunConfined, or
// with a test around it (for a directory its subtests' children share),
// before RunConfined. The child never makes a directory of its own: it
// exits without running cleanups, so one would be left behind.
func SharedDir(t *testing.T) string {
	t.Helper()
	if IsChild(t) {
		d := os.Getenv(envDir)
		if d == "" {
			t.Fatal("pledge: SharedDir in the child, but the parent called it after RunConfined or with another t")
		}
		return d
	}
	if d, ok := sharedDirs.Load(t.Name()); ok {
		return d.(string)
	}
	d := t.TempDir()
	sharedDirs.Store(t.Name(), d)
	t.Cleanup(func() { sharedDirs.Delete(t.Name()) })
	return d
}

// sharedDir returns the SharedDir of t or of the nearest test around it.
func sharedDir(t *testing.T) (string, bool) {
	for name := t.Name(); ; {
		if d, ok := sharedDirs.Load(name); ok {
			return d.(string), true
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return "", false
		}
		name = name[:i]
	}
}

// runChild is RunConfined in the child.
func runChild(t *testing.T, fn func(t *testing.T)) {
	promises := os.Getenv(envPromises)
	setup := func(err error) {
		fmt.Printf("pledge-child: %v\n", err)
		os.Exit(exitSetup)
	}
	if err := hideProc(); err != nil {
		setup(err)
	}
	// A violation's SIGSYS would dump core: not wanted in a test.
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		setup(fmt.Errorf("setrlimit RLIMIT_CORE: %w", err))
	}
	if err := Confine(promises); err != nil {
		setup(err)
	}
	token := os.Getenv(envToken)
	fmt.Printf("%s %s\n", markConfined, token)
	returned := false
	defer func() {
		// Runs when fn returns, panics, or calls t.FailNow (Goexit). It
		// exits at once: the testing package's own ending (cleanups,
		// removing t.TempDir) would need promises fn was not given.
		if v := recover(); v != nil {
			fmt.Printf("pledge-child: panic: %v\n%s", v, debug.Stack())
			os.Exit(exitPanic)
		}
		if !returned || t.Failed() {
			os.Exit(exitFailed)
		}
		fmt.Println(markReturned, token)
		os.Exit(0)
	}()
	fn(t)
	returned = true
}

// runPattern is the -test.run pattern that selects exactly the test called
// name (subtests included: one anchored element per level).
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// childEnv is the parent's environment for the child of t.
func childEnv(t *testing.T, promises string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case envTest, envPromises, envDir, envToken, "GORACE", // set here
			"GOCOVERDIR": // coverage files written at exit need promises fn lacks
			continue
		}
		env = append(env, kv)
	}
	env = append(env, envTest+"="+t.Name(), envPromises+"="+promises,
		// A -race child otherwise sleeps a second at exit.
		"GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	if d, ok := sharedDir(t); ok {
		env = append(env, envDir+"="+d)
	}
	return env
}
