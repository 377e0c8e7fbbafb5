// Package sem is POSIX named semaphores (sem_open, sem_post, sem_wait...)
// in pure Go, byte for byte and wake-up for wake-up compatible with the C
// libraries' own: a Go program and a C program that open the same name
// share one semaphore, without cgo.
//
//	s, err := sem.Open("/jobs", os.O_CREATE, 0o600, 0) // glibc: /dev/shm/sem.jobs
//	if err != nil {
//		return err // *fs.PathError: "sem_open /jobs: ..."
//	}
//	defer s.Close()
//	s.Post()        // a C program's sem_wait("/jobs") wakes up
//	err = s.Wait()  // takes a unit a C program's sem_post made
//
// # Formats
//
// [Open] and [Unlink] follow this system's convention ([System]):
//
//   - Linux (glibc): the file /dev/shm/sem.NAME (leading slashes dropped;
//     an empty name or one with another slash is EINVAL), holding glibc's
//     struct new_sem ([Glibc64]; [Glibc32] on 32-bit architectures).
//     Creation writes the semaphore into a temporary file and links it to
//     the name, as glibc does, so no opener ever sees a half-made one.
//     sem_post and sem_wait follow nptl/sem_post.c and sem_waitcommon.c:
//     the value and the count of waiters in one 64-bit word (or the 32-bit
//     variant's value word with its "waiters" bit and a separate count),
//     and a futex wake-up, without FUTEX_PRIVATE_FLAG, only when a waiter
//     is counted.
//   - OpenBSD: the file /tmp/<sha256-hex(NAME)>.sem, one page, holding
//     OpenBSD's struct __sem ([OpenBSD]), opened and waited on as
//     lib/libc/thread/rthread_sem.c rev 1.33 does. [Dir] gives this format
//     in any directory, on any system: it is how Go programs share
//     semaphores in one format everywhere, and how the OpenBSD code is
//     tested on Linux.
//   - Elsewhere System's methods fail with ENOTSUP, naming the system:
//     FreeBSD's sem_open (libc over _umtx_op), NetBSD's (the kernel's
//     ksem) and macOS's (kernel system calls 268-273) are not reproduced
//     yet. Dir works there, shared with Go programs; its waiters poll
//     (below).
//
// Opening an existing glibc semaphore picks the format from the file's
// size, so a 64-bit process shares one made by a 32-bit program, which
// glibc's own processes of the other width cannot. A file of any other
// size is refused with EINVAL: glibc maps whatever it finds.
//
// musl's semaphores live in /dev/shm/sem.NAME too, but cannot be shared
// with glibc's: musl's sem_t is int[4*sizeof(long)] (128 bytes on 64-bit
// systems, 64 on 32-bit) with the value in __val[0], its top bit set while
// there are waiters (0x80000000 is "no unit, waiters"), the waiter count
// in __val[1] and the futex flag in __val[2]. glibc would read that top
// bit as 2^31 units. Open refuses musl's files (EINVAL, saying whose they
// are). musl's sem_open does not check the size of the file it maps, so a
// musl C program given the name of a semaphore made here would misread
// it: do not share names with musl programs.
//
// # Waiting and waking
//
// Post and TryWait are one compare-and-swap each when uncontended, with no
// system call (a post wakes a sleeper only when the format counts one).
// Wait sleeps in futex(2) on the value's word, as C's sem_wait does, with
// a timeout: it checks its context, its deadline and Close between sleeps
// (at least every 20 ms for a cancellable context, 100 ms otherwise), with
// no goroutine, timer or channel per wait. A Go waiter is woken by a C
// post and a C waiter by a Go post.
//
// On OpenBSD, futex(2) wakes waiters in other processes that map the file
// (shared futexes are keyed by the mapped object; libc's semaphores use
// them since synch.h rev 1.10), but Go reaches OpenBSD's system calls only
// through libc (pinsyscalls, OpenBSD 7.5), and neither package syscall nor
// golang.org/x/sys/unix has a futex stub; this package calls libc's futex
// through a trampoline of its own (futex_openbsd.go), built for every
// OpenBSD architecture Go supports but not run on OpenBSD here: the
// openbsdsim build runs the same protocol over Linux's futex(2), and a C
// reference of rthread_sem.c shares the file with it in the tests.
// rthread_sem.c is what OpenBSD builds where the kernel has futex(2);
// rthread_sem_compat.c, a spinlock in the lock field and __thrsleep, is
// only for architectures without it, none of which Go supports. On
// systems with no futex to reach, a waiter polls, backing off from 20 µs
// to 1 ms: a post is seen within a millisecond.
//
// OpenBSD's own sem_post always makes the wake-up system call; Post makes
// it only when waitcount says someone waits (see openbsd.go for why that
// is safe), and refuses to wrap the value at UINT_MAX (EOVERFLOW), where
// OpenBSD's would wrap to 0.
//
// # Not robust
//
// These semaphores, like C's, are not robust: a unit means nothing about
// who took it. A process that dies holding a unit (killed between its
// Wait and its Post, even by kill -9) loses it for good, and nothing can
// tell that it happened. A waiter that dies while waiting loses nothing
// and creates nothing: it takes a unit in one atomic step or not at all
// (a dead waiter stays counted, for good: nothing can tell a dead waiter
// from one about to sleep. Every later post then makes a futex wake-up
// that finds nobody, about 550 ns instead of 7 for Post+TryWait here, as
// glibc's sem_post does, 600 ns; a semaphore that has collected dead
// waiters is made fresh by removing and creating it while nobody uses
// it). A poster that dies between its increment and its wake-up leaves
// the unit there but a C waiter asleep until the next post (a Go waiter
// looks again within 100 ms).
//
// Choosing between this and lock.Semaphore: use this package when the
// other side is a C program (or any program using sem_open), or a shell
// script through "posixshm sem"; its format is fixed by the C library and
// so is its weakness. When every process is yours and written in Go, use
// lock.Semaphore (package lock), in memory you map (a segment's data, say):
// each of its units records its holder, so a unit held by a process that
// dies comes back, with lock.ErrOwnerDead to the process that gets it so
// that it can repair what the unit guarded. It cannot be shared with C's
// sem_wait.
//
// # Refresh
//
// Semaphores opened here keep their files from looking unused, as
// segments do: OpenBSD's daily(8) deletes files in /tmp not accessed for 7
// days, and posts and waits never touch a semaphore's file times. See
// [Semaphore.Refresh]; "posixshm keep --sem NAME" refreshes semaphores for
// C programs.
//
// # Errors and closing
//
// Errors are *fs.PathError with ops named after the C functions
// (sem_open, sem_unlink, sem_post, sem_wait, sem_timedwait, sem_trywait,
// sem_getvalue, sem_close, futimes) and the semaphore's name as Path; they
// unwrap to the errno (for errors about the file, through a
// posixshm.FileError that names it), so errors.Is(err, fs.ErrNotExist)
// and errors.Is(err, syscall.EOVERFLOW) work. Close ends the process's use
// of a semaphore (waiters in it return fs.ErrClosed); the semaphore stays
// until Unlink, and its value with it. Each open Semaphore keeps its
// file's descriptor (C's sem_open closes it) for refreshing.
//
// A creator killed between making its temporary file and linking it to
// the name leaves that file behind, as glibc's does: sem.XXXXXX beside
// glibc's semaphores ("posixshm gc --plain" removes it once idle),
// <sha256>.sem.XXXXXX beside OpenBSD's (daily(8) does, after a week).
// One killed between the link and the removal of the temporary name (a
// random kill of a creating process lands there about one time in eight,
// glibc's or ours) leaves the complete semaphore with two links: Open
// opens it, as glibc's sem_open does, when the other link is a temporary
// name in the same directory, and leaves that name alone (see
// leftover.go); such an open first waits about 40 ms for a live creator
// to remove it.
//
// Hardening beyond the C libraries, as for shared memory objects: symbolic
// links are never followed, a FIFO cannot block the open, only a regular
// file with one link is accepted (or two, the other a creator's
// temporary name, above), and a file too short to hold the format
// is refused rather than faulted on (glibc maps whatever it finds). A file
// truncated after it was opened (only its owner can do that in OpenBSD's
// layout, whoever may write it in glibc's) would fault (SIGBUS) at the
// next access, which kills a C program: here the methods return an error
// wrapping EFAULT that names the file, a waiter asleep at the time
// included, except an uncontended Post or TryWait that gets there first,
// which faults as in C (guarding that one compare-and-swap would double or
// triple its cost; see fault.go). OpenBSD pledge(2): opening needs "rpath wpath"
// ("cpath" to create), refreshing "fattr", posting and waiting "stdio".
package sem
