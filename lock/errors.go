package lock

import (
	"errors"
	"strconv"
)

var (
	// ErrOwnerDead is what the error returned, with the lock held by the
	// caller, when the previous holder died without unlocking, matches with
	// errors.Is (the error itself is an *OwnerDeadError naming the dead
	// PID). The protected data may be inconsistent: repair it, then
	// continue and Unlock as usual.
	ErrOwnerDead = errors.New("lock: previous holder died; lock acquired, repair the protected data")

	// ErrNotHeld is returned (possibly wrapped) by Unlock when this process
	// does not hold the lock. The word is left unchanged.
	ErrNotHeld = errors.New("lock: not held by this process")
)

// OwnerDeadError is the error Lock, LockContext and TryLock return when
// they took the lock over from a dead holder: errors.Is(err, ErrOwnerDead)
// holds, and errors.As gives the dead holder's PID.
type OwnerDeadError struct {
	PID int // the process that died holding the lock
}

func (e *OwnerDeadError) Error() string {
	return "lock: previous holder pid " + strconv.Itoa(e.PID) + " died; lock acquired, repair the protected data"
}

// Is reports whether target is ErrOwnerDead.
func (e *OwnerDeadError) Is(target error) bool { return target == ErrOwnerDead }
