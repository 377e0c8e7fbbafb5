//go:build !linux || openbsdsim

package futex

import (
	"sync/atomic"
	"time"
)

// Supported reports whether Sleep sleeps in futex(2) and Wake wakes it:
// not on this system, where Sleep polls.
const Supported = false

// Sleep polls: it returns at once if *addr != val, else sleeps until
// deadline (a zero deadline: a millisecond) in time.Sleep, which parks the
// goroutine (there is no P to keep), and reports timedOut. Callers bound
// deadline by their polling interval, since no Wake comes. See the Linux
// version for the rest.
func Sleep(addr *uint32, val uint32, now, deadline time.Time, bits uint32) (timedOut bool, err error) {
	if atomic.LoadUint32(addr) != val {
		return false, nil
	}
	d := time.Millisecond
	if !deadline.IsZero() {
		d = deadline.Sub(now)
	}
	time.Sleep(d)
	return true, nil
}

// Wake does nothing here: sleepers poll.
func Wake(addr *uint32, n int, bits uint32) int { return 0 }
