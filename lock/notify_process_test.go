package lock_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
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

// A bounded queue in a shared file mapping, for the producer/consumer
// tests: one lock word, two notify words (not empty, not full), the queue,
// a journal that makes every critical section repairable after a kill -9,
// and one counter per item (consumed how often).
const (
	pcLock     = 0   // lock.New64 word
	pcNotEmpty = 64  // notify word: consumers wait here
	pcNotFull  = 128 // notify word: the producer waits here
	pcHead     = 192 // queue: index of the oldest item
	pcCount    = 200 // queue: items in it
	pcNext     = 208 // next item to produce, 0..N
	pcDone     = 216 // 1 once every item was produced
	pcTimeouts = 224 // atomic: waits ended by their 10 s deadline
	pcDead     = 232 // atomic: ErrOwnerDead seen (lock recovered)
	pcWaits    = 240 // atomic: waits
	pcSpurious = 248 // atomic: waits that returned with nothing to do
	pcJournal  = 256 // valid, head, count, next, item, seen before (8 bytes each)
	pcPhases   = 320 // per process slot: what it was doing (pcPhase*)
	pcQueue    = 512 // cap item numbers (8 bytes each), cap ≤ 64
	pcSeen     = 1024
)

// Phases a process records (for the kill tallies; read after its death).
const (
	phaseOther = iota
	phaseLocking
	phaseCritical
	phaseWaiting
	phaseNotifying
	phaseHolding  // semaphore: holds a unit
	phaseStarting // set by the parent before it starts the process
	phases
)

var phaseNames = [phases]string{"other", "locking", "in the critical section", "waiting", "notifying", "holding a unit", "starting"}

func pcSize(n int) int { return (pcSeen + n + 4095) &^ 4095 }

func init() {
	roles["pc-producer"] = func(_ []byte, _ *lock.Mutex) error { return pcRun(true) }
	roles["pc-consumer"] = func(_ []byte, _ *lock.Mutex) error { return pcRun(false) }
}

// mapAll maps the whole file at path, shared.
func mapAll(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

// newSharedFile creates a zeroed file of size bytes for a test's children
// and maps it.
func newSharedFile(t *testing.T, size int) (string, []byte) {
	t.Helper()
	path, _ := newMapping(t)
	if err := os.Truncate(path, int64(size)); err != nil {
		t.Fatal(err)
	}
	b, err := mapAll(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(b) })
	return path, b
}

// pcQueueState is a process's view of the queue.
type pcQueueState struct {
	b               []byte
	n, cap          uint64
	mu              *lock.Mutex
	notEmpty, full  *lock.Cond
	phase           *uint64
	head, count     *uint64
	next, done      *uint64
	journal, queue  []uint64
	seen            []byte
	timeoutsCounter *uint64
}

func pcOpen(b []byte, n, capacity uint64, slot int, opts []lock.Option) *pcQueueState {
	q := &pcQueueState{b: b, n: n, cap: capacity,
		mu:       lock.New64(u64(b, pcLock)),
		notEmpty: lock.NewCond(u32(b, pcNotEmpty), opts...),
		full:     lock.NewCond(u32(b, pcNotFull), opts...),
		phase:    u64(b, pcPhases+8*slot),
		head:     u64(b, pcHead), count: u64(b, pcCount), next: u64(b, pcNext), done: u64(b, pcDone),
		journal: unsafe.Slice(u64(b, pcJournal), 6),
		queue:   unsafe.Slice(u64(b, pcQueue), capacity),
		seen:    b[pcSeen : pcSeen+int(n)],
	}
	return q
}

func (q *pcQueueState) setPhase(p uint64) { atomic.StoreUint64(q.phase, p) }

// repair undoes a critical section its holder did not finish: the journal
// holds the state before it.
func (q *pcQueueState) repair() {
	atomic.AddUint64(u64(q.b, pcDead), 1)
	j := q.journal
	if atomic.LoadUint64(&j[0]) == 0 {
		return
	}
	*q.head, *q.count, *q.next = j[1], j[2], j[3]
	if j[5] != ^uint64(0) {
		q.seen[j[4]] = byte(j[5])
	}
	atomic.StoreUint64(&j[0], 0)
}

