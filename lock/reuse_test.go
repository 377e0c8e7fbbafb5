package lock_test

// PID reuse and PID namespaces, with real processes. Reuse is forced as
// root: a process that is PID 1 of a fresh PID namespace (unshare(1)) has
// the same PID every time, and writing /proc/sys/kernel/ns_last_pid makes
// the next process get a chosen PID. Without the privilege the tests skip.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
)

const offCmd = 112 // holdflag: the parent sets it to make the holder unlock and exit

func init() {
	roles["idle"] = func(b []byte, mu *lock.Mutex) error {
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return nil
	}
	// heir: what a process finds in a word whose holder had its PID.
	roles["heir"] = func(b []byte, mu *lock.Mutex) error {
		before := atomic.LoadUint64(u64(b, offWord))
		errU := mu.Unlock()
		unchanged := atomic.LoadUint64(u64(b, offWord)) == before
		ok, errT := mu.TryLock()
		fmt.Printf("pid=%d unlock=%s unchanged=%v trylock=%v,%s\n", os.Getpid(), outcome(errU), unchanged, ok, outcome(errT))
		if ok {
			return mu.Unlock()
		}
		return nil
	}
	roles["heirlock"] = func(b []byte, mu *lock.Mutex) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := mu.LockContext(ctx)
		fmt.Printf("pid=%d lock=%s\n", os.Getpid(), outcome(err))
		if err == nil || errors.Is(err, lock.ErrOwnerDead) {
			return mu.Unlock()
		}
		return nil
	}
	// lockonflag: say ready, lock as soon as the parent says, say so.
	roles["lockonflag"] = func(b []byte, mu *lock.Mutex) error {
		fmt.Println("ready")
		for atomic.LoadUint64(u64(b, offCmd)) == 0 {
		}
		if err := mu.Lock(); err != nil {
			return err
		}
		fmt.Println("locked")
		time.Sleep(time.Hour)
		return nil
	}
	// holdflag: lock, say so, unlock and exit when the parent says.
	roles["holdflag"] = func(b []byte, mu *lock.Mutex) error {
		if err := mu.Lock(); err != nil {
			return err
		}
		fmt.Println("ready")
		for atomic.LoadUint64(u64(b, offCmd)) == 0 {
			time.Sleep(time.Millisecond)
		}
		return mu.Unlock()
	}
	// waiter: wait for the lock up to LOCKTEST_TIMEOUT, say how it ended.
	roles["waiter"] = func(b []byte, mu *lock.Mutex) error {
		d, _ := time.ParseDuration(os.Getenv("LOCKTEST_TIMEOUT"))
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		fmt.Println("waiting")
		err := mu.LockContext(ctx)
		fmt.Printf("lock=%s\n", outcome(err))
		return nil
	}
}

// outcome names an error of the lock for a child's report.
func outcome(err error) string {
	var od *lock.OwnerDeadError
	switch {
	case err == nil:
		return "nil"
	case errors.As(err, &od):
		return "ownerdead:" + strconv.Itoa(od.PID)
	case errors.Is(err, lock.ErrNotHeld):
		return "notheld"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	}
	return "error:" + err.Error()
}

// widths are the child environments of the two word widths.
var widths = map[string][]string{"32": nil, "64": {"LOCKTEST_WIDE=1"}}

// needRoot skips unless PIDs can be forced here.
func needRoot(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("PID reuse is forced through Linux's PID namespaces and ns_last_pid")
	}
	if os.Geteuid() != 0 {
		t.Skip("forcing PID reuse needs root (unshare --pid, /proc/sys/kernel/ns_last_pid)")
	}
}

// inNamespace runs a child role as PID 1 of a fresh PID namespace and
// returns its output.
func inNamespace(t *testing.T, role, path string, env ...string) string {
	t.Helper()
	needNamespaces(t)
	return startWith(t, []string{"unshare", "--pid", "--fork", "--kill-child", "--"}, role, path, env...).finish(t)
}

// needNamespaces skips unless unshare(1) can make PID namespaces here.
func needNamespaces(t *testing.T) {
	t.Helper()
	needRoot(t)
	if err := exec.Command("unshare", "--pid", "--fork", "true").Run(); err != nil {
		t.Skipf("unshare --pid --fork does not work here (%v): cannot force PID reuse", err)
	}
}

