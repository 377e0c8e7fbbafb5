package segment_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// helperIn starts a helper process running mode, its command line
// prefixed with wrap (unshare, strace), and returns it with its stdout.
func helperIn(t *testing.T, wrap []string, d posixshm.Dir, mode string, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	h := segHelper(t, d, mode, args...)
	cmd := exec.Command(wrap[0], append(wrap[1:], h.Args...)...)
	cmd.Env, cmd.Stderr = h.Env, h.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, bufio.NewReader(out)
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("helper said %q, %v", line, err)
	}
	return strings.TrimSuffix(line, "\n")
}

// newPIDNamespace is the prefix that runs a command as PID 1 of a PID
// namespace of its own, killed with SIGKILL when unshare(1) is; the test
// is skipped where that is not possible.
func newPIDNamespace(t *testing.T) []string {
	t.Helper()
	wrap := []string{"unshare", "--pid", "--fork", "--kill-child"}
	if out, err := exec.Command(wrap[0], append(wrap[1:], "true")...).CombinedOutput(); err != nil {
		t.Skipf("cannot make a PID namespace (needs root or user namespaces): %v: %s", err, out)
	}
	return wrap
}

// TestLock_HolderInOtherPIDNamespace: a holder in another PID namespace
// (PID 1 there, which names init here) is alive to waiters here as long as
// it runs, however long they wait, and recovered with ErrOwnerDead once
// killed: liveness comes from its record lock, not from its PID.
func TestLock_HolderInOtherPIDNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	wrap := newPIDNamespace(t)
	d := segDir(t)
	s := mustCreate(t, d, "ns", 8, &segment.Options{StaleAfter: time.Millisecond})
	cmd, out := helperIn(t, wrap, d, "hold", "ns")
	if line := readLine(t, out); line != "locked 1" {
		t.Fatalf("holder said %q, want it to be PID 1 of its namespace", line)
	}
	info, err := s.Stat()
	if err != nil || info.LockHolder != 1 || len(info.Users.PIDs) != 2 {
		t.Fatalf("Stat: %+v, %v; want the lock held by PID 1 and two attachments", info, err)
	}
	for range 20 {
		if ok, err := s.TryLock(); ok || err != nil {
			t.Fatalf("TryLock while the namespaced holder runs: %v, %v", ok, err)
		}
	}
	// 100 stale checks, each asking the kernel.
	if err := lockFor(s, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while the namespaced holder runs: %v, want a timeout", err)
	}
	cmd.Process.Signal(syscall.SIGKILL) // unshare; --kill-child kills the holder
	cmd.Wait()
	err = s.Lock()
	var od *lock.OwnerDeadError
	if !errors.As(err, &od) || od.PID != 1 || od.Holder.Tag != 2 {
		t.Fatalf("Lock after the namespaced holder was killed: %v (%+v), want ErrOwnerDead from PID 1 in slot 1", err, od)
	}
	if err := s.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// lockFor tries to Lock s for d.
func lockFor(s *segment.Segment, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := s.LockContext(ctx)
	if err == nil || errors.Is(err, lock.ErrOwnerDead) {
		s.Unlock()
	}
	return err
}

