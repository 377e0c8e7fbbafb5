package lock

import (
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"unsafe"
)

// TestSemaphore_Narrow runs the 32-bit units of GOARCHes without
// cross-process 64-bit atomics (Atomic64 false) here: the Tag alone in the
// lower half of each unit, the counting of units that show our identity,
// a dead holder's unit recovered once.
func TestSemaphore_Narrow(t *testing.T) {
	words := make([]uint64, SemaphoreSize(3)/8)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), SemaphoreSize(3))
	unit := func(i int) *uint32 { return (*uint32)(unsafe.Pointer(&mem[semHeader+semUnitSize*i])) }
	pid := uint32(os.Getpid())
	me := pid | narrowBit           // our identity in a 32-bit unit
	atomic.StoreUint32(unit(2), me) // a predecessor with our PID
	s, err := newSemaphore(mem, 3, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Release(); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("Release of a predecessor's unit = %v", err)
	}
	for range 2 {
		if err := s.Acquire(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if v := atomic.LoadUint32(unit(i)); v != me {
			t.Fatalf("unit %d = %#x, want our pid and the narrow bit %#x", i, v, me)
		}
		if hi := *(*uint32)(unsafe.Pointer(&mem[semHeader+semUnitSize*i+4])); hi != 0 {
			t.Fatalf("unit %d: upper half %#x written", i, hi)
		}
	}
	ok, err := s.TryAcquire()
	var od *OwnerDeadError
	if !ok || !errors.As(err, &od) || od.PID != int(pid) {
		t.Fatalf("TryAcquire = %v, %v; want the predecessor's unit", ok, err)
	}
	if ok, err := s.TryAcquire(); ok || err != nil {
		t.Fatalf("TryAcquire on a full semaphore = %v, %v", ok, err)
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	atomic.StoreUint32(unit(atomicFreeUnit(t, s)), MaxTag) // a holder that never existed
	ok, err = s.TryAcquire()
	if !ok || !errors.As(err, &od) || od.Holder != (Holder{Tag: MaxTag}) {
		t.Fatalf("TryAcquire with a dead holder = %v, %v", ok, err)
	}
	for range 3 {
		if err := s.Release(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Release(); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("fourth Release = %v", err)
	}
}

// atomicFreeUnit returns the index of a free unit.
func atomicFreeUnit(t *testing.T, s *Semaphore) int {
	for i, h := range s.Holders() {
		if h.Tag == 0 {
			return i
		}
	}
	t.Fatal("no free unit")
	return -1
}
