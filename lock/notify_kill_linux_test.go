//go:build linux && !openbsdsim

package lock_test

// Deterministic kills around the notify word, on Linux: a waiter killed
// while asleep in futex(2) (seen in /proc/PID/task/*/syscall), a notifier
// killed by seccomp(2) exactly as it enters its FUTEX_WAKE (after it moved
// the sequence: the wake-up is lost), and a notifier that makes no futex
// system call at all when nobody waits (seccomp kills it if it does).
// Not in the openbsdsim build, which like OpenBSD has no futex: its
// waiters poll, and nothing here would be exercised.

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
	"golang.org/x/sys/unix"
)

const offNotify = 64 // the notify word of these tests, in the 4096-byte test mapping

func init() {
	// cond-sleeper: lock, say where the notify word is, wait on it.
	roles["cond-sleeper"] = func(b []byte, _ *lock.Mutex) error {
		mu := lock.New64(u64(b, offWord))
		c := lock.NewCond(u32(b, offNotify), lock.WithStaleAfter(time.Hour))
		if err := mu.Lock(); err != nil {
			return err
		}
		fmt.Printf("addr=%#x\n", uintptr(unsafe.Pointer(u32(b, offNotify))))
		err := c.Wait(mu)
		fmt.Printf("returned %v\n", err)
		return nil
	}
	// notify-killed-in-wake: arm seccomp to kill us on FUTEX_WAKE of the
	// notify word, say so, Signal when the parent says.
	roles["notify-killed-in-wake"] = func(b []byte, _ *lock.Mutex) error {
		c := lock.NewCond(u32(b, offNotify))
		if err := killOnFutex([]uint32{futexWake}, uintptr(unsafe.Pointer(u32(b, offNotify)))); err != nil {
			fmt.Printf("seccomp: %v\n", err)
			return nil
		}
		fmt.Println("armed")
		for atomic.LoadUint64(u64(b, offCmd)) == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		c.Signal()
		fmt.Println("survived")
		return nil
	}
	// notify-idle: arm seccomp to kill us on any shared FUTEX_WAIT or
	// FUTEX_WAKE, plain or with a bitset (the Go runtime's own are
	// private), notify 10^5 times with nobody waiting, then once with the
	// waiters bit set.
	roles["notify-idle"] = func(b []byte, _ *lock.Mutex) error {
		w := u32(b, offNotify)
		c := lock.NewCond(w)
		if err := killOnFutex([]uint32{futexWait, futexWake, futexWaitBitset, futexWakeBitset}, 0); err != nil {
			fmt.Printf("seccomp: %v\n", err)
			return nil
		}
		for i := range 100000 {
			atomic.StoreUint32(w, uint32(i)&(1<<31-1))
			c.Signal()
			c.Broadcast()
		}
		fmt.Println("idle: no futex call")
		atomic.OrUint32(w, notifyWaitersBit)
		c.Signal()
		fmt.Println("survived")
		return nil
	}
}

const (
	futexWait       = 0  // FUTEX_WAIT, shared
	futexWake       = 1  // FUTEX_WAKE, shared
	futexWaitBitset = 9  // FUTEX_WAIT_BITSET, shared
	futexWakeBitset = 10 // FUTEX_WAKE_BITSET, shared
)

// killOnFutex installs a seccomp filter on every thread of this process
// that kills the process (SIGSYS) when it calls futex(2) with one of ops
// (shared, not PRIVATE) on addr (0: any address).
func killOnFutex(ops []uint32, addr uintptr) error {
	var arch uint32
	switch runtime.GOARCH {
	case "amd64":
		arch = unix.AUDIT_ARCH_X86_64
	case "arm64":
		arch = unix.AUDIT_ARCH_AARCH64
	default:
		return fmt.Errorf("no seccomp test filter for %s", runtime.GOARCH)
	}
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	// seccomp_data: nr at 0, arch at 4, args[i] at 16+8*i (low half
	// first: little endian). Jumps name their targets: "" is the next
	// instruction.
	type insn struct {
		code   uint16
		k      uint32
		jt, jf string
		label  string
	}
	prog := []insn{
		{code: ld, k: 4}, {code: jeq, k: arch, jf: "allow"},
		{code: ld, k: 0}, {code: jeq, k: unix.SYS_FUTEX, jf: "allow"},
		{code: ld, k: 24},
	}
	for i, op := range ops {
		in := insn{code: jeq, k: op, jt: "match"}
		if i == len(ops)-1 {
			in.jf = "allow"
		}
		prog = append(prog, in)
	}
	prog = append(prog, insn{code: ld, k: 16, label: "match"})
	if addr != 0 {
		prog = append(prog, insn{code: jeq, k: uint32(addr), jf: "allow"}, insn{code: ld, k: 20},
			insn{code: jeq, k: uint32(uint64(addr) >> 32), jf: "allow"})
	}
	prog = append(prog, insn{code: ret, k: unix.SECCOMP_RET_KILL_PROCESS},
		insn{code: ret, k: unix.SECCOMP_RET_ALLOW, label: "allow"})
	at := map[string]int{}
	for i, in := range prog {
		if in.label != "" {
			at[in.label] = i
		}
	}
	off := func(i int, target string) uint8 {
		if target == "" {
			return 0
		}
		return uint8(at[target] - i - 1)
	}
	var f []unix.SockFilter
	for i, in := range prog {
		f = append(f, unix.SockFilter{Code: in.code, K: in.k, Jt: off(i, in.jt), Jf: off(i, in.jf)})
	}
	fprog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return e
	}
	return nil
}

