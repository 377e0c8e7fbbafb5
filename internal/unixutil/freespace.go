package unixutil

import "math"

// Space is what statfs(2) says of a file system, in bytes.
type Space struct {
	Total int64 // its size; 0 where it has no limit (a tmpfs mounted with size=0)
	Free  int64 // free, the blocks reserved for root included
	Avail int64 // free for users other than root
}

// FreeSpace returns the space of the file system that holds the open file
// fd (a file, or a directory opened for reading).
func FreeSpace(fd int) (Space, error) {
	var sp Space
	err := IgnoringEINTR(func() (err error) { sp, err = freeSpace(fd); return err })
	return sp, err
}

// space converts block counts of unit bytes into a Space.
func space(total, free, avail, unit int64) Space {
	return Space{Total: inBytes(total, unit), Free: inBytes(free, unit), Avail: inBytes(avail, unit)}
}

// inBytes is blocks × unit: 0 for negative blocks (FreeBSD's f_bavail once
// root ate into the reserve), the largest int64 where that overflows or
// the unit makes no sense (no limit, then).
func inBytes(blocks, unit int64) int64 {
	if blocks < 0 {
		return 0
	}
	if unit <= 0 || blocks > math.MaxInt64/unit {
		return math.MaxInt64
	}
	return blocks * unit
}
