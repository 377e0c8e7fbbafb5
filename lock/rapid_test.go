package lock_test

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
	"pgregory.net/rapid"
)

// lockModel is the expected state of one lock word: who holds it.
type lockModel struct {
	word  *uint32
	mu    *lock.Mutex
	me    int
	dead  []int // PIDs known not to exist
	owner int   // 0 free, me, or a dead PID
}

func (m *lockModel) Lock(t *rapid.T) {
	// A live holder (us) makes Lock wait out the deadline; a dead one is
	// recovered after the stale interval, long before this generous bound.
	timeout := time.Minute
	if m.owner == m.me {
		timeout = time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := m.mu.LockContext(ctx)
	switch m.owner {
	case 0:
		if err != nil {
			t.Fatalf("Lock on free word = %v", err)
		}
	case m.me:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock on held word = %v, want deadline exceeded", err)
		}
	default:
		if !errors.Is(err, lock.ErrOwnerDead) {
			t.Fatalf("Lock on dead holder's word = %v, want ErrOwnerDead", err)
		}
	}
	m.owner = m.me
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
	case 0:
		if !ok || err != nil {
			t.Fatalf("TryLock on free word = %v, %v", ok, err)
		}
	case m.me:
		if ok || err != nil {
			t.Fatalf("TryLock on held word = %v, %v; want false, nil", ok, err)
		}
	default:
		if !ok || !errors.Is(err, lock.ErrOwnerDead) {
			t.Fatalf("TryLock on dead holder = %v, %v; want true, ErrOwnerDead", ok, err)
		}
	}
	m.owner = m.me
}

func (m *lockModel) Unlock(t *rapid.T) {
	before := atomic.LoadUint32(m.word)
	err := m.mu.Unlock()
	if m.owner == m.me {
		if err != nil {
			t.Fatalf("Unlock of held lock = %v", err)
		}
		m.owner = 0
		return
	}
	if !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Unlock of lock held by %d = %v, want ErrNotHeld", m.owner, err)
	}
	if after := atomic.LoadUint32(m.word); after != before {
		t.Fatalf("failed Unlock changed word %#x to %#x", before, after)
	}
}

// HolderDies simulates another process that took the lock (possibly with
// sleepers announced) and died: its PID is written into the word.
func (m *lockModel) HolderDies(t *rapid.T) {
	if m.owner == m.me {
		t.Skip("we hold it: nobody else could have")
	}
	pid := rapid.SampledFrom(m.dead).Draw(t, "pid")
	w := uint32(pid)
	if rapid.Bool().Draw(t, "waiters") {
		w |= 1 << 30
	}
	atomic.StoreUint32(m.word, w)
	m.owner = pid
}

func (m *lockModel) Check(t *rapid.T) {
	w := atomic.LoadUint32(m.word)
	if got := lock.HolderPID(w); got != m.owner || m.mu.Holder() != m.owner {
		t.Fatalf("word %#x: holder %d, model %d", w, got, m.owner)
	}
	if m.owner == 0 && w != 0 {
		t.Fatalf("free word is %#x, want 0", w)
	}
	if w&(1<<31) != 0 {
		t.Fatalf("reserved bit set in %#x", w)
	}
}

func TestMutex_StateMachine(t *testing.T) {
	// PIDs above any pid_max (Linux ≤ 2^22, OpenBSD < 100000): never alive,
	// unlike a reaped child's PID, which a busy machine may soon reuse.
	dead := []int{1<<30 - 1, 1<<29 + 12345, 1<<22 + 1}
	_, b := newMapping(t)
	for _, mode := range []string{"futex", "backoff"} {
		t.Run(mode, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				w := u32(b, offWord)
				atomic.StoreUint32(w, 0)
				opts := []lock.Option{lock.WithStaleAfter(200 * time.Microsecond)}
				if mode == "backoff" {
					opts = append(opts, lock.WithBackoff())
				}
				m := &lockModel{word: w, mu: lock.New(w, opts...), me: os.Getpid(), dead: dead}
				t.Repeat(rapid.StateMachineActions(m))
			})
		})
	}
}
