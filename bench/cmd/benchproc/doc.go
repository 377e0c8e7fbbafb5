// Command benchproc runs bench/run's multi-process figures for the Go side,
// and creates the objects of the "posixshm ls" figure. It re-executes
// itself for the child processes and prints "name value unit" lines (a
// distribution as "name@pQ value unit", one line per quantile Q).
//
//	benchproc increments -p P -m M -dir DIR [-plain]
//		P processes × M increments of one counter under a lock.Mutex: ns
//		per increment and, unless -plain, the records of how the lock
//		changed hands: handoffs, mean and longest streak of increments by
//		one process, longest wait of any process (bench/c/lock.c keeps the
//		same records for its locks).
//	benchproc pingpong -n N -dir DIR
//		two processes hand three lock.Mutex words back and forth: per
//		round trip, wall time, CPU time and context switches of both, and
//		the distribution of single round trips (one in 8 timed).
//	benchproc pingpong-futex -n N -dir DIR
//		the same with bench/c/futex.c's sleeping ping-pong written in Go.
//	benchproc wake -n N -dir DIR
//		wake-up of a waiter asleep in Lock: median and distribution of N.
//	benchproc spinbudget -n N -dir DIR
//		how long a waiter spins in Lock before it sleeps (median of N):
//		the spin budget bench/c/lockword.h is given.
//	benchproc condwake -n N -dir DIR
//		wake-up of a waiter asleep in lock.Cond's Wait, from just before
//		Signal to Wait's return: median and distribution of N.
//	benchproc condwake-futex -n N -dir DIR
//		the same with raw futex calls in Go, the floor for lock.Cond.
//	benchproc prodcons -n N -dir DIR
//		N 64-byte items from a producer process to a consumer process
//		through a queue in shared memory with lock.Cond: items per second.
//	benchproc mkobjects -n N -dir DIR
//
// Timestamps are CLOCK_MONOTONIC, read through the vDSO as C reads it, so
// that they compare between processes and with bench/c's.
// Linux only, like bench/run; elsewhere it says so and exits 1.
package main
