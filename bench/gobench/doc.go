// Package gobench holds the Go side of bench/run's micro-benchmarks: SHA-256
// itself (the other half of bench/c/path.c's OpenSSL figures; posixshm's
// own BenchmarkPath times name to path), open+close, the uncontended lock,
// each beside the figure it is compared with (sync.Mutex here; the C
// baselines are in bench/c), and
// segment.Segment: refresh-on-use overhead on Lock+Unlock, and a big
// segment created, written end to end and removed; and lock.Cond's
// notification with nobody waiting and lock.Semaphore's uncontended
// Acquire+Release.
//
// The benchmarks are Linux-only (bench/run is); on other systems the
// package is empty. Run them through bench/run, or alone with
//
//	BENCH_DIR=$(mktemp -d /dev/shm/posixshm-bench-XXXX) go test -run '^$' -bench . ./bench/gobench
//
// BENCH_DIR must be a directory on tmpfs; the benchmarks create their
// objects there and in /dev/shm and remove them again.
package gobench
