package lock

import "errors"

var (
	// ErrOwnerDead is returned, with the lock held by the caller, when the
	// previous holder died without unlocking. The protected data may be
	// inconsistent: repair it, then continue and Unlock as usual.
	ErrOwnerDead = errors.New("lock: previous holder died; lock acquired, repair the protected data")

	// ErrNotHeld is returned (possibly wrapped) by Unlock when this process
	// does not hold the lock. The word is left unchanged.
	ErrNotHeld = errors.New("lock: not held by this process")
)