// TestReuse_HeirInNamespace: a service restarted in a fresh PID namespace
// gets the PID its dead predecessor had (here 1). The predecessor died
// holding the lock; the heir must recover it with ErrOwnerDead, and its
// Unlock before locking must say ErrNotHeld and leave the word alone. On
// main the heir's TryLock said (false, nil) forever, its Lock waited
// forever, and its Unlock released the dead holder's lock.
func TestReuse_HeirInNamespace(t *testing.T) {
	for name, env := range widths {
		t.Run(name, func(t *testing.T) {
			path, b := newMapping(t)
			inNamespace(t, "exitholder", path, env...)
			if s, _ := lock.Split64(atomic.LoadUint64(u64(b, offWord))); lock.HolderPID(s) != 1 {
				t.Fatalf("word %#x after the first life, want held by pid 1", s)
			}
			// The stamp is a start time in clock ticks (usually 10 ms):
			// the heir must start at a later tick to differ.
			time.Sleep(30 * time.Millisecond)
			got := inNamespace(t, "heir", path, env...)
			if want := "pid=1 unlock=notheld unchanged=true trylock=true,ownerdead:1\n"; got != want {
				t.Errorf("heir said %q, want %q", got, want)
			}
			// The same with Lock (the word is free now: lock it again).
			inNamespace(t, "exitholder", path, env...)
			time.Sleep(30 * time.Millisecond)
			if got, want := inNamespace(t, "heirlock", path, env...), "pid=1 lock=ownerdead:1\n"; got != want {
				t.Errorf("heir said %q, want %q", got, want)
			}
			if w := atomic.LoadUint64(u64(b, offWord)); w != 0 {
				t.Errorf("word %#x at the end, want free", w)
			}
		})
	}
}

// TestNamespace_LiveHolderElsewhere pins what the default identity can
// know across PID namespaces: a holder that is PID 1 of a child namespace
// is, seen from here, PID 1 of this namespace, an older process. With a
// 64-bit word its stamp (a start time after that process's) shows that it
// cannot be a reuse of PID 1, so a waiter here must not take the lock over
// while it lives. (A 32-bit word has no such evidence, and the waiter
// would judge PID 1 by kill(2) alone: alive here, so it waits as well;
// either way, a dead holder elsewhere is not recovered from here.)
func TestNamespace_LiveHolderElsewhere(t *testing.T) {
	needNamespaces(t)
	path, b := newMapping(t)
	h := startWith(t, []string{"unshare", "--pid", "--fork", "--kill-child", "--"}, "holder", path, "LOCKTEST_WIDE=1")
	if s := h.line(t); s != "ready\n" {
		t.Fatalf("holder said %q", s)
	}
	mu := lock.New64(u64(b, offWord), lock.WithStaleAfter(5*time.Millisecond))
	if h := mu.Holder(); h.Tag != 1 {
		t.Fatalf("holder %+v, want PID 1 of its namespace", h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := mu.LockContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockContext with a live holder in another PID namespace = %v, want to wait", err)
	}
}

// startAtPID starts a child role whose PID is pid, by writing pid-1 to
// /proc/sys/kernel/ns_last_pid first. Another process or thread may take
// the PID in between: then it tries again, and skips the test if it never
// gets it.
func startAtPID(t *testing.T, pid int, role, path string, env ...string) *proc {
	t.Helper()
	needRoot(t)
	for range 50 {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Skipf("cannot force the next PID: %v", err)
		}
		p := start(t, role, path, env...)
		if p.cmd.Process.Pid == pid {
			return p
		}
		p.cmd.Process.Kill()
		p.cmd.Wait()
		time.Sleep(time.Millisecond)
	}
	t.Skipf("could not get PID %d back for a new process (another process took it)", pid)
	return nil
}

// setWaiters sets the waiters bit of the word, as a waiter announcing
// itself does.
func setWaiters(b []byte) {
	for {
		w := atomic.LoadUint32(u32(b, offWord))
		if atomic.CompareAndSwapUint32(u32(b, offWord), w, w|1<<30) {
			return
		}
	}
}

