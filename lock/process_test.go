package lock_test

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
)

// parseResult parses a child's "n=... ownerdead=..." line.
func parseResult(tb testing.TB, s string) (n, dead int) {
	tb.Helper()
	if _, err := fmt.Sscanf(s, "n=%d ownerdead=%d", &n, &dead); err != nil {
		tb.Fatalf("bad child output %q: %v", s, err)
	}
	return n, dead
}

// modes are the child environments of the multi-process tests: both word
// widths, futex(2) and backoff waiting.
func modes() map[string][]string {
	return map[string][]string{
		"32/futex": nil, "32/backoff": {"LOCKTEST_BACKOFF=1"},
		"64/futex": {"LOCKTEST_WIDE=1"}, "64/backoff": {"LOCKTEST_WIDE=1", "LOCKTEST_BACKOFF=1"},
	}
}

func TestProcess_Counter(t *testing.T) {
	const N, M = 4, 20000
	for name, env := range modes() {
		t.Run(name, func(t *testing.T) {
			path, b := newMapping(t)
			var ps []*proc
			for range N {
				ps = append(ps, start(t, "counter", path, append(env, "LOCKTEST_M="+strconv.Itoa(M))...))
			}
			release(t, b, N)
			for _, p := range ps {
				if _, dead := parseResult(t, p.finish(t)); dead != 0 {
					t.Errorf("child saw %d ErrOwnerDead, want 0", dead)
				}
			}
			if got := *u64(b, offCounter); got != N*M {
				t.Fatalf("counter = %d, want %d", got, N*M)
			}
			if w := atomic.LoadUint64(u64(b, offWord)); w != 0 {
				t.Fatalf("lock word = %#x after all unlocked, want 0", w)
			}
		})
	}
}

// killAndRecover has a child take the lock and get killed, then recovers it.
// With waitFirst the parent is already asleep in Lock when the kill lands;
// with reap the child is reaped first (ESRCH), else it is a zombie.
func killAndRecover(t *testing.T, path string, b []byte, wide, waitFirst, reap bool) {
	if !hasProcStat() {
		reap = true // zombies are only recognized through /proc
	}
	var env []string
	var mu *lock.Mutex
	if wide {
		env = append(env, "LOCKTEST_WIDE=1")
		mu = lock.New64(u64(b, offWord))
	} else {
		mu = lock.New(u32(b, offWord))
	}
	p := start(t, "holder", path, env...)
	if s := p.line(t); s != "ready\n" {
		t.Fatalf("child said %q", s)
	}
	if h := mu.Holder(); h.Tag != uint32(p.cmd.Process.Pid) {
		t.Fatalf("Holder = %+v, want child %d", h, p.cmd.Process.Pid)
	}
	t0 := time.Now()
	done := make(chan error, 1)
	if waitFirst {
		go func() { done <- mu.Lock() }()
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if reap {
		p.cmd.Wait()
	}
	if !waitFirst {
		go func() { done <- mu.Lock() }()
	}
	err := <-done
	t.Logf("recovered in %v (waitFirst=%v reap=%v)", time.Since(t0), waitFirst, reap)
	if !errors.Is(err, lock.ErrOwnerDead) {
		t.Fatalf("Lock = %v, want ErrOwnerDead", err)
	}
	var dead *lock.OwnerDeadError
	if !errors.As(err, &dead) || dead.PID != p.cmd.Process.Pid {
		t.Fatalf("Lock = %v, want an *OwnerDeadError naming the child, pid %d", err, p.cmd.Process.Pid)
	}
	if h := mu.Holder(); h.Tag != uint32(os.Getpid()) {
		t.Fatalf("Holder = %+v after recovery, want us (%d)", h, os.Getpid())
	}
	if err := mu.Unlock(); err != nil {
		t.Fatal(err)
	}
	if !reap {
		p.cmd.Wait()
	}
}

func TestKill_HolderRecovered(t *testing.T) {
	for _, wide := range []bool{false, true} {
		path, b := newMapping(t)
		killAndRecover(t, path, b, wide, true, false)
	}
}

func TestKill_Repeated(t *testing.T) {
	path, b := newMapping(t)
	for i := range 24 {
		killAndRecover(t, path, b, i%8 >= 4, i%2 == 0, i%4 >= 2)
		if w := atomic.LoadUint64(u64(b, offWord)); w != 0 {
			t.Fatalf("round %d: word = %#x, want 0", i, w)
		}
	}
}

// TestKill_MidCriticalSection kills a holder halfway through an update
// while survivors contend; exactly one survivor repairs it.
func TestKill_MidCriticalSection(t *testing.T) {
	const S, M, K = 3, 5000, 1000
	for name, env := range modes() {
		t.Run(name, func(t *testing.T) {
			path, b := newMapping(t)
			var ps []*proc
			for range S {
				ps = append(ps, start(t, "survivor", path, append(env, "LOCKTEST_M="+strconv.Itoa(M))...))
			}
			v := start(t, "victim", path, append(env, "LOCKTEST_K="+strconv.Itoa(K))...)
			release(t, b, S+1)
			if s := v.line(t); s != "ready\n" {
				t.Fatalf("victim said %q", s)
			}
			if err := v.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			v.cmd.Wait()
			atomic.StoreUint64(u64(b, offKilled), 1)
			total, deaths := K, 0
			for _, p := range ps {
				n, dead := parseResult(t, p.finish(t))
				total += n
				deaths += dead
			}
			if deaths != 1 {
				t.Errorf("survivors saw ErrOwnerDead %d times, want exactly 1", deaths)
			}
			if got := *u64(b, offCounter); got != uint64(total) {
				t.Fatalf("counter = %d, want %d", got, total)
			}
		})
	}
}

// TestDead_Zombie: the holder exits without unlocking and is not reaped.
func TestDead_Zombie(t *testing.T) {
	if !hasProcStat() {
		t.Skip("zombies are recognized only through /proc (the Linux build; not OpenBSD's, nor openbsdsim)")
	}
	for _, wide := range []bool{false, true} {
		zombie(t, wide)
	}
}

func zombie(t *testing.T, wide bool) {
	path, b := newMapping(t)
	var mu *lock.Mutex
	var env []string
	if wide {
		mu, env = lock.New64(u64(b, offWord)), []string{"LOCKTEST_WIDE=1"}
	} else {
		mu = lock.New(u32(b, offWord))
	}
	p := start(t, "exitholder", path, env...)
	if s := p.line(t); s != "ready\n" {
		t.Fatalf("child said %q", s)
	}
	pid := p.cmd.Process.Pid
	// Wait until it has exited; we do not reap it, so it stays a zombie.
	for deadline := time.Now().Add(10 * time.Second); lock.Alive(pid); {
		if time.Now().After(deadline) {
			t.Fatal("child did not exit")
		}
		time.Sleep(time.Millisecond)
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		t.Logf("holder stat: %.40s", st)
	}
	if err := mu.Lock(); !errors.Is(err, lock.ErrOwnerDead) {
		t.Fatalf("Lock = %v, want ErrOwnerDead", err)
	}
	if h := mu.Holder(); h.Tag != uint32(os.Getpid()) {
		t.Fatalf("Holder = %+v, want %d", h, os.Getpid())
	}
	if err := mu.Unlock(); err != nil {
		t.Fatal(err)
	}
	p.finish(t)
}
