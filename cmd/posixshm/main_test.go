package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"posixshm":  func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
		"pidgone":   func() { os.Exit(pidgoneMain()) },
		"startkill": func() { os.Exit(startkillMain()) },
		"shmhold":   func() { os.Exit(shmholdMain()) },
		"plainhold": func() { os.Exit(plainholdMain()) },
		"shmchurn":  func() { os.Exit(shmchurnMain()) },
		"gcours":    func() { os.Exit(gcoursMain()) },
	})
}

var scriptSeq atomic.Int64

// devShm reports whether this build's convention is Linux's /dev/shm (not
// so in the openbsdsim build, whose convention is OpenBSD's).
func devShm() bool {
	p, err := posixshm.Path("/x")
	return err == nil && p == "/dev/shm/x"
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// UNIQUE keeps names in the system's directory (/dev/shm)
			// apart across scripts and concurrent test runs.
			env.Setenv("UNIQUE", fmt.Sprintf("%d-%d", os.Getpid(), scriptSeq.Add(1)))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"age":         cmdAge,
			"olderthan":   cmdOlderThan,
			"shmpath":     cmdShmPath,
			"sempath":     cmdSemPath,
			"semwaiters":  cmdSemWaiters,
			"waitfile":    cmdWaitFile,
			"waitfresh":   cmdWaitFresh,
			"waitwaiter":  cmdWaitWaiter,
			"waitnotify":  cmdWaitNotify,
			"sigpid":      cmdSigPid,
			"jsonhas":     cmdJSONHas,
			"cleanupshm":  cmdCleanupShm,
			"sleep":       cmdSleep,
			"chown":       cmdChown,
			"pidsgone":    cmdPidsGone,
			"demoworkers": cmdDemoWorkers,
			"waitnoshm":   cmdWaitNoShm,
			"ageseg":      cmdAgeSeg,
			"gcentry":     cmdGcEntry,
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "procreadable":
				ok, _ := procReadable()
				return ok, nil
			case "devshm":
				return devShm(), nil
			case "openbsdlayout": // this build's convention is OpenBSD's /tmp/<sha256>.shm
				return posixshm.System() == posixshm.OpenBSD, nil
			case "proc": // gc can tell from /proc who uses a plain object
				return procRoot != "", nil
			case "privatetmpfs": // unshare(1) can mount a tmpfs that only its child sees
				return privateTmpfs(), nil
			case "pdeathsig": // children die with a killed parent, and /proc shows it
				return parentDeathSignal && runtime.GOOS == "linux", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		RequireExplicitExec: true,
	})
}

// age DAYS FILE... sets the files' access and modification times DAYS
// (a decimal number) days into the past.
func cmdAge(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: age DAYS FILE...")
	}
	d, err := strconv.ParseFloat(args[0], 64)
	ts.Check(err)
	t := time.Now().Add(-time.Duration(d * 24 * float64(time.Hour)))
	for _, f := range args[1:] {
		ts.Check(os.Chtimes(ts.MkAbs(f), t, t))
	}
}

// olderthan DAYS FILE succeeds if FILE was last accessed at least DAYS days ago.
func cmdOlderThan(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: olderthan DAYS FILE")
	}
	d, err := strconv.ParseFloat(args[0], 64)
	ts.Check(err)
	fa, err := lstatFacts(ts.MkAbs(args[1]))
	ts.Check(err)
	idle := time.Since(fa.Atime)
	old := idle >= time.Duration(d*24*float64(time.Hour))
	if old == neg {
		ts.Fatalf("%s last accessed %v ago (want older than %s days: %v)", args[1], idle.Round(time.Second), args[0], !neg)
	}
}

// shmpath VAR DIR NAME sets VAR to the file of NAME in OpenBSD's layout at DIR.
func cmdShmPath(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: shmpath VAR DIR NAME")
	}
	p, err := posixshm.Dir(args[1]).Path(args[2])
	ts.Check(err)
	ts.Setenv(args[0], p)
}

// waitfile FILE waits up to 10s for FILE to exist.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	waitFor(ts, "file "+args[0], func() bool {
		_, err := os.Stat(ts.MkAbs(args[0]))
		return err == nil
	})
}

