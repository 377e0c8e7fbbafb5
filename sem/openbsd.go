package sem

import (
	"sync/atomic"
	"syscall"
)

// OpenBSD's protocol (lib/libc/thread/rthread_sem.c rev 1.33, the futex
// implementation every architecture with futex(2) builds), on the words of
// struct __sem:
//
//   - _sem_wait adds one to waitcount, then takes a unit by
//     compare-and-swap of value while value > 0, else sleeps in futex(2)
//     on value while it is 0 (_twait: FUTEX_WAIT, shared, a relative
//     timeout), and looks again; after a timeout it tries once more
//     before it gives up. It subtracts its one from waitcount on the way
//     out, with or without a unit.
//   - _sem_post adds one to value and wakes one sleeper (_wake: FUTEX_WAKE,
//     shared). Since synch.h rev 1.10 both are futexes without
//     FUTEX_PRIVATE_FLAG, which OpenBSD's kernel keys by the mapped
//     object and offset (sys_futex.c, futex_addrs), so a post wakes a
//     waiter in any process that maps the file.
//
// Post here wakes only when waitcount is not 0, so that a post with
// nobody waiting makes no system call. That is safe because both sides'
// steps are full barriers: a C waiter's atomic_inc_int is a locked add
// (amd64, i386) or a __sync builtin (sys/atomic.h, elsewhere), Go's atomics
// are sequentially consistent. So either the poster's read of waitcount
// sees the waiter, or the waiter's read of value (its own, or the
// kernel's before it sleeps) sees the unit.
//
// OpenBSD's sem_post adds one without looking (at UINT_MAX the value wraps
// to 0); postOpenBSD refuses that with EOVERFLOW instead. The lock field
// is left alone: only rthread_sem_compat.c, for architectures without
// futex(2), uses it (see the package documentation).

// postOpenBSD is _sem_post on the value word v and the waitcount word wc.
func postOpenBSD(v, wc *uint32) error {
	for {
		x := atomic.LoadUint32(v)
		if x == openbsdValueMax {
			return syscall.EOVERFLOW
		}
		if atomic.CompareAndSwapUint32(v, x, x+1) {
			break
		}
	}
	if atomic.LoadUint32(wc) != 0 {
		futexWake(v, 1)
	}
	return nil
}

// tryWaitOpenBSD is sem_trywait on v.
func tryWaitOpenBSD(v *uint32) bool {
	for {
		x := atomic.LoadUint32(v)
		if x == 0 {
			return false
		}
		if atomic.CompareAndSwapUint32(v, x, x-1) {
			return true
		}
	}
}

// waitOpenBSD is _sem_wait on v and wc, sleeping through w.
func waitOpenBSD(v, wc *uint32, w *waiter) error {
	atomic.AddUint32(wc, 1)
	defer atomic.AddUint32(wc, ^uint32(0))
	var err error
	for {
		if tryWaitOpenBSD(v) {
			return nil
		}
		if err != nil {
			return err
		}
		err = w.block(v, 0)
	}
}
