package lock

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"syscall"
)

var (
	// ErrOwnerDead is what the error returned, with the lock held by the
	// caller, when the previous holder died without unlocking, matches with
	// errors.Is (the error itself is an *OwnerDeadError naming the dead
	// holder). The protected data may be inconsistent: repair it, then
	// continue and Unlock as usual.
	ErrOwnerDead = errors.New("lock: previous holder died; lock acquired, repair the protected data")

	// ErrNotHeld is returned (possibly wrapped) by Unlock when this process
	// does not hold the lock. The word is left unchanged.
	ErrNotHeld = errors.New("lock: not held by this process")
)

// errClosed is what a Mutex returns once Close was called.
var errClosed = fmt.Errorf("lock: mutex closed: %w", fs.ErrClosed)

// errFault is what a sleeping waiter returns when futex(2) finds the
// word's memory gone (EFAULT: a file truncated under its mapping).
var errFault = fmt.Errorf("lock: the word's memory is gone (a file truncated under its mapping?): %w", syscall.EFAULT)

// OwnerDeadError is the error Lock, LockContext and TryLock return when
// they took the lock over from a dead holder: errors.Is(err, ErrOwnerDead)
// holds, and errors.As gives the dead holder.
type OwnerDeadError struct {
	PID    int    // the process that died holding the lock, 0 if unknown
	Holder Holder // what the word recorded about it
}

func (e *OwnerDeadError) Error() string {
	who := "pid " + strconv.Itoa(e.PID)
	if e.PID == 0 {
		who = "tag " + strconv.FormatUint(uint64(e.Holder.Tag), 10)
	}
	return "lock: previous holder " + who + " died; lock acquired, repair the protected data"
}

// Is reports whether target is ErrOwnerDead.
func (e *OwnerDeadError) Is(target error) bool { return target == ErrOwnerDead }

// notHeld is Unlock's error when the word records holder h, not us;
// pids says that Tags are PIDs (the default identity).
func notHeld(h Holder, pids bool) error {
	switch {
	case h.Tag == 0:
		return fmt.Errorf("%w (the lock is free)", ErrNotHeld)
	case pids:
		return fmt.Errorf("%w (holder pid %d, stamp %d)", ErrNotHeld, h.Tag, h.Stamp)
	}
	return fmt.Errorf("%w (holder tag %d, stamp %d)", ErrNotHeld, h.Tag, h.Stamp)
}
