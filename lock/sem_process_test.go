package lock_test

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
)

// Layout of the semaphore tests' mapping (the 4096-byte test mapping).
const (
	smSem        = 0    // the semaphore (SemaphoreSize(smUnits) bytes)
	smUnits      = 3    // units
	smMask       = 256  // atomic: bit i set while incarnation i counts itself as a holder
	smViolations = 264  // atomic: times more than smUnits bits were set at once
	smRecovered  = 272  // atomic: ErrOwnerDead seen
	smStop       = 280  // the parent sets it to end the workers
	smRounds     = 288  // atomic: Acquire+Release rounds done
	smTimeouts   = 296  // atomic: Acquires that ran into their 10 s deadline
	smDead       = 304  // atomic: bit i set once incarnation i was killed and reaped
	smPhases     = 320  // per worker slot: what it was doing (phase*)
	smPIDs       = 1024 // per incarnation: its PID (64 of them)
	smMaxInc     = 64
)

func init() {
	roles["sem-worker"] = semWorker
}

// semWorker acquires a unit, marks itself in the in-use mask (checking
// that at most smUnits are marked), holds the unit for a moment, unmarks
// itself and releases it, until the parent says stop. A unit recovered
// from a dead incarnation is counted, and that incarnation's mark (if it
// died marked) is taken away: its unit is ours now.
func semWorker(b []byte, _ *lock.Mutex) error {
	inc, slot := envInt("SEM_INC"), envInt("SEM_SLOT")
	var opts []lock.Option
	if os.Getenv("LOCKTEST_BACKOFF") != "" {
		opts = append(opts, lock.WithBackoff())
	}
	s, err := lock.NewSemaphore(b[smSem:], smUnits, append(opts, lock.WithStaleAfter(5*time.Millisecond))...)
	if err != nil {
		return err
	}
	atomic.StoreUint64(u64(b, smPIDs+8*inc), uint64(os.Getpid()))
	phase := u64(b, smPhases+8*slot)
	mask := u64(b, smMask)
	bit := uint64(1) << inc
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 7))
	atomic.StoreUint64(phase, phaseOther)
	for atomic.LoadUint64(u64(b, smStop)) == 0 {
		atomic.StoreUint64(phase, phaseLocking)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.AcquireContext(ctx)
		cancel()
		var od *lock.OwnerDeadError
		switch {
		case err == nil:
		case errors.As(err, &od):
			atomic.AddUint64(u64(b, smRecovered), 1)
			for i := range smMaxInc {
				if i != inc && atomic.LoadUint64(u64(b, smPIDs+8*i)) == uint64(od.PID) {
					atomic.AndUint64(mask, ^(uint64(1) << i))
				}
			}
		case errors.Is(err, context.DeadlineExceeded):
			atomic.AddUint64(u64(b, smTimeouts), 1)
			return err
		default:
			return err
		}
		// Marks of the dead do not count: a worker killed after it
		// recovered a unit and before it took away the mark of the dead
		// holder it recovered from leaves that mark for ever.
		if old := atomic.OrUint64(mask, bit); bits.OnesCount64((old|bit)&^atomic.LoadUint64(u64(b, smDead))) > smUnits {
			atomic.AddUint64(u64(b, smViolations), 1)
		}
		atomic.StoreUint64(phase, phaseHolding)
		time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
		atomic.StoreUint64(phase, phaseOther)
		atomic.AndUint64(mask, ^bit)
		if err := s.Release(); err != nil {
			return err
		}
		atomic.AddUint64(u64(b, smRounds), 1)
	}
	return nil
}

// TestSemaphore_KillLoop: 5 worker processes share 3 units while the
// parent kills -9 workers and starts new ones; never more than 3 workers
// count themselves holders at once, every unit a dead worker held is
// recovered, no Acquire runs into its 10 s deadline, and at the end every
// unit can be taken. "holding": only workers that hold their unit are
// killed (stopped first, to read what they do), so each death leaves
// exactly one unit, reported exactly once. "anywhere": workers die at any
// point (mid-Acquire, mid-Release too); then a unit is reported at most
// once and none is lost.
func TestSemaphore_KillLoop(t *testing.T) {
	for _, mode := range []struct {
		name    string
		holding bool
		backoff bool
	}{{"holding", true, false}, {"anywhere", false, false}, {"holding/backoff", true, true}} {
		t.Run(mode.name, func(t *testing.T) {
			semKillLoop(t, mode.holding, mode.backoff)
		})
	}
}

