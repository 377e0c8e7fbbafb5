//go:build !linux || openbsdsim

package lock

// futexWakeN: no futex(2) here; waiters poll (see waitWord.wait).
func futexWakeN(addr *uint32, n int) int { return 0 }
