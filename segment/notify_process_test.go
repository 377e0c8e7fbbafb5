package segment_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// A bounded queue in a segment's data region, for the producer/consumer
// tests. Everything but the counters changes only under the segment's
// lock; the counters are atomic.
const (
	qHead      = 0   // index of the oldest item
	qCount     = 8   // items in the queue
	qNext      = 16  // next item to produce, 0..N
	qDone      = 24  // 1 once every item was produced
	qTimeouts  = 32  // waits ended by their 10 s deadline
	qWaits     = 40  // waits
	qSpurious  = 48  // waits after which the condition still did not hold
	qRecovered = 56  // ErrOwnerDead seen: the lock taken over from a dead victim
	qPhases    = 64  // one word per process slot (15): what it is doing
	qStop      = 184 // set by the parent: produce no more
	qQueue     = 192 // the items, 8 bytes each, capacity ≤ 8
	qSeen      = 256 // one byte per item: consumed how often
)

// Phases a process records in its slot's word, read by the parent once
// the process is dead.
const (
	phaseOther = iota
	phaseWaiting
	phaseNotifying
	phaseStarting // set by the parent before it starts the process
	phases
)

var phaseNames = [phases]string{"other", "waiting", "notifying", "starting"}

const notifyHelperEnv = "POSIXSHM_NOTIFY_HELPER"