// TestLock_PIDReuse: a holder dies, and a new process with the same PID
// (each the PID 1 of a fresh PID namespace, as restarted containers are)
// recovers the lock with ErrOwnerDead, by Lock or TryLock, instead of
// being locked out by a PID that looks like its own.
func TestLock_PIDReuse(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	wrap := newPIDNamespace(t)
	d := segDir(t)
	mustCreate(t, d, "reuse", 8, nil).Close() // exists, nobody attached
	for _, mode := range []string{"hold", "wait"} {
		first, out := helperIn(t, wrap, d, "hold", "reuse")
		if line := readLine(t, out); line != "locked 1" {
			t.Fatalf("first holder said %q", line)
		}
		first.Process.Signal(syscall.SIGKILL)
		first.Wait()
		heir, out := helperIn(t, wrap, d, mode, "reuse")
		line := readLine(t, out)
		if mode == "wait" {
			if line != "waiting" {
				t.Fatalf("heir said %q", line)
			}
			line = readLine(t, out)
			if !strings.HasPrefix(line, "ownerdead 1 ") {
				t.Fatalf("the heir of PID 1: %q, want ownerdead from PID 1", line)
			}
			continue
		}
		// "hold" took the lock over (its Lock accepts ErrOwnerDead); the
		// lock is now held by the heir, whom we must not take for dead.
		if line != "locked 1" {
			t.Fatalf("the heir of PID 1 said %q", line)
		}
		s, err := segment.Open("reuse", in(d, &segment.Options{StaleAfter: time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := s.TryLock(); ok || err != nil {
			t.Fatalf("TryLock while the heir holds the lock: %v, %v", ok, err)
		}
		s.Close()
		heir.Process.Signal(syscall.SIGKILL)
		heir.Wait()
	}
}

// TestLock_StaleCheckMakesNoKill runs a waiter whose stale check runs
// about a hundred times and then recovers a killed holder's lock, under
// strace(1): the waiter makes no kill(2) call but the control it makes
// on purpose (so that an strace that traced nothing cannot pass).
func TestLock_StaleCheckMakesNoKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("no strace(1) (apt-get install strace)")
	}
	if out, err := exec.Command("strace", "-f", "-o", "/dev/null", "true").CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here: %v: %s", err, out)
	}
	d := segDir(t)
	mustCreate(t, d, "nokill", 8, nil)
	holder := segHold(t, d, "nokill")
	trace := filepath.Join(t.TempDir(), "trace")
	wrap := []string{"strace", "-f", "-qq", "-o", trace, "-e", "trace=kill,tkill,tgkill,pidfd_send_signal"}
	waiter, out := helperIn(t, wrap, d, "wait", "nokill")
	if line := readLine(t, out); line != "waiting" {
		t.Fatalf("waiter said %q", line)
	}
	time.Sleep(300 * time.Millisecond) // stale checks every 2 ms
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	if line := readLine(t, out); !strings.HasPrefix(line, "ownerdead "+strconv.Itoa(holder.Process.Pid)+" ") {
		t.Fatalf("waiter said %q, want ownerdead from %d", line, holder.Process.Pid)
	}
	if err := waiter.Wait(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trace:\n%s", raw)
	// Lines: "PID kill(PID, SIG) = 0". tgkill is the Go runtime
	// preempting its own threads (SIGURG).
	kills := regexp.MustCompile(`(?m)^\d+ +(kill|pidfd_send_signal)\((.*)\)`).FindAllStringSubmatch(string(raw), -1)
	if len(kills) != 1 || !strings.HasSuffix(kills[0][2], ", 0") {
		t.Fatalf("kill(2) calls of the waiter, want only its control: %q\ntrace:\n%s", kills, raw)
	}
	if m := regexp.MustCompile(`(?m)^\d+ +t(g)?kill\(.*SIG(TERM|KILL|QUIT|ABRT|0)\b`).FindString(string(raw)); m != "" {
		t.Fatalf("signal sent by the waiter: %s", m)
	}
}

// lockTag is the Tag of the lock word's holder, as ReadHeader sees it.
func lockTag(t *testing.T, path string) int { return lock.HolderPID(readHeader(t, path).LockWord) }

// TestLock_OverflowHolder: a holder without a slot is recovered once
// killed, and its overflow byte is not reused while the lock names it.
func TestLock_OverflowHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	s := mustCreate(t, d, "ovf", 8, &segment.Options{Slots: 1, StaleAfter: time.Millisecond})
	first := segHold(t, d, "ovf") // no slot left: overflow byte 0
	const overflowTag0 = segment.MaxSlots + 1
	if tag := lockTag(t, s.Path()); tag != overflowTag0 {
		t.Fatalf("lock held by tag %d, want %d (overflow attachment 0)", tag, overflowTag0)
	}
	if info, err := s.Stat(); err != nil || info.LockHolder != 0 || info.Users.Overflow != 1 {
		t.Fatalf("Stat: %+v, %v; want an overflow holder (PID unknown)", info, err)
	}
	if ok, err := s.TryLock(); ok || err != nil {
		t.Fatalf("TryLock while the overflow holder lives: %v, %v", ok, err)
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	// The next one must leave byte 0 to the recovery: it takes byte 1,
	// finds its predecessor dead and takes the lock over.
	second := segHold(t, d, "ovf")
	if tag := lockTag(t, s.Path()); tag != overflowTag0+1 {
		t.Fatalf("lock held by tag %d, want %d: the dead holder's overflow byte was reused", tag, overflowTag0+1)
	}
	second.Process.Signal(syscall.SIGKILL)
	second.Wait()
	err := s.Lock()
	var od *lock.OwnerDeadError
	if !errors.As(err, &od) || od.Holder.Tag != overflowTag0+1 {
		t.Fatalf("Lock after the overflow holder died: %v (%+v)", err, od)
	}
	s.Unlock()
}

// TestLock_DeadHolderSlotKept: the slot of a holder that died holding the
// lock is not given to a newcomer until a waiter has recovered the lock;
// then it is, with the next generation.
func TestLock_DeadHolderSlotKept(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	s := mustCreate(t, d, "kept", 8, &segment.Options{Slots: 2, StaleAfter: time.Millisecond})
	holder := segHold(t, d, "kept")
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	late := startServer(t, d, 0, false, false)
	late.do("openx kept")
	h := readHeader(t, s.Path())
	if h.Overflow != 1 || h.Table[1] != (segment.Slot{PID: holder.Process.Pid, Attached: true, Generation: 1}) {
		t.Fatalf("newcomer took the dead holder's slot: overflow %d, slot 1 %+v", h.Overflow, h.Table[1])
	}
	err := s.Lock()
	var od *lock.OwnerDeadError
	if !errors.As(err, &od) || od.PID != holder.Process.Pid || od.Holder != (lock.Holder{Tag: 2, Stamp: 1}) {
		t.Fatalf("Lock: %v (%+v), want ErrOwnerDead from pid %d, slot 1, generation 1", err, od, holder.Process.Pid)
	}
	s.Unlock()
	again := startServer(t, d, 0, false, false)
	again.do("openx kept")
	if h := readHeader(t, s.Path()); h.Table[1] != (segment.Slot{PID: again.pid, Attached: true, Generation: 2}) {
		t.Fatalf("slot 1 after the recovery: %+v", h.Table[1])
	}
}

// TestLock_CloseWhileHolding: a process that closes its segment holding
// the lock has detached; another recovers the lock with ErrOwnerDead
// without waiting for it to exit.
func TestLock_CloseWhileHolding(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	s := mustCreate(t, d, "cwh", 8, &segment.Options{StaleAfter: time.Millisecond})
	p := startServer(t, d, 0, false, false)
	p.do("openx cwh")
	p.do("lock")
	if ok, err := s.TryLock(); ok || err != nil {
		t.Fatalf("TryLock while attached holder lives: %v, %v", ok, err)
	}
	p.do("close")
	if err := s.Lock(); !errors.Is(err, lock.ErrOwnerDead) {
		t.Fatalf("Lock after the holder detached: %v, want ErrOwnerDead", err)
	}
	s.Unlock()
	p.do("fileusers " + s.Path()) // alive all along
}

// TestSegment_LockAllocs: Lock+Unlock of a segment allocates nothing.
func TestSegment_LockAllocs(t *testing.T) {
	s := mustCreate(t, segDir(t), "allocs", 8, nil)
	if n := testing.AllocsPerRun(1000, func() {
		s.Lock()
		s.Unlock()
	}); n != 0 {
		t.Fatalf("Lock+Unlock: %v allocations, want 0", n)
	}
}
