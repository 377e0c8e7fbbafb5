//go:build !linux || openbsdsim

package lock

import (
	"errors"
	"time"
)

// haveFutex reports whether waiters sleep in futex(2): not on this system,
// where they spin and back off (see lockSlow).
const haveFutex = false

const (
	sleepNormal   = 1
	sleepStarving = 2
)

func futexSleep(addr *uint32, val uint32, deadline time.Time, kind uint32) (timedOut bool, err error) {
	return false, errors.ErrUnsupported
}

func futexWait(addr *uint32, val uint32, d time.Duration) error {
	return errors.ErrUnsupported
}

func futexWake(addr *uint32, n int) {}

func futexWakeKind(addr *uint32, n int, kind uint32) {}