func (q *pcQueueState) lock() {
	q.setPhase(phaseLocking)
	err := q.mu.Lock()
	q.setPhase(phaseCritical)
	if errors.Is(err, lock.ErrOwnerDead) {
		q.repair()
	} else if err != nil {
		panic(err)
	}
}

func (q *pcQueueState) unlock() {
	if err := q.mu.Unlock(); err != nil {
		panic(err)
	}
	q.setPhase(phaseOther)
}

// wait waits on c for at most 10 s (a lost wake-up, not a slow machine,
// would reach that). A wait that lasted until its deadline, whatever it
// returned (the sequence may have moved without a wake-up), was ended by
// the timeout: the process then reports it and exits at once, so that the
// test fails now rather than after many more such waits.
func (q *pcQueueState) wait(c *lock.Cond) {
	atomic.AddUint64(u64(q.b, pcWaits), 1)
	const limit = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	q.setPhase(phaseWaiting)
	t0 := time.Now()
	err := c.WaitContext(ctx, q.mu)
	q.setPhase(phaseCritical)
	if errors.Is(err, context.DeadlineExceeded) || time.Since(t0) >= limit {
		atomic.AddUint64(u64(q.b, pcTimeouts), 1)
		fmt.Fprintf(os.Stderr, "a wait ran into its %v deadline (%v)\n", limit, err)
		os.Exit(3)
	}
	switch {
	case err == nil:
	case errors.Is(err, lock.ErrOwnerDead):
		q.repair()
	default:
		panic(err)
	}
}

func (q *pcQueueState) notify(c *lock.Cond, all bool) {
	q.setPhase(phaseNotifying)
	if all {
		c.Broadcast()
	} else {
		c.Signal()
	}
	q.setPhase(phaseOther)
}

// begin journals the state before a critical section's changes.
func (q *pcQueueState) begin(item uint64, seen uint64) {
	j := q.journal
	j[1], j[2], j[3], j[4], j[5] = *q.head, *q.count, *q.next, item, seen
	atomic.StoreUint64(&j[0], 1)
}

func (q *pcQueueState) commit() { atomic.StoreUint64(&q.journal[0], 0) }

func pcEnv() (n, capacity uint64, slot int, opts []lock.Option) {
	n, _ = strconv.ParseUint(os.Getenv("PC_N"), 10, 64)
	capacity, _ = strconv.ParseUint(os.Getenv("PC_CAP"), 10, 64)
	slot = envInt("PC_SLOT")
	if d, err := time.ParseDuration(os.Getenv("PC_RECHECK")); err == nil {
		opts = append(opts, lock.WithStaleAfter(d))
	}
	if os.Getenv("LOCKTEST_BACKOFF") != "" {
		opts = append(opts, lock.WithBackoff())
	}
	return
}

