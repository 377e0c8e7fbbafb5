package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
	"pgregory.net/rapid"
)

// lockModel is the expected state of one lock word: who holds it, and
// whether a waiter has forbidden barging.
type lockModel struct {
	w        word
	mu       *lock.Mutex
	me       lock.Holder
	dead     []lock.Holder // holders known to be dead
	owner    lock.Holder   // zero: free
	starving bool          // bit 31
}

const starvingBit = 1 << 31

func (m *lockModel) Lock(t *rapid.T) {
	// A live holder (us) makes Lock wait out the deadline; a dead one is
	// recovered after the stale interval, long before this generous bound.
	timeout := time.Minute
	if m.owner == m.me {
		timeout = 500 * time.Microsecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := m.mu.LockContext(ctx)
	switch m.owner {
	case lock.Holder{}:
		if err != nil {
			t.Fatalf("Lock on free word = %v", err)
		}
		// A starving bit left by a waiter that is gone: after waiting as
		// long, we took the lock without it.
		m.starving = false
	case m.me:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock on held word = %v, want deadline exceeded", err)
		}
		// A waiter preempted past starveAfter became starving, and when
		// it left took away the bit it may have set: it can only clear it.
		m.starving = m.cleared(t)
	default:
		var od *lock.OwnerDeadError
		if !errors.As(err, &od) || od.Holder != m.owner {
			t.Fatalf("Lock on dead holder %+v's word = %v, want ErrOwnerDead naming it", m.owner, err)
		}
		// A recovery keeps the bit, unless the recoverer was itself
		// starving (only possible when preempted): it may only clear it.
		m.starving = m.cleared(t)
	}
	m.owner = m.me
}

// cleared is the starving bit after an action that may clear it but must
// not set it.
func (m *lockModel) cleared(t *rapid.T) bool {
	s, _ := m.w.load()
	if s&starvingBit != 0 && !m.starving {
		t.Fatal("the starving bit appeared")
	}
	return s&starvingBit != 0
}

func (m *lockModel) LockCanceled(t *rapid.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.mu.LockContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("LockContext(canceled) = %v", err)
	}
}

func (m *lockModel) TryLock(t *rapid.T) {
	ok, err := m.mu.TryLock()
	switch m.owner {
	case lock.Holder{}:
		if !ok || err != nil {
			t.Fatalf("TryLock on free word = %v, %v", ok, err)
		}
	case m.me:
		if ok || err != nil {
			t.Fatalf("TryLock on held word = %v, %v; want false, nil", ok, err)
		}
	default:
		var od *lock.OwnerDeadError
		if !ok || !errors.As(err, &od) || od.Holder != m.owner {
			t.Fatalf("TryLock on dead holder %+v = %v, %v; want true, ErrOwnerDead naming it", m.owner, ok, err)
		}
	}
	m.owner = m.me
}

func (m *lockModel) Unlock(t *rapid.T) {
	s0, st0 := m.w.load()
	err := m.mu.Unlock()
	if m.owner == m.me {
		if err != nil {
			t.Fatalf("Unlock of held lock = %v", err)
		}
		m.owner = lock.Holder{}
		return
	}
	if !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Unlock of lock held by %+v = %v, want ErrNotHeld", m.owner, err)
	}
	if s, st := m.w.load(); s != s0 || st != st0 {
		t.Fatalf("failed Unlock changed word %#x/%#x to %#x/%#x", s0, st0, s, st)
	}
}

// HolderDies simulates another process that took the lock (possibly with
// sleepers announced, possibly with a starving waiter) and died.
func (m *lockModel) HolderDies(t *rapid.T) {
	if m.owner == m.me {
		t.Skip("we hold it: nobody else could have")
	}
	h := rapid.SampledFrom(m.dead).Draw(t, "holder")
	var flags uint32
	if rapid.Bool().Draw(t, "waiters") {
		flags |= 1 << 30
	}
	m.starving = rapid.Bool().Draw(t, "starving")
	if m.starving {
		flags |= starvingBit
	}
	m.w.store(h, flags)
	m.owner = h
}

// StarverDies simulates a waiter that set the starving bit and died.
func (m *lockModel) StarverDies(t *rapid.T) {
	if m.owner != (lock.Holder{}) {
		t.Skip("only on a free word")
	}
	m.w.store(lock.Holder{}, starvingBit|1<<30)
	m.starving = true
}

func (m *lockModel) Check(t *rapid.T) {
	s, st := m.w.load()
	got := lock.Holder{Tag: uint32(lock.HolderPID(s)), Stamp: st}
	if got != m.owner || m.mu.Holder() != m.owner {
		t.Fatalf("word %#x/%#x: holder %+v (Holder() %+v), model %+v", s, st, got, m.mu.Holder(), m.owner)
	}
	if (s&starvingBit != 0) != m.starving {
		t.Fatalf("word %#x: starving bit, model %v", s, m.starving)
	}
}

func TestMutex_StateMachine(t *testing.T) {
	for _, wide := range []bool{false, true} {
		for _, mode := range []string{"futex", "backoff"} {
			w := newWord(wide)
			t.Run(w.name()+"/"+mode, func(t *testing.T) {
				me := self(w)
				dead := []lock.Holder{{Tag: neverPID}, {Tag: 1<<28 + 12345}, {Tag: 1<<22 + 1}}
				if w.stamps() {
					dead = append(dead, lock.Holder{Tag: neverPID, Stamp: 77})
					if me.Stamp > 1 {
						// Our PID, an earlier start: a predecessor's.
						dead = append(dead, lock.Holder{Tag: me.Tag, Stamp: me.Stamp - 1})
					}
				}
				rapid.Check(t, func(t *rapid.T) {
					w.store(lock.Holder{}, 0)
					opts := []lock.Option{lock.WithStaleAfter(200 * time.Microsecond)}
					if mode == "backoff" {
						opts = append(opts, lock.WithBackoff())
					}
					m := &lockModel{w: w, mu: w.mutex(opts...), me: me, dead: dead}
					t.Repeat(rapid.StateMachineActions(m))
				})
			})
		}
	}
}
