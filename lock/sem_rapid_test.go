package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
	"pgregory.net/rapid"
)

// semModel is the expected state of a semaphore's units, as counts: units
// are alike, so which unit a holder has does not matter.
type semModel struct {
	mem       []byte
	s         *lock.Semaphore
	me        lock.Holder
	n         int
	mine      int                 // units we took
	inherited int                 // units a predecessor with our identity left (Stamp 0)
	dead      map[lock.Holder]int // units of holders known to be dead
	live      map[lock.Holder]int // units of live holders of other processes
	deadPool  []lock.Holder
	livePool  []lock.Holder
}

func (m *semModel) free() int {
	f := m.n - m.mine - m.inherited
	for _, k := range m.dead {
		f -= k
	}
	for _, k := range m.live {
		f -= k
	}
	return f
}

func (m *semModel) deadUnits() int {
	d := 0
	for _, k := range m.dead {
		d += k
	}
	return d
}

// got checks what a successful take returned and updates the model: a
// free unit if there was one, else a predecessor's, else a dead holder's.
func (m *semModel) got(t *rapid.T, err error) {
	switch {
	case m.free() > 0:
		if err != nil {
			t.Fatalf("took a free unit with %v", err)
		}
	case m.inherited > 0:
		var od *lock.OwnerDeadError
		if !errors.As(err, &od) || od.Holder != m.me {
			t.Fatalf("took a predecessor's unit with %v, want ErrOwnerDead naming our identity", err)
		}
		m.inherited--
	default:
		var od *lock.OwnerDeadError
		if !errors.As(err, &od) || m.dead[od.Holder] == 0 {
			t.Fatalf("took a dead holder's unit with %v, want ErrOwnerDead naming one of %v", err, m.dead)
		}
		m.dead[od.Holder]--
	}
	m.mine++
}

func (m *semModel) TryAcquire(t *rapid.T) {
	ok, err := m.s.TryAcquire()
	if m.free() == 0 && m.inherited == 0 && m.deadUnits() == 0 {
		if ok || err != nil {
			t.Fatalf("TryAcquire with every unit held by the living = %v, %v", ok, err)
		}
		return
	}
	if !ok {
		t.Fatalf("TryAcquire = false, %v; model %+v", err, m)
	}
	m.got(t, err)
}

func (m *semModel) Acquire(t *rapid.T) {
	blocked := m.free() == 0 && m.inherited == 0 && m.deadUnits() == 0
	timeout := time.Minute // recovery takes a stale interval, far less
	if blocked {
		timeout = time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := m.s.AcquireContext(ctx)
	if blocked {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire with every unit held by the living = %v, want deadline exceeded", err)
		}
		return
	}
	m.got(t, err)
}

func (m *semModel) Release(t *rapid.T) {
	err := m.s.Release()
	if m.mine == 0 {
		if !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("Release holding nothing = %v, want ErrNotHeld", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Release = %v", err)
	}
	m.mine--
}

// freeUnit returns the index of a free unit (the model says there is one).
func (m *semModel) freeUnit(t *rapid.T) int {
	for i, h := range m.s.Holders() {
		if h.Tag == 0 {
			return i
		}
	}
	t.Fatalf("no free unit; model says %d", m.free())
	return -1
}

// OtherTakes: another process takes a free unit; it is alive or dies.
func (m *semModel) OtherTakes(t *rapid.T) {
	if m.free() == 0 {
		t.Skip("no free unit")
	}
	i := m.freeUnit(t)
	if rapid.Bool().Draw(t, "dies") {
		h := rapid.SampledFrom(m.deadPool).Draw(t, "dead")
		setUnit(m.mem, i, h)
		m.dead[h]++
		return
	}
	h := rapid.SampledFrom(m.livePool).Draw(t, "live")
	setUnit(m.mem, i, h)
	m.live[h]++
}

// OtherReleases: a live holder of another process releases its unit.
func (m *semModel) OtherReleases(t *rapid.T) {
	for i, h := range m.s.Holders() {
		if m.live[h] > 0 {
			setUnit(m.mem, i, lock.Holder{})
			m.live[h]--
			return
		}
	}
	t.Skip("no live holder")
}

func (m *semModel) Check(t *rapid.T) {
	mine, free := 0, 0
	dead, live := map[lock.Holder]int{}, map[lock.Holder]int{}
	for _, h := range m.s.Holders() {
		switch {
		case h.Tag == 0:
			free++
		case h == m.me:
			mine++
		case m.live[h] > 0:
			live[h]++
		default:
			dead[h]++
		}
	}
	if mine != m.mine+m.inherited || free != m.free() {
		t.Fatalf("units: ours %d, free %d; model ours %d+%d inherited, free %d", mine, free, m.mine, m.inherited, m.free())
	}
	for h, k := range m.dead {
		if dead[h] != k {
			t.Fatalf("dead holder %+v: %d units, model %d", h, dead[h], k)
		}
	}
	for h, k := range m.live {
		if live[h] != k {
			t.Fatalf("live holder %+v: %d units, model %d", h, live[h], k)
		}
	}
}

// TestSemaphore_StateMachine runs random operations on a semaphore shared
// with simulated live and dead holders of other processes, against a
// model; with stamps (64-bit units) and without (an identity whose Stamp
// is 0, which may find a predecessor's units showing it), futex and
// backoff waiting.
func TestSemaphore_StateMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// The modes are drawn, not looped over: one run of checks covers
		// them all in a quarter of the time.
		stampless := rapid.Bool().Draw(t, "stampless")
		var mode []lock.Option
		if rapid.Bool().Draw(t, "backoff") {
			mode = append(mode, lock.WithBackoff())
		}
		n := rapid.IntRange(1, 5).Draw(t, "n")
		me := lock.Holder{Tag: 500, Stamp: 3}
		if stampless {
			me.Stamp = 0
		}
		deadPool := []lock.Holder{{Tag: 7, Stamp: 1}, {Tag: 8, Stamp: 2}, {Tag: me.Tag, Stamp: me.Stamp + 1}}
		livePool := []lock.Holder{{Tag: 20, Stamp: 1}, {Tag: 21, Stamp: 9}}
		m := &semModel{mem: semMem(n), me: me, n: n, dead: map[lock.Holder]int{}, live: map[lock.Holder]int{},
			deadPool: deadPool, livePool: livePool}
		if stampless {
			m.inherited = rapid.IntRange(0, n).Draw(t, "inherited")
			for i := range m.inherited {
				setUnit(m.mem, i, me)
			}
		}
		isDead := map[lock.Holder]bool{}
		for _, h := range deadPool {
			isDead[h] = true
		}
		id := &fakeID{self: me, dead: func(h lock.Holder) bool { return isDead[h] }}
		s, err := lock.NewSemaphore(m.mem, n, append(mode, lock.WithIdentity(id), lock.WithStaleAfter(200*time.Microsecond))...)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		m.s = s
		t.Repeat(rapid.StateMachineActions(m))
	})
}