func semKillLoop(t *testing.T, holdingOnly, backoff bool) {
	const P = 5
	path, b := newMapping(t)
	kills := killRounds(30, 1000)
	var env []string
	if backoff {
		env = append(env, "LOCKTEST_BACKOFF=1")
	}
	// Incarnation numbers index the in-use mask; one is reused once its
	// process is dead and no unit shows its PID (its unit was recovered;
	// a mark it left is cleared then).
	free := make([]int, 0, smMaxInc)
	for i := smMaxInc - 1; i >= 0; i-- {
		free = append(free, i)
	}
	var dead []int // incarnations dead but maybe still marked or holding
	sem := newSem(t, b[smSem:], smUnits)
	holds := func(pid uint64) int {
		n := 0
		for _, h := range sem.Holders() {
			if uint64(h.Tag) == pid {
				n++
			}
		}
		return n
	}
	recycle := func() {
		kept := dead[:0]
		for _, i := range dead {
			pid := atomic.LoadUint64(u64(b, smPIDs+8*i))
			if holds(pid) == 0 {
				free = append(free, i)
			} else {
				kept = append(kept, i)
			}
		}
		dead = kept
	}
	ps, incs := make([]*proc, P), make([]int, P)
	spawned := map[int]bool{} // every worker's PID
	spawn := func(slot int) {
		recycle()
		if len(free) == 0 {
			t.Fatalf("no incarnation number free (dead, not yet recovered: %v)", dead)
		}
		inc := free[len(free)-1]
		free = free[:len(free)-1]
		atomic.StoreUint64(u64(b, smPIDs+8*inc), 0)
		atomic.AndUint64(u64(b, smMask), ^(uint64(1) << inc))
		atomic.AndUint64(u64(b, smDead), ^(uint64(1) << inc))
		atomic.StoreUint64(u64(b, smPhases+8*slot), phaseStarting)
		incs[slot] = inc
		ps[slot] = start(t, "sem-worker", path, append(env, "SEM_INC="+strconv.Itoa(inc), "SEM_SLOT="+strconv.Itoa(slot))...)
		spawned[ps[slot].cmd.Process.Pid] = true
	}
	for i := range P {
		spawn(i)
	}
	expected := 0 // units held by workers when they died
	var tally killTally
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	for k, tries := 0, 0; k < kills; tries++ {
		if tries > 100*kills {
			t.Fatalf("found a worker holding its unit only %d times in %d tries", k, tries)
		}
		time.Sleep(time.Duration(rng.IntN(1000)) * time.Microsecond)
		slot := rng.IntN(P)
		p, phase := ps[slot], u64(b, smPhases+8*slot)
		if atomic.LoadUint64(phase) == phaseStarting {
			continue
		}
		// Stopped, it can neither change phase nor release a unit under
		// our eyes, and being alive, nobody recovers its units: they can
		// be counted now (once it is dead, survivors recover them at once).
		p.cmd.Process.Signal(syscall.SIGSTOP)
		if !stopped(p.cmd.Process.Pid) || (holdingOnly && atomic.LoadUint64(phase) != phaseHolding) {
			p.cmd.Process.Signal(syscall.SIGCONT)
			continue
		}
		pid := atomic.LoadUint64(u64(b, smPIDs+8*incs[slot]))
		held := holds(pid)
		if holdingOnly && held != 1 {
			t.Fatalf("worker %d stopped holding its unit, but %d units show it: %+v", pid, held, sem.Holders())
		}
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		atomic.OrUint64(u64(b, smDead), uint64(1)<<incs[slot])
		expected += held
		tally[atomic.LoadUint64(phase)]++
		dead = append(dead, incs[slot])
		k++
		spawn(slot)
	}
	atomic.StoreUint64(u64(b, smStop), 1)
	finishWithin(t, time.Minute, ps, func() string {
		return fmt.Sprintf("holders %+v, mask %#x", sem.Holders(), atomic.LoadUint64(u64(b, smMask)))
	})
	// Every unit can be taken now: free, or recovered from the dead.
	parent := 0
	for range smUnits {
		ok, err := sem.TryAcquire()
		if !ok {
			t.Fatalf("a unit is lost: holders %+v (%s)", sem.Holders(), describeHolders(sem.Holders(), spawned))
		}
		if errors.Is(err, lock.ErrOwnerDead) {
			parent++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	recovered := int(atomic.LoadUint64(u64(b, smRecovered))) + parent
	t.Logf("%d rounds; kills: %v; units held at death %d, recovered %d (%d by the parent at the end)",
		atomic.LoadUint64(u64(b, smRounds)), &tally, expected, recovered, parent)
	if v := atomic.LoadUint64(u64(b, smViolations)); v != 0 {
		t.Fatalf("more than %d holders at once, %d times", smUnits, v)
	}
	if to := atomic.LoadUint64(u64(b, smTimeouts)); to != 0 {
		t.Fatalf("%d Acquires ran into their deadline", to)
	}
	if holdingOnly && recovered != expected {
		t.Fatalf("recovered %d units, want exactly the %d the dead held", recovered, expected)
	}
	if recovered > expected {
		t.Fatalf("recovered %d units, but the dead held only %d: a unit was reported twice", recovered, expected)
	}
}

// stopped waits until every thread of pid is stopped (SIGSTOP delivered
// to the whole thread group: /proc/PID/stat alone shows only the main
// thread, while a goroutine may still run on another).
func stopped(pid int) bool {
	for range 1000 {
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/stat")
		all := len(tasks) > 0
		for _, f := range tasks {
			if state, err := statState(f); err != nil || (state != 'T' && state != 't') {
				all = false
				break
			}
		}
		if all {
			return true
		}
		time.Sleep(50 * time.Microsecond)
	}
	return false
}

// statState reads the state letter of a /proc stat file.
func statState(path string) (byte, error) {
	s, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for i := len(s) - 1; i > 0; i-- {
		if s[i] == ')' && i+2 < len(s) {
			return s[i+2], nil
		}
	}
	return 0, fmt.Errorf("bad stat %q", s)
}

// describeHolders says, for each holder's PID, whether the test started a
// worker with it and what runs with it now: a unit that shows a PID since
// taken by an unrelated process is not recovered while that process lives
// (zero stamps: the documented limit of 32-bit words and of systems
// without start times), which tells that apart from a recovery bug.
func describeHolders(hs []lock.Holder, spawned map[int]bool) string {
	var out []string
	for _, h := range hs {
		pid := int(h.Tag)
		d := fmt.Sprintf("%d: ", pid)
		if spawned[pid] {
			d += "a worker of this test; "
		} else {
			d += "no worker of this test; "
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
			d += "now " + strings.TrimSpace(string(comm))
		} else if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			d += "alive"
		} else {
			d += "no such process"
		}
		out = append(out, d)
	}
	return strings.Join(out, "; ")
}
