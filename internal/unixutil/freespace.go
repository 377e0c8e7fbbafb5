package unixutil

import "math"

// mulFree is blocks × unit: 0 for negative blocks (FreeBSD's f_bavail
// once root ate into the reserve), the largest int64 where that overflows
// or the unit makes no sense (free space is then no limit).
func mulFree(blocks, unit int64) int64 {
	if blocks < 0 {
		return 0
	}
	if unit <= 0 || blocks > math.MaxInt64/unit {
		return math.MaxInt64
	}
	return blocks * unit
}
