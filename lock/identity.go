package lock

import (
	"os"
	"sync"
)

// Holder is what a lock word records about the holder of the lock.
type Holder struct {
	// Tag is 1..MaxTag while the lock is held, 0 when it is free. The
	// default identity uses the PID.
	Tag uint32
	// Stamp tells apart successive holders with the same Tag. The default
	// identity uses the low 32 bits of the process's start time where it
	// is known (Linux), else 0. It is always 0 in a 32-bit word, and for
	// a holder that wrote a 64-bit word's state half alone (New, on the
	// state half of a word others use with New64: see Narrow).
	Stamp uint32
}

// Identity tells the holders of a lock apart and judges whether one is
// dead. The owner of a lock word supplies it with WithIdentity; the
// default identifies processes by PID and start time (see the package
// documentation).
type Identity interface {
	// Self is what a Mutex writes into the word when it takes the lock.
	// New calls it once; the Tag must be in 1..MaxTag. Every user of a
	// word must have a different Self while it uses the word.
	Self() Holder
	// Dead reports whether the holder h, which is not Self(), is known to
	// be dead, and its PID for messages (0 if unknown). It must answer
	// false when it does not know: a false "dead" lets a second process
	// into the critical section. It is called only by waiters, at most
	// once per stale interval each.
	Dead(h Holder) (dead bool, pid int)
}

// processIdentity is the default Identity: Tag = PID, Stamp = the low 32
// bits of the process's start time (0 where unknown).
type processIdentity struct{ self Holder }

// defaultIdentity is computed once: a Go process cannot fork without exec,
// so its PID and start time never change.
var defaultIdentity = sync.OnceValue(func() *processIdentity {
	pid := os.Getpid()
	if pid <= 0 || pid > MaxTag {
		panic("lock: pid does not fit in 30 bits")
	}
	var stamp uint32
	if start, ok := selfStart(); ok {
		stamp = stampOf(start)
	}
	return &processIdentity{self: Holder{Tag: uint32(pid), Stamp: stamp}}
})

func (p *processIdentity) Self() Holder { return p.self }

func (p *processIdentity) Dead(h Holder) (bool, int) {
	return judgeProcess(p.self, h, signalable, procStat), int(h.Tag)
}

// stampOf is the Stamp of a process that started start clock ticks after
// boot. 0 means "unknown", so a start time whose low bits are 0 becomes 1;
// both sides of every comparison go through here.
func stampOf(start uint64) uint32 {
	if s := uint32(start); s != 0 {
		return s
	}
	return 1
}

// later reports whether stamp a is later than stamp b, for stamps less
// than 2^31 ticks apart (248 days at the usual 100 ticks per second).
func later(a, b uint32) bool { return int32(a-b) > 0 }

// judgeProcess is the default identity's Dead, with the probes passed in
// so that tests can run every case. self is the caller, h a holder that is
// not self. exists is kill(pid, 0) != ESRCH; stat reads /proc/PID/stat.
//
// The rules, each a fact and never a guess:
//   - h has our PID: only we have it now, so h is a process that had it
//     before us and is dead, unless its stamp is later than ours, which no
//     predecessor's can be: then h lives in another PID namespace (unknown).
//   - no process has h's PID (ESRCH), or it is an unreaped zombie: dead.
//   - the process now with h's PID started after h's stamp: h exited and
//     its PID was reused: dead. One that started before h's stamp cannot be
//     h's successor: h is in another PID namespace (unknown).
//   - anything else, or no stamp to compare: alive or unknown.
func judgeProcess(self, h Holder, exists func(pid int) bool, stat func(pid int) (state byte, start uint64, ok bool)) bool {
	if h.Tag == self.Tag {
		if h.Stamp != 0 && self.Stamp != 0 && later(h.Stamp, self.Stamp) {
			return false
		}
		return true
	}
	pid := int(h.Tag)
	if !exists(pid) {
		return true
	}
	state, start, ok := stat(pid)
	if !ok {
		return false // kill(2) says it exists; nothing more is known here
	}
	if state == 'Z' || state == 'X' {
		return true
	}
	if s := stampOf(start); h.Stamp != 0 && s != h.Stamp {
		return later(s, h.Stamp)
	}
	return false
}

// Alive reports whether a process with this PID exists and is not an
// unreaped zombie. A process owned by another user counts as alive.
func Alive(pid int) bool {
	if pid <= 0 || !signalable(pid) {
		return false
	}
	state, _, ok := procStat(pid)
	return !ok || (state != 'Z' && state != 'X')
}
