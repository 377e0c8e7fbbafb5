//go:build linux && !openbsdsim

package main

import (
	"fmt"
	"io"
	"slices"
	_ "unsafe" // go:linkname
)

// nanotime is the runtime's monotonic clock: CLOCK_MONOTONIC through the
// vDSO on Linux, as C's clock_gettime. (x/sys/unix's ClockGettime is a
// real system call, which would add a microsecond to every Go timestamp
// on some kernels; time.Now's monotonic reading is relative to the start
// of the process, so it cannot be compared between processes.)
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// monotonic reads CLOCK_MONOTONIC in ns, comparable between processes.
func monotonic() uint64 { return uint64(nanotime()) }

// quantiles (percent) of the distributions the latency figures print,
// the same list as bench/c/bench.h's (TestQuantilesMatchC).
var quantiles = [...]float64{
	0, 1, 2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75,
	80, 85, 90, 95, 98, 99, 99.5, 99.9, 100,
}

// storeQuantiles sorts samples and leaves the sample at rank
// floor(q/100 × (n-1)) of each quantile q in dst (bench/c/bench.h's rule).
func storeQuantiles(dst []uint64, samples []uint64) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	for i, q := range quantiles {
		dst[i] = samples[int(q/100*float64(len(samples)-1))]
	}
}

// printQuantiles prints "KEY@pQ value unit" for each quantile in q.
func printQuantiles(out io.Writer, key, unit string, q []uint64) {
	for i, p := range quantiles {
		fmt.Fprintf(out, "%s@p%g %d %s\n", key, p, q[i], unit)
	}
}