// pcRun is a producer (items next, next+1, ... until N) or a consumer
// (until the queue is empty and everything was produced).
func pcRun(producer bool) error {
	b, err := mapAll(os.Getenv("LOCKTEST_FILE"))
	if err != nil {
		return err
	}
	n, capacity, slot, opts := pcEnv()
	q := pcOpen(b, n, capacity, slot, opts)
	q.setPhase(phaseOther)
	work := time.Duration(envInt("PC_WORK_US")) * time.Microsecond
	items := 0
	for {
		q.lock()
		if producer {
			for *q.next < q.n && *q.count == q.cap {
				q.wait(q.full)
			}
			if *q.next >= q.n {
				*q.done = 1
				q.unlock()
				q.notify(q.notEmpty, true)
				break
			}
			q.begin(0, ^uint64(0))
			q.queue[(*q.head+*q.count)%q.cap] = *q.next
			*q.count++
			*q.next++
			q.commit()
			q.unlock()
			q.notify(q.notEmpty, false)
		} else {
			waited := false
			for *q.count == 0 && *q.done == 0 {
				if waited {
					atomic.AddUint64(u64(q.b, pcSpurious), 1)
				}
				q.wait(q.notEmpty)
				waited = true
			}
			if *q.count == 0 {
				q.unlock()
				break
			}
			item := q.queue[*q.head]
			q.begin(item, uint64(q.seen[item]))
			q.seen[item]++
			if work > 0 {
				// Work on the item inside the critical section: a
				// kill then often lands with the section half done.
				for t0 := time.Now(); time.Since(t0) < work; {
				}
			}
			*q.head = (*q.head + 1) % q.cap
			*q.count--
			q.commit()
			q.unlock()
			q.notify(q.full, false)
		}
		items++
	}
	fmt.Printf("items=%d\n", items)
	return nil
}

