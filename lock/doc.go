// Package lock implements a crash-robust interprocess mutex in one 32-bit
// word of shared memory.
//
// The word may live in any MAP_SHARED mapping (a POSIX shared memory
// segment, a mapped file); every process that maps it builds its own [Mutex]
// over it with [New]. The package makes no system call and no allocation when
// the lock is free, sleeps in the kernel (futex(2), not the private variant)
// on Linux when it is contended, and falls back to spinning plus exponential
// sleep on other systems or when [WithBackoff] is given.
//
// # Word layout
//
// The word is futex-compatible and native-endian:
//
//	bits  0..29  PID of the holding process (0 = unlocked)
//	bit  30      waiters: some process may be sleeping in futex(2) on the word
//	bit  31      reserved (written as 0, ignored when read)
//
// A word whose PID field is 0 is unlocked; Unlock always stores exactly 0.
// Linux limits PIDs to 2^22 and OpenBSD to 100000, so 30 bits suffice.
//
// The optional fingerprint word ([WithFingerprint]) holds, while the lock is
// held, the holder's PID in bits 40..63 and the low 40 bits of its start time
// (clock ticks since boot, field 22 of /proc/PID/stat); it is 0 when nobody
// holds the lock or the holder has not written it yet. It lets a waiter tell
// a dead holder from an unrelated process that was later given the same PID.
//
// # Ownership
//
// The lock is held by a process, not by a goroutine, in the way flock(2)
// locks belong to an open file description: every goroutine of the process
// that holds the lock is excluded from other processes but not from one
// another's Unlock. Goroutines of one process still exclude each other in
// Lock, because the compare-and-swap from 0 fails while the word is nonzero,
// so a Mutex can be shared by goroutines like a sync.Mutex. Unlock may be
// called from any goroutine of the holding process. Locking twice from the
// same goroutine deadlocks, as with sync.Mutex.
//
// New records os.Getpid once. A Mutex must not be used across fork(2) without
// exec (Go programs cannot do that anyway); a process started later makes its
// own Mutex.
//
// # Dead holders
//
// A waiter that has waited for the stale interval ([WithStaleAfter]) checks
// whether the holder is still alive (kill(pid, 0); on Linux also whether it is
// an unreaped zombie and, with a fingerprint, whether the PID was reused). If
// the holder is dead, the waiter takes the lock over with one compare-and-swap
// from the exact word it examined and gets [ErrOwnerDead] with the lock held,
// like POSIX EOWNERDEAD for robust mutexes: the data the lock protects may be
// half-updated, so the caller must repair it before use and then Unlock as
// usual. Exactly one waiter recovers each death. TryLock checks the holder at
// once instead of waiting.
//
// Without /proc (systems other than Linux) an exited holder is recognized
// once its parent has reaped it, since kill(2) still finds a zombie, and PID
// reuse is not detected.
//
// A holder in another PID namespace cannot be checked (kill reports ESRCH, so
// it would be taken for dead): every user of a word must see the same PIDs.
package lock
