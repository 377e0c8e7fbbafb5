package segment

import (
	"io/fs"
	"os"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/lock"
)

// Attachments tells who is attached to a segment: the live attachments,
// as the kernel vouches for them (see the package documentation).
type Attachments struct {
	// PIDs holds one entry per live attachment that has a slot, in slot
	// order: the PID its process recorded, which is its PID in its own
	// PID namespace (processes in other containers may show PIDs that
	// mean something else here), or 0 for a process that is taking its
	// slot at this moment.
	PIDs []int
	// Overflow is the number of live attachments without a slot (they
	// found every slot taken by a live process). Where the object takes
	// no record locks (macOS and FreeBSD kernel objects) they cannot be
	// checked, and Overflow is the number ever made (Header.Overflow): a
	// segment that ever overflowed counts as in use there.
	//
	// Read locks count for nothing: anybody who may read the file may
	// take them, on any byte. An attachment that found every slot and
	// overflow byte locked, which somebody who may read the file can
	// make happen, is attached "pinned": it holds the removal gate
	// shared, which keeps every remover (Close, RemoveUnused, gc) away,
	// and only this process's own pinned attachment is counted here.
	Overflow int
	// LockHeld reports that the lock word names a holder, and
	// LockOwnerDead that this holder's attachment has ended (it died, or
	// detached holding the lock): the next locker takes the lock over with
	// lock.ErrOwnerDead. The holder is judged as Lock's stale check judges
	// it (see the package documentation), from the same record locks as
	// the attachments above; a holder that cannot be judged counts as
	// alive. Header.LockHolder is the PID its slot records.
	LockHeld, LockOwnerDead bool
}

// Count is the number of live attachments.
func (a Attachments) Count() int { return len(a.PIDs) + a.Overflow }

// InUse reports whether any process is attached.
func (a Attachments) InUse() bool { return a.Count() > 0 }

// Users tells who is attached to the segment in the open file f, which the
// caller opened (os.Open suffices; posixshm.Open or a posixshm.Dir's Open
// for a name). It never writes to the file and never refreshes it; it reads
// the header as ReadHeader does, with the same errors, and then asks the
// kernel which attachment record locks are held (two F_GETLK calls, plus
// two for each live attachment). This process's own attachment, if it has one,
// counts too. An error means nothing is known: never read it as "unused".
//
// On OpenBSD (and wherever POSIX record locks are used), closing f drops
// every record lock this process holds on the file, its own attachment's
// included: call Users from a process that is not attached to the
// segment, or keep f open until the segment is closed; see the package
// documentation. If there is an error, it will be of type *fs.PathError.
func Users(f *os.File) (Attachments, error) { return onFile(f, users) }

func users(fd int, name string) (Attachments, error) {
	h, err := readHeader(fd, name)
	if err != nil {
		return Attachments{}, err
	}
	var st unix.Stat_t
	if err := unixutil.Fstat(fd, &st); err != nil {
		return Attachments{}, &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	u, err := liveUsers(fd, &h, attachedTo(keyOf(&st)))
	if err != nil {
		return Attachments{}, &fs.PathError{Op: "fcntl", Path: name, Err: err}
	}
	return u, nil
}

// Attached tells who is attached to the segment, this process included;
// see Users. If there is an error, it will be of type *fs.PathError.
func (s *Segment) Attached() (Attachments, error) {
	s.rmu.Lock() // keeps Close from unmapping the table under us
	defer s.rmu.Unlock()
	if s.state.Load()&stClosed != 0 {
		return Attachments{}, &fs.PathError{Op: "fcntl", Path: s.name, Err: fs.ErrClosed}
	}
	h, err := s.header()
	if err != nil {
		return Attachments{}, err
	}
	u, err := liveUsers(s.att.fd, &h, s.att)
	if err != nil {
		return Attachments{}, pathError("fcntl", s.name, s.Path(), "", err)
	}
	return u, nil
}

// liveUsers finds the live attachments of the segment whose header and
// table are h, asking through fd. own is this process's attachment to it,
// or nil: the kernel does not report a process's own record locks to it
// (nor, on Linux, those of fd's own open file description).
func liveUsers(fd int, h *Header, own *attachment) (Attachments, error) {
	live := make([]bool, h.Slots)
	if own != nil && own.slot >= 0 && own.slot < h.Slots {
		live[own.slot] = true
	}
	var u Attachments
	var over []int64 // overflow bytes held
	if own != nil && own.over >= 0 {
		over = append(over, own.over)
	}
	pids := own != nil && own.pids || noRecordLocks
	if !pids {
		err := heldLocks(fd, tableOffset, tableEnd(h.Slots), h.Slots+1, func(at, n int64) {
			// Mark every slot whose byte the lock covers (ours cover one).
			end := tableEnd(h.Slots)
			if n > 0 {
				end = min(end, at+n)
			}
			for i := max(0, (at-tableOffset+slotSize-1)/slotSize); i < int64(h.Slots) && slotByte(int(i)) < end; i++ {
				live[i] = true
			}
		})
		if err == nil {
			err = heldLocks(fd, overflowBase, -1, maxOverflow, func(at, n int64) {
				if k := at - overflowBase; !slices.Contains(over, k) {
					over = append(over, k)
				}
			})
		}
		switch {
		case err == errNoRecordLocks:
			pids = true
		case err != nil:
			return Attachments{}, err
		}
	}
	if pids {
		// No record locks on this object: trust PIDs, and count every
		// overflow attachment ever made, since none can be checked.
		for i, s := range h.Table {
			if s.Attached && pidAlive(s.PID) {
				live[i] = true
			}
		}
		u.Overflow = int(h.Overflow)
	} else {
		u.Overflow = len(over)
		if own != nil && own.pinned {
			u.Overflow++
		}
	}
	for i, l := range live {
		if l {
			u.PIDs = append(u.PIDs, h.Table[i].PID)
		}
	}
	u.LockHeld, u.LockOwnerDead = lockOwnerDead(h, live, over, pids)
	return u, nil
}

// lockOwnerDead judges the lock's holder, as the header h records it, from
// which slots are live and which overflow bytes are held (over; unknown
// when pids: the object takes no record locks), as attachment.Dead does.
func lockOwnerDead(h *Header, live []bool, over []int64, pids bool) (held, dead bool) {
	switch t := uint32(lock.HolderPID(h.LockWord)); {
	case t == 0:
		return false, false
	case t <= uint32(len(live)):
		s := h.Table[t-1]
		// The slot moved on (a 64-bit word records its generation), or
		// nobody holds its record lock.
		// A narrow holder (a 32-bit writer) left no generation: the
		// other half is nobody's evidence (lock.Narrow).
		moved := lock.Atomic64 && !lock.Narrow(h.LockWord) && (!s.Attached || s.Generation != h.LockStamp)
		return true, moved || !live[t-1]
	case t >= overflowTags && t < pidTags:
		return true, !pids && !slices.Contains(over, int64(t-overflowTags))
	case t >= pidTags:
		return true, pids && !pidAlive(int(t-pidTags))
	}
	return true, false // a slot this table does not have: cannot judge
}
