//go:build !linux || openbsdsim

package lock

// procStat is unavailable here: zombies count as alive and PID reuse is
// not detected.
func procStat(pid int) (state byte, start uint64, ok bool) { return 0, 0, false }

// selfStart is unavailable here: the default identity's Stamp is 0.
func selfStart() (start uint64, ok bool) { return 0, false }