// TestReuse_NoGuessFromChangedStart: a waiter sees holder H1 (PID P) alive;
// the lock then passes (without the waiter noticing) to a new process H2
// that was given PID P. The waiter's next check finds PID P with another
// start time than before. That is no evidence of a death: H2 holds the
// lock legitimately. On main a waiter without a fingerprint took it for
// one and took the lock over: two holders.
func TestReuse_NoGuessFromChangedStart(t *testing.T) {
	for name, env := range widths {
		t.Run(name, func(t *testing.T) {
			path, b := newMapping(t)
			h1 := start(t, "holder", path, env...)
			h1.line(t)
			p := h1.cmd.Process.Pid
			w := word{wide: name == "64", p: u64(b, offWord)}
			mu := w.mutex(lock.WithStaleAfter(500 * time.Millisecond))
			// Lock, not LockContext: a waiter with a deadline looks at the
			// word every millisecond.
			done := make(chan error, 1)
			go func() { done <- mu.Lock() }()
			// The waiter checks H1 at 0.5 s, then every 0.5 s. After the
			// first check the word passes to H2 through this process (a
			// live holder the waiter leaves alone), never free, so that
			// the waiter cannot simply take it on the way.
			time.Sleep(700 * time.Millisecond)
			w.store(self(w), 0)
			h1.cmd.Process.Kill()
			h1.cmd.Wait()
			h2 := startAtPID(t, p, "lockonflag", path, env...)
			h2.line(t)
			w.store(lock.Holder{}, 0)
			atomic.StoreUint64(u64(b, offCmd), 1)
			if s := h2.line(t); s != "locked\n" {
				t.Fatalf("H2 said %q", s)
			}
			select {
			case err := <-done:
				t.Fatalf("waiter's Lock = %v while the new holder pid %d lives; want it to keep waiting", err, p)
			case <-time.After(1500 * time.Millisecond): // three more checks
			}
			if h := mu.Holder(); h.Tag != uint32(p) {
				t.Fatalf("holder %+v, want still the new process %d", h, p)
			}
			// Now H2 dies: the waiter recovers the lock from it.
			h2.cmd.Process.Kill()
			h2.cmd.Wait()
			var od *lock.OwnerDeadError
			if err := <-done; !errors.As(err, &od) || od.PID != p {
				t.Fatalf("waiter's Lock after the new holder died = %v, want ErrOwnerDead naming %d", err, p)
			}
			mu.Unlock()
		})
	}
}

// TestReuse_EvidenceNotTorn: the evidence that a holder is dead must not
// be read apart from the word it is about. A waiter (under strace(1), which
// delays its reads of /proc/P/stat by tornDelay) checks holder H1 = PID P while
// it lives; during that read H1 unlocks and exits, H2 is given PID P, takes
// the lock, and a waiter sets the waiters bit, so the word has the value the
// waiter saw before its check. On main the waiter then read H2's fingerprint,
// took it as proof that P was reused and took the lock over from H2: two
// holders. With the stamp in the word the evidence is the word itself.
// delay_enter instead lets the read see H2: then the stale stamp H1 says
// "dead", and the takeover from H1's exact 64-bit value must fail.
func TestReuse_EvidenceNotTorn(t *testing.T) {
	needRoot(t)
	if !hasProcStat() {
		t.Skip("this build reads no /proc (OpenBSD, openbsdsim): there is no read of the holder's evidence to delay")
	}
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace(1) not installed: cannot delay the waiter's /proc read")
	}
	for name, env := range widths {
		if name == "32" && !long() {
			continue // no stamp to tear: only the no-guessing rule, tested above; LOCK_TORTURE runs it
		}
		for _, when := range []string{"delay_exit", "delay_enter"} {
			t.Run(name+"/"+when, func(t *testing.T) { tornRound(t, when, env) })
		}
	}
}

// tornDelay is how long strace(1) holds the waiter in its read of /proc.
const tornDelay = time.Second

func tornRound(t *testing.T, when string, env []string) {
	path, b := newMapping(t)
	h1 := start(t, "holdflag", path, env...)
	h1.line(t)
	p := h1.cmd.Process.Pid
	statPath := "/proc/" + strconv.Itoa(p) + "/stat"
	w := startWith(t, []string{"strace", "-f", "-qq", "-o", "/dev/null", "-P", statPath,
		"-e", "trace=read", "-e", "inject=read:" + when + "=" + strconv.Itoa(int(tornDelay/time.Microsecond))},
		"waiter", path, append(env, "LOCKTEST_STALE=20ms", "LOCKTEST_TIMEOUT=1s")...)
	if s := w.line(t); s != "waiting\n" {
		t.Fatalf("waiter said %q", s)
	}
	time.Sleep(150 * time.Millisecond) // the waiter is in its first, delayed, read
	released := time.Now()
	atomic.StoreUint64(u64(b, offCmd), 1)
	h1.finish(t)
	h2 := startAtPID(t, p, "holder", path, env...)
	h2.line(t)
	setWaiters(b)
	if d := time.Since(released); d > tornDelay-200*time.Millisecond {
		t.Skipf("the new holder took %v to start: the waiter may have found the lock free", d)
	}
	res := strings.TrimSpace(w.finish(t))
	if res != "lock=deadline" {
		t.Fatalf("waiter: %s while the new holder pid %d lives; want it to keep waiting (lock=deadline)", res, p)
	}
	if s := atomic.LoadUint32(u32(b, offWord)); lock.HolderPID(s) != p {
		t.Fatalf("word %#x, want still held by the new process %d", s, p)
	}
}

// long reports whether the long versions of the stress tests run
// (LOCK_TORTURE set, see torture_test.go).
func long() bool { return os.Getenv("LOCK_TORTURE") != "" }