// notifyHelper starts the test binary as a helper process in role, on the
// queue segment /q in d; env are PC_* settings.
func notifyHelper(t *testing.T, d posixshm.Dir, role string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestNotify_HelperProcess$", "-test.timeout=5m")
	cmd.Env = append(append(os.Environ(), notifyHelperEnv+"="+role, "PC_DIR="+string(d)), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestNotify_HelperProcess is not a test: it is the helper process.
func TestNotify_HelperProcess(t *testing.T) {
	role, ok := os.LookupEnv(notifyHelperEnv)
	if !ok {
		t.Skip("helper process only")
	}
	stale, _ := time.ParseDuration(os.Getenv("PC_STALE"))
	s, err := segment.Open("/q", in(posixshm.Dir(os.Getenv("PC_DIR")), &segment.Options{StaleAfter: stale}))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	n, _ := strconv.ParseUint(os.Getenv("PC_N"), 10, 64)
	capacity, _ := strconv.ParseUint(os.Getenv("PC_CAP"), 10, 64)
	slot, _ := strconv.Atoi(os.Getenv("PC_SLOT"))
	q := &queue{s: s, b: s.Bytes(), n: n, cap: capacity}
	q.phase = q.word(qPhases + 8*slot)
	atomic.StoreUint64(q.phase, phaseOther)
	switch role {
	case "producer":
		q.produce()
	case "consumer":
		q.consume()
	case "sleeper":
		q.sleep()
	case "notifier":
		q.notify()
	default:
		fmt.Fprintln(os.Stderr, "helper: unknown role", role)
		os.Exit(2)
	}
	os.Exit(0)
}

type queue struct {
	s      *segment.Segment
	b      []byte
	n, cap uint64
	phase  *uint64
}

func (q *queue) word(off int) *uint64 { return (*uint64)(unsafe.Pointer(&q.b[off])) }

// lock takes the segment's lock; a lock taken over from a dead victim
// needs no repair here (victims change nothing), it is only counted.
func (q *queue) lock() {
	q.check(q.s.Lock())
}

func (q *queue) check(err error) {
	switch {
	case err == nil:
	case errors.Is(err, lock.ErrOwnerDead):
		atomic.AddUint64(q.word(qRecovered), 1)
	default:
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
}

// wait waits for a notification under the lock, at most 10 s: a wait that
// reaches its deadline means a lost wake-up, and is counted.
func (q *queue) wait() {
	atomic.AddUint64(q.word(qWaits), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	atomic.StoreUint64(q.phase, phaseWaiting)
	err := q.s.WaitContext(ctx)
	atomic.StoreUint64(q.phase, phaseOther)
	if errors.Is(err, context.DeadlineExceeded) {
		atomic.AddUint64(q.word(qTimeouts), 1)
		err = nil
	}
	q.check(err)
}

// produce puts items 0..n-1 into the queue, waiting while it is full, or
// fewer if the parent says stop. One
// notify word serves both ends, so a notification wakes every waiter
// (NotifyAll): Notify could wake another consumer instead of the one
// party that can act. It notifies only when waiters may be waiting for
// this change: consumers when the queue was empty.
func (q *queue) produce() {
	for {
		q.lock()
		for *q.word(qCount) == q.cap {
			q.wait()
		}
		next := *q.word(qNext)
		if atomic.LoadUint64(q.word(qStop)) != 0 {
			*q.word(qDone) = 1
			q.s.Unlock()
			q.s.NotifyAll()
			return
		}
		*q.word(qQueue + 8*int((*q.word(qHead)+*q.word(qCount))%q.cap)) = next
		*q.word(qCount)++
		*q.word(qNext) = next + 1
		wasEmpty := *q.word(qCount) == 1
		last := next+1 == q.n
		if last {
			*q.word(qDone) = 1
		}
		q.s.Unlock()
		if wasEmpty || last {
			q.s.NotifyAll()
		}
		if last {
			return
		}
	}
}

// consume takes items until the queue is empty and every item was
// produced, and counts each item it takes in its byte.
func (q *queue) consume() {
	for {
		q.lock()
		waited := false
		for *q.word(qCount) == 0 && *q.word(qDone) == 0 {
			if waited {
				atomic.AddUint64(q.word(qSpurious), 1)
			}
			q.wait()
			waited = true
		}
		if *q.word(qCount) == 0 {
			q.s.Unlock()
			return
		}
		head := *q.word(qHead)
		item := *q.word(qQueue + 8*int(head))
		q.b[qSeen+int(item)]++
		*q.word(qHead) = (head + 1) % q.cap
		*q.word(qCount)--
		wasFull := *q.word(qCount) == q.cap-1
		q.s.Unlock()
		if wasFull {
			q.s.NotifyAll()
		}
	}
}

// sleep is a victim: it waits under the lock over and over and changes
// nothing, until it is killed.
func (q *queue) sleep() {
	for {
		q.lock()
		q.wait()
		q.s.Unlock()
	}
}

// notify is a victim: bursts of notifications until it is killed.
func (q *queue) notify() {
	for {
		atomic.StoreUint64(q.phase, phaseNotifying)
		for range 1000 {
			q.s.Notify()
			q.s.NotifyAll()
		}
		atomic.StoreUint64(q.phase, phaseOther)
		time.Sleep(50 * time.Microsecond)
	}
}

// newQueue creates the queue segment /q in a fresh directory for n items.
func newQueue(t *testing.T, n int) (posixshm.Dir, *segment.Segment) {
	t.Helper()
	d := segDir(t)
	return d, mustCreate(t, d, "/q", qSeen+n, nil)
}

// checkQueue asserts that the n items produced were each consumed exactly
// once, that the queue is empty and that no wait ran into its deadline.
func checkQueue(t *testing.T, s *segment.Segment, n int) {
	t.Helper()
	q := &queue{b: s.Bytes()}
	if *q.word(qNext) != uint64(n) {
		t.Fatalf("%d items produced, want %d", *q.word(qNext), n)
	}
	bad := 0
	for i, c := range q.b[qSeen : qSeen+n] {
		if c != 1 {
			if bad < 5 {
				t.Errorf("item %d consumed %d times", i, c)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d items not consumed exactly once", bad, n)
	}
	if *q.word(qCount) != 0 || *q.word(qDone) != 1 {
		t.Fatalf("queue: count %d, next %d, done %d", *q.word(qCount), *q.word(qNext), *q.word(qDone))
	}
	if to := atomic.LoadUint64(q.word(qTimeouts)); to != 0 {
		t.Fatalf("%d waits ended by their 10 s deadline: a wake-up was lost", to)
	}
}

// finish waits for the processes to exit with status 0, failing the test
// after d (a hang: d is far longer than the work takes) with state.
func finish(t *testing.T, d time.Duration, cmds []*exec.Cmd, state func() string) {
	t.Helper()
	done := make(chan error, len(cmds))
	for _, c := range cmds {
		go func() { done <- c.Wait() }()
	}
	deadline := time.After(d)
	for range cmds {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("a process failed: %v (%s)", err, state())
			}
		case <-deadline:
			for _, c := range cmds {
				c.Process.Kill()
			}
			t.Fatalf("processes still running after %v: %s", d, state())
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func queueState(s *segment.Segment, n int) func() string {
	q := &queue{b: s.Bytes()}
	return func() string {
		return fmt.Sprintf("next %d of %d, count %d, done %d", atomic.LoadUint64(q.word(qNext)), n,
			atomic.LoadUint64(q.word(qCount)), atomic.LoadUint64(q.word(qDone)))
	}
}

// TestSegment_ProducerConsumer: 1 producer and 3 consumer processes pass
// 10^5 items through a queue of 8 in a segment, waiting under its lock;
// every item is consumed exactly once, and no wait runs into its 10 s
// deadline. The recheck interval (Options.StaleAfter) is an hour, so a
// lost wake-up would show as a timeout, not as a 100 ms delay.
func TestSegment_ProducerConsumer(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const n, consumers = 100000, 3
	d, s := newQueue(t, n)
	env := []string{"PC_N=" + strconv.Itoa(n), "PC_CAP=8", "PC_STALE=1h"}
	t0 := time.Now()
	cmds := []*exec.Cmd{notifyHelper(t, d, "producer", append(env, "PC_SLOT=0")...)}
	for i := range consumers {
		cmds = append(cmds, notifyHelper(t, d, "consumer", append(env, "PC_SLOT="+strconv.Itoa(i+1))...))
	}
	finish(t, 2*time.Minute, cmds, queueState(s, n))
	checkQueue(t, s, n)
	q := &queue{b: s.Bytes()}
	info, _ := s.Stat()
	t.Logf("%d items in %v: %d waits, %d spurious returns, %d timeouts, %d notifications",
		n, time.Since(t0).Round(time.Millisecond), *q.word(qWaits), *q.word(qSpurious), *q.word(qTimeouts), info.Notifications)
}

// TestSegment_KillWaitersAndNotifiers: the queue's producer and consumers
// work while the parent kills -9, at random moments, victims that share
// the segment's lock and notify word: processes waiting under the lock
// over and over (killed asleep, or just woken and holding the lock), and a
// process notifying in bursts (killed between the count and the wake-up,
// or in futex(2)). The workers still pass every item exactly once, no
// wait of theirs reaches its deadline, and kills land both in waits and in
// notifications. POSIXSHM_STRESS=1 kills 500 times instead of 30.
func TestSegment_KillWaitersAndNotifiers(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	kills := 30
	if os.Getenv("POSIXSHM_STRESS") != "" {
		kills = 500
	}
	const n = 4 << 20 // more than they make while the kills go on: the parent stops them
	d, s := newQueue(t, n)
	q := &queue{b: s.Bytes()}
	// A victim killed holding the lock is recovered after 5 ms; waiters
	// look at the notify word every 5 ms.
	env := []string{"PC_N=" + strconv.Itoa(n), "PC_CAP=4", "PC_STALE=5ms"}
	spawn := func(role string, slot int) *exec.Cmd {
		atomic.StoreUint64(q.word(qPhases+8*slot), phaseStarting)
		return notifyHelper(t, d, role, append(env, "PC_SLOT="+strconv.Itoa(slot))...)
	}
	workers := []*exec.Cmd{spawn("producer", 0), spawn("consumer", 1), spawn("consumer", 2)}
	roles := []string{"sleeper", "sleeper", "notifier"}
	victims := make([]*exec.Cmd, len(roles))
	for i, r := range roles {
		victims[i] = spawn(r, 3+i)
	}
	defer func() {
		for _, v := range victims {
			v.Process.Kill()
			v.Wait()
		}
	}()

	var tally [phases]int
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	for k := 0; k < kills && atomic.LoadUint64(q.word(qNext)) < n; {
		time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		i := rng.IntN(len(victims))
		phase := q.word(qPhases + 8*(3+i))
		if atomic.LoadUint64(phase) == phaseStarting {
			continue
		}
		// Aim: a sleeper as it waits, the notifier as it notifies (the
		// phase may have moved on by the time the signal lands: the
		// tally reads it after the death).
		aim := uint64(phaseWaiting)
		if roles[i] == "notifier" {
			aim = phaseNotifying
		}
		for t0 := time.Now(); atomic.LoadUint64(phase) != aim && time.Since(t0) < 100*time.Millisecond; {
			time.Sleep(10 * time.Microsecond)
		}
		victims[i].Process.Signal(syscall.SIGKILL)
		victims[i].Wait()
		if ws, ok := victims[i].ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("victim %s: %v", roles[i], victims[i].ProcessState)
		}
		tally[atomic.LoadUint64(phase)]++
		k++
		victims[i] = spawn(roles[i], 3+i)
	}
	produced := atomic.LoadUint64(q.word(qNext))
	// The victims still running, the workers pass what is in the queue.
	atomic.StoreUint64(q.word(qStop), 1)
	finish(t, 2*time.Minute, workers, queueState(s, n))
	checkQueue(t, s, int(atomic.LoadUint64(q.word(qNext))))
	var kinds []string
	for p, c := range tally {
		kinds = append(kinds, fmt.Sprintf("%s %d", phaseNames[p], c))
	}
	t.Logf("%d kills (%s); %d items produced meanwhile; %d lock recoveries; %d waits, %d spurious",
		kills, strings.Join(kinds, ", "), produced, *q.word(qRecovered), *q.word(qWaits), *q.word(qSpurious))
	if tally[phaseWaiting] == 0 || tally[phaseNotifying] == 0 {
		t.Errorf("kills: %v; none while waiting or none while notifying: the test did not test that", tally)
	}
	if produced == 0 {
		t.Errorf("nothing was produced while victims were killed")
	}
}