// pcCheck asserts that every item was consumed exactly once and that no
// wait ran into its deadline.
func pcCheck(t *testing.T, b []byte, n int) {
	t.Helper()
	bad := 0
	for i, c := range b[pcSeen : pcSeen+n] {
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
	if *u64(b, pcCount) != 0 || *u64(b, pcNext) != uint64(n) || *u64(b, pcJournal) != 0 {
		t.Fatalf("queue: count %d, next %d, journal valid %d", *u64(b, pcCount), *u64(b, pcNext), *u64(b, pcJournal))
	}
	if to := atomic.LoadUint64(u64(b, pcTimeouts)); to != 0 {
		t.Fatalf("%d waits ended by their 10 s deadline: a wake-up was lost", to)
	}
}

// TestCond_ProducerConsumer: 1 producer and 3 consumer processes pass
// 10^5 items through a queue of 8; every item is consumed exactly once and
// no wait ends by its 10 s deadline. The notify words' recheck interval is
// an hour, so a lost wake-up would show as a timeout. The backoff mode
// (waiters poll) passes fewer items.
func TestCond_ProducerConsumer(t *testing.T) {
	for _, mode := range []struct {
		name string
		n    int
		env  []string
	}{{"futex", 100000, nil}, {"backoff", 10000, []string{"LOCKTEST_BACKOFF=1"}}} {
		t.Run(mode.name, func(t *testing.T) {
			const C = 3
			path, b := newSharedFile(t, pcSize(mode.n))
			env := append(mode.env, "PC_N="+strconv.Itoa(mode.n), "PC_CAP=8", "PC_RECHECK=1h")
			t0 := time.Now()
			ps := []*proc{start(t, "pc-producer", path, append(env, "PC_SLOT=0")...)}
			for i := range C {
				ps = append(ps, start(t, "pc-consumer", path, append(env, "PC_SLOT="+strconv.Itoa(i+1))...))
			}
			finishWithin(t, 2*time.Minute, ps, func() string {
				return fmt.Sprintf("next %d of %d, count %d, done %d", *u64(b, pcNext), mode.n, *u64(b, pcCount), *u64(b, pcDone))
			})
			pcCheck(t, b, mode.n)
			t.Logf("%d items in %v; %d waits, %d spurious returns, %d timeouts",
				mode.n, time.Since(t0), *u64(b, pcWaits), *u64(b, pcSpurious), *u64(b, pcTimeouts))
		})
	}
}

// killTally counts the kills by what the victim was doing.
type killTally [phases]int

func (k *killTally) String() string {
	var s []string
	for p, c := range k {
		if c > 0 {
			s = append(s, fmt.Sprintf("%s %d", phaseNames[p], c))
		}
	}
	return strings.Join(s, ", ")
}

// killEnv: LOCK_TORTURE runs the long versions.
func killRounds(short, long int) int {
	if os.Getenv("LOCK_TORTURE") != "" {
		return long
	}
	return short
}

// TestCond_KillLoop: the producer/consumer queue while the parent kills
// -9 the producer and consumers at random moments (mid-wait, mid-notify,
// holding the lock) and starts new ones: every item is still consumed
// exactly once (the next holder of the lock repairs a half-done section
// from the journal), nobody waits into its deadline, and the run ends.
// Consumers spend a few microseconds on each item under the lock, so that
// some kills land there.
func TestCond_KillLoop(t *testing.T) {
	for _, mode := range []struct {
		name string
		env  []string
	}{{"futex", nil}, {"backoff", []string{"LOCKTEST_BACKOFF=1"}}} {
		t.Run(mode.name, func(t *testing.T) {
			kills := killRounds(40, 1000)
			n := 1000 + 100*kills
			const C = 3
			path, b := newSharedFile(t, pcSize(n))
			env := append(mode.env, "PC_N="+strconv.Itoa(n), "PC_CAP=4", "PC_RECHECK=10ms", "PC_WORK_US=5")
			ps := make([]*proc, C+1)
			spawn := func(slot int) {
				role := "pc-consumer"
				if slot == 0 {
					role = "pc-producer"
				}
				atomic.StoreUint64(u64(b, pcPhases+8*slot), phaseStarting)
				ps[slot] = start(t, role, path, append(env, "PC_SLOT="+strconv.Itoa(slot))...)
			}
			for i := range ps {
				spawn(i)
			}
			tally := killLoop(t, kills, func(rng *rand.Rand) (*proc, *uint64, func()) {
				if atomic.LoadUint64(u64(b, pcNext)) >= uint64(n) {
					return nil, nil, nil // all produced: let it drain
				}
				slot := rng.IntN(C + 1)
				return ps[slot], u64(b, pcPhases+8*slot), func() { spawn(slot) }
			})
			finishWithin(t, time.Minute, ps, func() string {
				return fmt.Sprintf("next %d of %d, count %d, done %d", *u64(b, pcNext), n, *u64(b, pcCount), *u64(b, pcDone))
			})
			pcCheck(t, b, n)
			t.Logf("%d items; kills: %v; lock recoveries (ErrOwnerDead) %d; %d waits, %d spurious returns",
				n, tally, *u64(b, pcDead), *u64(b, pcWaits), *u64(b, pcSpurious))
			if tally[phaseWaiting] == 0 {
				t.Errorf("kills: %v; none in a wait: the test did not test that", tally)
			}
		})
	}
}

// killLoop kills -9 a victim chosen by pick, kills times, at random
// moments, and tallies what each was doing when it died (its phase word,
// read once it is dead). pick returns the victim, its phase word and a
// function that starts its replacement, or a nil victim to end the loop
// early. A victim still starting is left alone (that round is repeated).
func killLoop(t *testing.T, kills int, pick func(rng *rand.Rand) (*proc, *uint64, func())) *killTally {
	t.Helper()
	var tally killTally
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	for k := 0; k < kills; {
		time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		p, phase, respawn := pick(rng)
		if p == nil {
			break
		}
		if atomic.LoadUint64(phase) == phaseStarting {
			continue
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.cmd.Wait()
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			tally[atomic.LoadUint64(phase)]++
			k++
		}
		respawn()
	}
	return &tally
}

// finishWithin waits for the processes to end cleanly; if they have not
// after d, the test fails (a hang, not a slow machine: d is far longer
// than the work needs) with state's description.
func finishWithin(t *testing.T, d time.Duration, ps []*proc, state func() string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, p := range ps {
			p.out.WriteTo(io.Discard)
			p.cmd.Wait()
		}
	}()
	select {
	case <-done:
	case <-time.After(d):
		for _, p := range ps {
			p.cmd.Process.Kill()
		}
		<-done
		t.Fatalf("processes still running after %v: %s", d, state())
	}
	for _, p := range ps {
		if !p.cmd.ProcessState.Success() {
			t.Fatalf("child %d: %v", p.cmd.Process.Pid, p.cmd.ProcessState)
		}
	}
}
