package segment

import (
	"sync/atomic"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
)

// The segment's lock identifies its holder by attachment, not by process
// (lock.Identity): the lock word records the holder's Tag and Stamp with
// the one compare-and-swap that takes the lock, and a waiter that has
// waited long asks the kernel whether that attachment lives. No kill(2),
// no /proc: the record locks answer, in any PID namespace, under pledge(2)
// with "flock".
//
//	Tag                              Stamp                 the holder is
//	1..MaxSlots                      slot generation       the attachment in slot Tag-1
//	overflowTags+k                   overflow count drawn  the overflow attachment locking byte overflowBase+k
//	pidTags+pid                      overflow count drawn  an overflow attachment judged by PID (no record locks),
//	                                                       or a pinned one (it holds the removal gate shared)
//
// A holder is dead when its slot's generation has moved on, or nobody
// holds the record lock of its slot (or overflow byte). This process's own
// slot is known without asking: F_GETLK does not report the caller's own
// locks, and a holder recorded under our slot with another generation held
// it before us. Where the object takes no record locks (macOS, FreeBSD
// kernel objects), a slot's holder is dead when kill(pid, 0) no longer
// finds the PID its slot records.
//
// No attachment takes a slot (or an overflow byte) that the lock word names:
// a dead holder's slot stays unused until a waiter has recovered the lock.
// So the Tag alone names the holder while the word names it, which is all a
// 32-bit word records where 64-bit atomics do not reach across processes
// (lock.Atomic64 false: ARM before v7, 32-bit MIPS). There the Stamp is 0
// and one window is left: between a waiter's check that the holder's record
// lock is gone and its compare-and-swap, the holder may unlock, detach, and
// a new attachment take the same slot and lock, leaving the very value the
// waiter examined; the waiter then takes a live holder's lock. With a
// 64-bit word the new generation makes the value differ.
const (
	overflowTags = MaxSlots + 1
	pidTags      = overflowTags + maxOverflow
)

var _ lock.Identity = (*attachment)(nil)

// Self is this attachment's identity in the lock word.
func (a *attachment) Self() lock.Holder {
	switch {
	case a.slot >= 0:
		return lock.Holder{Tag: uint32(a.slot) + 1, Stamp: a.gen}
	case a.over >= 0:
		return lock.Holder{Tag: overflowTags + uint32(a.over), Stamp: a.gen}
	}
	return lock.Holder{Tag: pidTags + uint32(a.pid), Stamp: a.gen}
}

// Dead reports whether the holder h, which is not Self, has detached or
// died, and the PID its slot recorded (0 if unknown).
func (a *attachment) Dead(h lock.Holder) (bool, int) {
	switch t := h.Tag; {
	case t >= 1 && t <= MaxSlots:
		return a.slotDead(int(t-1), h.Stamp)
	case t < pidTags:
		k := int64(t - overflowTags)
		if k == a.over {
			return true, 0 // we hold its byte: h had it before us
		}
		if a.pids {
			return false, 0 // no record locks here, so no such holder: unknown
		}
		_, _, held, err := heldLock(a.fd, overflowBase+k, 1)
		return err == nil && !held, 0
	default:
		pid := int(t - pidTags)
		if !a.pids {
			// A pinned attachment (claimPinned), which holds the removal
			// gate shared while it lives: dead once nobody but us holds
			// any lock on the gate; unknown while somebody does (another
			// pinned attachment, an opener, a reader).
			_, _, locked, err := lockedBy(a.fd, gateByte, 1)
			return err == nil && !locked, pid
		}
		// Our own PID: a process that had it before us, dead.
		return pid == a.pid || !pidAlive(pid), pid
	}
}

// slotDead is Dead for the holder of slot i with generation gen.
func (a *attachment) slotDead(i int, gen uint32) (bool, int) {
	if i >= a.slots {
		return false, 0 // no such slot: not a holder we know how to judge
	}
	s := decodeSlot(atomic.LoadUint64(a.slotWord(i)))
	// Else the word records no generation: 32-bit atomics only here, or
	// the holder wrote the state half alone (lock.Narrow; a Stamp of 0).
	stamped := lock.Atomic64 && gen != 0
	pid := 0
	if s.Attached && (!stamped || s.Generation == gen) {
		pid = s.PID
	}
	switch {
	case i == a.slot:
		return true, 0 // ours now, with its byte: h held it before us
	case stamped && s.Generation != gen:
		return true, 0 // the slot moved on: h's attachment ended
	case a.pids:
		return !(s.Attached && pidAlive(s.PID)), pid
	}
	_, _, held, err := heldLock(a.fd, slotByte(i), 1)
	return err == nil && !held, pid
}

// lockNames reports whether the lock word names tag as its holder.
func (a *attachment) lockNames(tag uint32) bool {
	state := atomic.LoadUint32((*uint32)(unsafe.Pointer(&a.mem[offLockWord])))
	return uint32(lock.HolderPID(state)) == tag
}

// lockHolderPID is the PID the lock's holder recorded in its slot, 0 if
// the lock is free or its holder has none (an overflow attachment).
func lockHolderPID(h *Header) int {
	switch t := uint32(lock.HolderPID(h.LockWord)); {
	case t >= 1 && t <= uint32(len(h.Table)):
		// A stamp of 0, or a narrow holder's: a 32-bit writer, which
		// records no generation.
		stamp := h.LockStamp
		if lock.Narrow(h.LockWord) {
			stamp = 0
		}
		if s := h.Table[t-1]; s.Attached && (stamp == 0 || s.Generation == stamp) {
			return s.PID
		}
	case t >= pidTags:
		return int(t - pidTags)
	}
	return 0
}
