//go:build !linux

package lock

import (
	"errors"
	"time"
)

// haveFutex reports whether waiters sleep in futex(2): not on this system,
// where they spin and back off (see lockSlow).
const haveFutex = false

func futexWait(addr *uint32, val uint32, d time.Duration) error {
	return errors.ErrUnsupported
}

func futexWake(addr *uint32, n int) {}