// diedBy reports whether the process was killed by sig.
func diedBy(p *proc, sig syscall.Signal) bool {
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// armed reads the child's first line: "armed", or why seccomp is not
// available (the test then skips).
func armed(t *testing.T, p *proc, want string) {
	t.Helper()
	s := strings.TrimSpace(p.line(t))
	if strings.HasPrefix(s, "seccomp:") {
		t.Skipf("cannot install a seccomp filter here (%s)", s)
	}
	if s != want {
		t.Fatalf("child said %q, want %q", s, want)
	}
}

// TestCond_NoSystemCallWithoutWaiters: 10^5 Signals and Broadcasts with
// nobody waiting make no futex(2) call (the child would be killed by
// seccomp); the control, one Signal with the waiters bit set, is killed.
func TestCond_NoSystemCallWithoutWaiters(t *testing.T) {
	path, _ := newMapping(t)
	p := start(t, "notify-idle", path)
	armed(t, p, "idle: no futex call")
	rest, _ := p.out.ReadString('\n')
	p.cmd.Wait()
	if rest != "" || !diedBy(p, syscall.SIGSYS) {
		t.Fatalf("control: a Signal with the waiters bit set made no futex(2) call (child said %q, %v)", rest, p.cmd.ProcessState)
	}
}

// TestCond_KillNotifierInWake: a notifier that moved the sequence is
// killed as it enters FUTEX_WAKE, so the sleeper's wake-up is lost; the
// sleeper returns within its recheck interval all the same, and the next
// notification works. In a loop.
func TestCond_KillNotifierInWake(t *testing.T) {
	path, b := newMapping(t)
	w := u32(b, offNotify)
	c := lock.NewCond(w, lock.WithStaleAfter(20*time.Millisecond))
	for round := range killRounds(5, 100) {
		atomic.StoreUint64(u64(b, offCmd), 0)
		p := start(t, "notify-killed-in-wake", path)
		armed(t, p, "armed")
		errc := make(chan error, 1)
		go func() { errc <- c.Wait(nil) }()
		waitAsleep(t, w)
		seq0, _ := lock.SplitNotify(atomic.LoadUint32(w))
		atomic.StoreUint64(u64(b, offCmd), 1)
		rest, _ := p.out.ReadString('\n')
		p.cmd.Wait()
		if !diedBy(p, syscall.SIGSYS) {
			t.Fatalf("round %d: notifier not killed in its FUTEX_WAKE (said %q, %v)", round, rest, p.cmd.ProcessState)
		}
		seq, waiters := lock.SplitNotify(atomic.LoadUint32(w))
		if seq != seq0+1 {
			t.Fatalf("round %d: sequence %d → %d; the notifier died before moving it", round, seq0, seq)
		}
		// The wake-up is lost; the sleeper finds the moved sequence by
		// itself (20 ms here; 10 s is a hang).
		returned(t, errc, fmt.Sprintf("round %d: sleeper, after its notifier was killed in FUTEX_WAKE (waiters bit %v)", round, waiters))
		// Nothing is left behind: the next notification goes through.
		go func() { errc <- c.Wait(nil) }()
		waitAsleep(t, w)
		lock.NewCond(w, lock.WithStaleAfter(time.Hour)).Signal()
		returned(t, errc, fmt.Sprintf("round %d: a waiter notified after the kill", round))
	}
}

// TestCond_KillWaiterAsleep: a waiter killed while asleep in futex(2) on
// the notify word leaves the waiters bit and nothing else: a notifier
// returns at once and clears it, the lock is free, and other waiters are
// still woken. In a loop.
func TestCond_KillWaiterAsleep(t *testing.T) {
	path, b := newMapping(t)
	w := u32(b, offNotify)
	c := lock.NewCond(w, lock.WithStaleAfter(time.Hour))
	for round := range killRounds(5, 100) {
		p := start(t, "cond-sleeper", path)
		addr := strings.TrimPrefix(strings.TrimSpace(p.line(t)), "addr=")
		asleepInFutex(t, p.cmd.Process.Pid, addr)
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		p.cmd.Wait()
		v := atomic.LoadUint32(w)
		if _, waiters := lock.SplitNotify(v); !waiters {
			t.Fatalf("round %d: word %#x without the waiters bit after the sleeper's death", round, v)
		}
		if lw := atomic.LoadUint64(u64(b, offWord)); lw != 0 {
			t.Fatalf("round %d: lock word %#x: the sleeper died holding the lock", round, lw)
		}
		within(t, 10*time.Second, "Signal after a sleeper's death", c.Signal)
		if seq, waiters := lock.SplitNotify(atomic.LoadUint32(w)); waiters || seq != (v+1)&(1<<31-1) {
			t.Fatalf("round %d: word %#x after Signal; want sequence moved, no waiters bit", round, atomic.LoadUint32(w))
		}
		errc := make(chan error, 1)
		go func() { errc <- c.Wait(nil) }()
		waitAsleep(t, w)
		c.Signal()
		returned(t, errc, fmt.Sprintf("round %d: a live waiter notified after the kill", round))
	}
}

// asleepInFutex waits until a thread of pid is in futex(2) on the address
// addr (hex, as the child printed it), per /proc/PID/task/*/syscall.
func asleepInFutex(t *testing.T, pid int, addr string) {
	t.Helper()
	want, err := strconv.ParseUint(strings.TrimPrefix(addr, "0x"), 16, 64)
	if err != nil {
		t.Fatalf("bad address %q", addr)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
		for _, f := range tasks {
			s, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			fs := strings.Fields(string(s))
			if len(fs) < 2 || fs[0] != strconv.Itoa(unix.SYS_FUTEX) {
				continue
			}
			if a, err := strconv.ParseUint(strings.TrimPrefix(fs[1], "0x"), 16, 64); err == nil && a == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d never slept in futex(2) on %s", pid, addr)
		}
	}
}
