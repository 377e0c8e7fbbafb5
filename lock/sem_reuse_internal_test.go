package lock

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"unsafe"
)

// reuseID is an Identity without stamps (as on OpenBSD, and in the
// openbsdsim build: no start times), for processes simulated in this one:
// a holder is dead when the test says its Tag names no process now.
type reuseID struct {
	self  Holder
	alive func(tag uint32) bool
	// judged, if set, runs after Dead has decided that a holder is dead,
	// before the caller acts on it: the moment at which, in real life,
	// the PID may be given to a new process.
	judged func(h Holder)
}

func (r *reuseID) Self() Holder { return r.self }

func (r *reuseID) Dead(h Holder) (bool, int) {
	dead := h.Tag != r.self.Tag && !r.alive(h.Tag)
	if dead && r.judged != nil {
		f := r.judged
		r.judged = nil
		f(h)
	}
	return dead, int(h.Tag)
}

// TestSemaphore_PIDReuse: recoverUnit and the registry of units a dead
// predecessor with our identity left, under PID reuse without stamps, for
// 64-bit and 32-bit units. Process P (PID 4242) dies holding unit 0;
// A and B hold the other two units. Process R judges P dead, and just then
// the PID is given to a new process Q, whose first Semaphore counts unit 0
// as its predecessor's; then R takes unit 0 over. Q must not recover a
// unit: none shows its identity any more (it did, and four processes
// would each hold one of three units). Once a unit is free, Q takes it as
// any other, and releases it.
func TestSemaphore_PIDReuse(t *testing.T) {
	for _, narrow := range []bool{false, true} {
		name := "64"
		if narrow {
			name = "32"
		}
		t.Run(name, func(t *testing.T) {
			const p, r, a, b = 4242, 7, 8, 9
			words := make([]uint64, SemaphoreSize(3)/8)
			mem := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), SemaphoreSize(3))
			live := map[uint32]bool{r: true, a: true, b: true}
			alive := func(tag uint32) bool { return live[tag] }
			newSem := func(id *reuseID) *Semaphore {
				s, err := newSemaphore(mem, 3, narrow, []Option{WithIdentity(id)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
				return s
			}
			sp := newSem(&reuseID{self: Holder{Tag: p}, alive: alive})
			sa := newSem(&reuseID{self: Holder{Tag: a}, alive: alive})
			sb := newSem(&reuseID{self: Holder{Tag: b}, alive: alive})
			for _, s := range []*Semaphore{sp, sa, sb} {
				if ok, err := s.TryAcquire(); !ok || err != nil {
					t.Fatalf("TryAcquire = %v, %v", ok, err)
				}
			}
			sp.Close() // P dies holding its unit: it is nobody's Semaphore any more
			var sq *Semaphore
			rid := &reuseID{self: Holder{Tag: r}, alive: alive}
			rid.judged = func(h Holder) {
				if h.Tag != p {
					t.Fatalf("R judged %+v first, want P", h)
				}
				live[p] = true // Q, given P's PID
				sq = newSem(&reuseID{self: Holder{Tag: p}, alive: alive})
				if k := sq.ent.inherited.Load(); k != 1 {
					t.Fatalf("Q counts %d units of its predecessor, want 1", k)
				}
			}
			sr := newSem(rid)
			ok, err := sr.TryAcquire()
			if !ok || !errors.Is(err, ErrOwnerDead) {
				t.Fatalf("R's TryAcquire = %v, %v; want P's unit with ErrOwnerDead", ok, err)
			}
			if ok, err := sq.TryAcquire(); ok || err != nil {
				t.Fatalf("Q's TryAcquire = %v, %v, holders %+v; want false, nil: R took P's unit, none is left for Q", ok, err, sq.Holders())
			}
			if err := sq.Release(); !errors.Is(err, ErrNotHeld) {
				t.Fatalf("Q's Release = %v, want ErrNotHeld", err)
			}
			if err := sa.Release(); err != nil {
				t.Fatal(err)
			}
			if ok, err := sq.TryAcquire(); !ok || err != nil {
				t.Fatalf("Q's TryAcquire of a free unit = %v, %v", ok, err)
			}
			held := 0
			for _, h := range sq.Holders() {
				if h.Tag == p {
					held++
				}
			}
			if held != 1 {
				t.Fatalf("%d units show Q, want 1: %+v", held, sq.Holders())
			}
			if err := sq.Release(); err != nil {
				t.Fatal(err)
			}
			if ok, err := sq.TryAcquire(); !ok || err != nil {
				t.Fatalf("Q's TryAcquire again = %v, %v", ok, err)
			}
			if sq.ent.inherited.Load() != 0 {
				t.Fatalf("Q still counts %d units of its predecessor", sq.ent.inherited.Load())
			}
		})
	}
}

// TestSemaphore_PIDReuseConcurrent: as TestSemaphore_PIDReuse, with Q's
// count two units too high (another process took both over after Q
// counted them), four units, one inherited unit really left, and
// goroutines of Q taking, recovering and releasing units at once: they
// never hold more than the three units R does not hold, the inherited
// unit is recovered exactly once, and at the end the units that show Q
// are exactly the ones it holds.
func TestSemaphore_PIDReuseConcurrent(t *testing.T) {
	const p, r = 4242, 7
	words := make([]uint64, SemaphoreSize(4)/8)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), SemaphoreSize(4))
	unit := func(i int) *uint64 { return (*uint64)(unsafe.Pointer(&mem[semHeader+semUnitSize*i])) }
	self := toMem(pack(Holder{Tag: p}, true))
	for i := range 3 {
		atomic.StoreUint64(unit(i), self) // the dead predecessor's
	}
	alive := func(tag uint32) bool { return tag == p || tag == r }
	q, err := newSemaphore(mem, 4, false, []Option{WithIdentity(&reuseID{self: Holder{Tag: p}, alive: alive})})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if k := q.ent.inherited.Load(); k != 3 {
		t.Fatalf("Q counts %d inherited units, want 3", k)
	}
	// R took two of them over, judging the predecessor dead before Q
	// was given its PID.
	rv := toMem(pack(Holder{Tag: r}, true))
	atomic.StoreUint64(unit(0), rv)
	atomic.StoreUint64(unit(1), rv)
	var (
		active, most, recovered atomic.Int32
		done                    = make(chan error)
	)
	const goroutines, rounds = 4, 2000
	for range goroutines {
		go func() {
			var err error
			for range rounds {
				ok, e := q.TryAcquire()
				if !ok {
					continue
				}
				if errors.Is(e, ErrOwnerDead) {
					recovered.Add(1)
				} else if e != nil {
					err = e
					break
				}
				n := active.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				runtime.Gosched() // hold it a moment: let the others try
				active.Add(-1)
				if e := q.Release(); e != nil {
					err = e
					break
				}
			}
			done <- err
		}()
	}
	for range goroutines {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if m := most.Load(); m > 2 {
		t.Errorf("Q's goroutines held %d units at once; R holds 2 of 4", m)
	}
	if n := recovered.Load(); n != 1 {
		t.Errorf("the inherited unit was recovered %d times, want once", n)
	}
	if got, h := q.showsSelf(), q.ent.held.Load(); got != h || q.ent.inherited.Load() != 0 {
		t.Errorf("%d units show Q, it holds %d, counts %d inherited; want as many shown as held, none inherited", got, h, q.ent.inherited.Load())
	}
}
