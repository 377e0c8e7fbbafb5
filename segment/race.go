//go:build race

package segment

import (
	"runtime"
	"unsafe"
)

// The race detector does not see the segment's lock, whose word lives in
// a mapping outside Go's memory, so it would take the goroutines that use
// one Tx in turn, each under the lock, for a race. These annotations tell
// it what the lock orders; in other builds they are empty.

func raceAcquire(p unsafe.Pointer) { runtime.RaceAcquire(p) }
func raceRelease(p unsafe.Pointer) { runtime.RaceRelease(p) }
