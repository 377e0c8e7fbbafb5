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
//	benchproc spinbudget -n N -dir DIR
//		how long a waiter spins in Lock behind a held lock before it
//		sleeps (median of N); bench/c/futex.c spinbudget measures
//		bench/c/lockword.h's, which spins the same way.
//	benchproc wakeup -kind K -n N [-w W] [-gap D] [-cpus A,B] [-key KEY] -dir DIR
//		wake-up of a sleeping waiter, from just before the other
//		process's act to the return of the wait: K is mutex (Unlock →
//		Lock), futex (raw FUTEX_WAKE → FUTEX_WAIT), cond (lock.Cond),
//		segwait (Segment.Wait), segnotif (WaitNotification) or sem
//		(lock.Semaphore Release → Acquire); W waiter goroutines in one
//		process; the notifier pinned to CPU A and the waiter to B (every
//		thread; -1: not pinned). Prints the median and distribution of
//		the wake-ups, the share on the notifier's CPU (KEY_samecpu) and
//		the waiter process's context switches per wake-up (KEY_switches).
//		bench/c/wake.c is the C side, step by step the same protocol.
//	benchproc prodcons -n N -dir DIR
//		N 64-byte items from a producer process to a consumer process
//		through a queue in shared memory with lock.Cond: items per second.
//	benchproc mkobjects -n N -dir DIR
//
// Timestamps are CLOCK_MONOTONIC, read through the vDSO as C reads it, so
// that they compare between processes and with bench/c's.
// Linux only, like bench/run; elsewhere it says so and exits 1.
package main
