// Package segbench holds bench/run's benchmarks of posixshm.Segment:
// refresh-on-use overhead on Lock+Unlock, and a big segment created,
// written end to end and removed. They are apart from bench/gobench so
// the other figures build while Segment changes.
//
// Linux-only (bench/run is); on other systems the package is empty.
package segbench