// waitwaiter DIR NAME waits up to 10s for the lock word of segment NAME
// (OpenBSD's layout in DIR) to show a waiter: a "posixshm lock" started
// in the background is then inside its wait, its signal handling set up.
func cmdWaitWaiter(ts *testscript.TestScript, neg bool, args []string) {
	// A waiter that sleeps in futex(2) sets the waiters bit at once; one
	// that polls (no futex: OpenBSD, the openbsdsim build) sets the
	// starving bit after lock's 1 ms, as a sleeper does too.
	waitHeader(ts, neg, args, "waitwaiter", "a waiter on ", func(h segment.Header) bool {
		return lock.Waiters(h.LockWord) || lock.Starving(h.LockWord)
	})
}

// sigpid SIGNAL PIDFILE sends SIGNAL (TERM, HUP, INT, QUIT) to the process
// whose PID is in PIDFILE; testscript's own kill knows only INT and KILL.
func cmdSigPid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sigpid SIGNAL PIDFILE")
	}
	sig, ok := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "HUP": syscall.SIGHUP,
		"INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL}[args[0]]
	if !ok {
		ts.Fatalf("unknown signal %s", args[0])
	}
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	ts.Check(err)
	ts.Check(syscall.Kill(pid, sig))
}

// waitfresh FILE waits up to 10s for FILE to have been accessed within a minute.
func cmdWaitFresh(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfresh FILE")
	}
	waitFor(ts, "a fresh access time on "+args[0], func() bool {
		fa, err := lstatFacts(ts.MkAbs(args[0]))
		return err == nil && time.Since(fa.Atime) < time.Minute
	})
}

func waitFor(ts *testscript.TestScript, what string, ok func() bool) {
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			ts.Fatalf("timed out waiting for %s", what)
		}
	}
}

// jsonhas [PATH=VALUE]... checks that stdout is one JSON value (or several,
// indexed as an array) and that each dotted PATH (object keys, array
// indexes) holds VALUE as fmt.Sprint prints it, or exists at all for a PATH
// without "=".
func cmdJSONHas(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! jsonhas")
	}
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile("stdout")))
	dec.UseNumber()
	var v any
	ts.Check(dec.Decode(&v))
	if dec.More() {
		// Several values (stat's, one per NAME): indexed as an array.
		vs := []any{v}
		for dec.More() {
			ts.Check(dec.Decode(&v))
			vs = append(vs, v)
		}
		v = vs
	}
	for _, a := range args {
		path, want, hasWant := strings.Cut(a, "=")
		got, ok := jsonAt(v, path)
		if !ok {
			ts.Fatalf("JSON has no %s", path)
		}
		if hasWant && fmt.Sprint(got) != want {
			ts.Fatalf("JSON %s = %v, want %s", path, got, want)
		}
	}
}

func jsonAt(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// sleep DURATION pauses the script (go-internal's testscript has no sleep).
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}

// chown UID FILE gives FILE to the user UID (root only: see [root]).
func cmdChown(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: chown UID FILE")
	}
	uid, err := strconv.Atoi(args[0])
	ts.Check(err)
	ts.Check(os.Lchown(ts.MkAbs(args[1]), uid, -1))
}

// cleanupshm NAME removes this system's object NAME when the script ends.
func cmdCleanupShm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: cleanupshm NAME")
	}
	ts.Defer(func() { posixshm.Unlink(args[0]) })
}

// procReadable reports whether gc can read every process's /proc entries
// here, as gc --plain needs to remove anything, and if not, why (a sandbox
// may run a process that even root cannot read: then gc keeps every
// plain object).
func procReadable() (bool, string) {
	pu := scanProc(procRoot, map[fileKey]bool{{}: true}, os.Getpid(), os.Geteuid())
	switch {
	case pu.unknown != "":
		return false, pu.unknown
	case len(pu.unreadable) > 0:
		return false, pu.unreadableText()
	}
	return true, ""
}

// privateTmpfs reports whether this process may mount a tmpfs in a mount
// namespace of its own (unshare(1), as root on Linux), where no other
// process sees it: tests that need a nearly full file system use one.
var privateTmpfs = sync.OnceValue(func() bool {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		return false
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return false
	}
	dir, err := os.MkdirTemp("", "posixshm-tmpfs-probe-")
	if err != nil {
		return false
	}
	defer os.Remove(dir)
	return exec.Command(unshare, "--mount", "--propagation", "private", "mount", "-t", "tmpfs", "-o", "size=1m", "posixshm-probe", dir).Run() == nil
})
