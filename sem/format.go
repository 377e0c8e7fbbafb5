package sem

import (
	"encoding/binary"
	"math"
	"strconv"
	"syscall"
	"unsafe"
)

// A Format is the layout of a semaphore's file and the protocol its users
// follow on it. Every process that shares a semaphore must use the same one;
// Open picks it from the layout and, for glibc's, from the file's size.
type Format uint8

const (
	// Glibc64 is glibc's struct new_sem where the machine has 64-bit
	// atomics (nptl/internaltypes.h, glibc 2.21 and later): one uint64
	// "data" with the value in its low 32 bits and the number of
	// waiters that may sleep in its high 32, then int private (128,
	// FUTEX_SHARED, for sem_open's semaphores) and int pad; the file is
	// sizeof(sem_t), 32 bytes, the rest zero.
	Glibc64 Format = iota + 1
	// Glibc32 is the same struct where glibc has only 32-bit atomics
	// (i386, arm, 32-bit mips and powerpc): unsigned value holding the
	// value shifted left by one and, in bit 0, a "there may be waiters"
	// bit (SEM_VALUE_SHIFT, SEM_NWAITERS_MASK); int private; int pad;
	// unsigned nwaiters. The file is 16 bytes.
	Glibc32
	// OpenBSD is OpenBSD libc's struct __sem (lib/libc/include/
	// thread_private.h, used by lib/libc/thread/rthread_sem.c rev 1.33):
	// _atomic_lock_t lock (unused since semaphores became futex based);
	// int waitcount, the threads in sem_wait; unsigned value; int shared
	// (1 in sem_open's). The file is one page.
	OpenBSD
)

func (f Format) String() string {
	switch f {
	case Glibc64:
		return "glibc 64-bit"
	case Glibc32:
		return "glibc 32-bit"
	case OpenBSD:
		return "OpenBSD"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Limits of each format: the largest value sem_post may reach.
const (
	// glibcValueMax is glibc's SEM_VALUE_MAX, INT_MAX: sem_post fails
	// with EOVERFLOW there, and sem_open refuses a larger initial value.
	glibcValueMax = math.MaxInt32
	// openbsdValueMax is OpenBSD's SEM_VALUE_MAX (sys/syslimits.h),
	// UINT_MAX. OpenBSD's sem_post adds one without looking, so a C post
	// at this value wraps to 0; Post refuses it with EOVERFLOW instead.
	openbsdValueMax = math.MaxUint32
)

// Sizes of the files, and the offsets of the fields in them.
const (
	glibc64Size = 32 // sizeof(sem_t) with 64-bit longs: what sem_open writes
	glibc32Size = 16 // sizeof(sem_t) on 32-bit glibc

	glibcPrivateOff64 = 8  // int private, after uint64 data
	glibcPrivateOff32 = 4  // int private, after unsigned value
	glibcNwaitersOff  = 12 // 32-bit: unsigned nwaiters
	// futexShared is the private field of every semaphore sem_open
	// makes: FUTEX_SHARED, glibc's LLL_SHARED, which is FUTEX_PRIVATE_FLAG
	// (128). glibc passes FUTEX_PRIVATE_FLAG ^ private to futex(2), so
	// 128 means a futex without the private flag, one other processes'
	// waiters share.
	futexShared = 128

	obsdWaitcountOff = 4  // int waitcount, after the 1- or 4-byte lock
	obsdValueOff     = 8  // unsigned value
	obsdSharedOff    = 12 // int shared
	obsdStructSize   = 16

	// muslSize64 and muslSize32 are sizeof(sem_t) of musl, whose
	// sem_open writes that many bytes: int __val[4*sizeof(long)].
	muslSize64 = 128
	muslSize32 = 64
)

// bigEndian tells the byte order of this machine, which is the order of
// the words in a semaphore's file: only processes on one machine share it.
var bigEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 0
}()

// byteOrder is this machine's byte order.
func byteOrder() binary.ByteOrder {
	if bigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// glibcValueOff is the offset of the value's 32 bits in the 64-bit data
// word, which are the futex word glibc's waiters sleep on:
// SEM_VALUE_OFFSET, 0 on little-endian machines and 4 on big-endian ones.
func glibcValueOff() int {
	if bigEndian {
		return 4
	}
	return 0
}

// nativeGlibc is the format glibc uses on this architecture: the 64-bit
// one where pointers are 64 bits wide (every 64-bit architecture glibc
// supports has 64-bit atomics), else the 32-bit one.
func nativeGlibc() Format {
	if unsafe.Sizeof(uintptr(0)) == 8 {
		return Glibc64
	}
	return Glibc32
}

// glibcInit returns the initial content of a semaphore file of format f
// (Glibc64 or Glibc32) with value v: what glibc's sem_open writes into its
// temporary file before it links it to the name (__new_sem_open_init, the
// rest of sem_t zeroed).
func glibcInit(f Format, v uint32) []byte {
	o := byteOrder()
	if f == Glibc32 {
		b := make([]byte, glibc32Size)
		o.PutUint32(b, v<<1)
		o.PutUint32(b[glibcPrivateOff32:], futexShared)
		return b
	}
	b := make([]byte, glibc64Size)
	o.PutUint64(b, uint64(v))
	o.PutUint32(b[glibcPrivateOff64:], futexShared)
	return b
}

// Info is the state of a semaphore as its file holds it.
type Info struct {
	Format Format
	// Value is what sem_getvalue reports: the units that can be taken
	// now without waiting.
	Value int
	// Waiters is the count the format keeps of the processes' threads
	// that may be asleep waiting for a unit: glibc's nwaiters, OpenBSD's
	// waitcount. A waiter killed while it waited stays counted (a post
	// then makes one futex wake-up that finds nobody).
	Waiters int
}

// errFormat builds the error for a file whose content or size is no
// semaphore of the expected format.
func errFormat(reason string) error {
	return &formatError{reason: reason}
}

// formatError is a file that is not a semaphore of the format the layout
// wants: EINVAL, with why.
type formatError struct{ reason string }

func (e *formatError) Error() string { return e.reason }
func (e *formatError) Unwrap() error { return syscall.EINVAL }

// glibcFormatOf returns the glibc format of a semaphore file of size
// bytes whose first bytes are head (at least 16 of them, or the whole file
// when it is shorter), or why it is none: glibc's sem_open itself checks
// nothing and maps sizeof(sem_t) bytes of whatever it finds (a shorter
// file faults on first use). The size tells 64-bit glibc's 32 bytes from
// 32-bit glibc's 16, so a process of either width shares a semaphore with
// the C programs that made it, which glibc's own processes of the other
// width cannot; musl's sem_t is bigger and shaped differently (see the
// package documentation), and so is anything else.
func glibcFormatOf(size int64, head []byte) (Format, error) {
	var f Format
	switch size {
	case glibc64Size:
		f = Glibc64
	case glibc32Size:
		f = Glibc32
	case muslSize64, muslSize32:
		return 0, errFormat(strconv.FormatInt(size, 10) + " bytes, the size of musl's sem_t: a musl program's semaphore, whose layout glibc's cannot share")
	default:
		return 0, errFormat(strconv.FormatInt(size, 10) + " bytes: not a glibc semaphore (32 bytes, or 16 from a 32-bit process)")
	}
	if len(head) < glibc32Size {
		return 0, errFormat("short read")
	}
	off := glibcPrivateOff64
	if f == Glibc32 {
		off = glibcPrivateOff32
	}
	if p := byteOrder().Uint32(head[off:]); p != futexShared {
		// A sem_init'ed process-private semaphore, glibc before 2.21
		// (whose struct put nwaiters here), or no semaphore at all.
		return 0, errFormat("its private field is " + strconv.FormatUint(uint64(p), 10) + ", not 128 (FUTEX_SHARED) as in every semaphore glibc's sem_open makes")
	}
	return f, nil
}

// decode reads the Info of a semaphore of format f from the first bytes
// of its file (16 at least).
func decode(f Format, b []byte) Info {
	o := byteOrder()
	switch f {
	case Glibc64:
		d := o.Uint64(b)
		return Info{Format: f, Value: int(uint32(d)), Waiters: int(d >> 32)}
	case Glibc32:
		return Info{Format: f, Value: int(o.Uint32(b) >> 1), Waiters: int(o.Uint32(b[glibcNwaitersOff:]))}
	}
	return Info{Format: f, Value: int(o.Uint32(b[obsdValueOff:])), Waiters: int(int32(o.Uint32(b[obsdWaitcountOff:])))}
}

// Decode returns the state of a semaphore from its file's size and its
// first bytes (16 at least, or all of a shorter file), as the layout l
// would open it: OpenBSD's format for a Dir, glibc's otherwise. It reads
// what sem_getvalue reads, without the atomicity of a mapping: for tools
// that look at a semaphore without opening it (posixshm ls and stat).
func Decode(l Layout, size int64, head []byte) (Info, error) {
	if _, ok := l.(Dir); ok {
		if err := checkOpenBSDSize(size, false); err != nil {
			return Info{}, err
		}
		if len(head) < obsdStructSize {
			return Info{}, errFormat("short read")
		}
		return decode(OpenBSD, head), nil
	}
	f, err := glibcFormatOf(size, head)
	if err != nil {
		return Info{}, err
	}
	return decode(f, head), nil
}

// checkOpenBSDSize applies sem_open's size rule to a file of size bytes:
// one page, or, with O_CREAT, empty (the caller then sizes it).
func checkOpenBSDSize(size int64, creat bool) error {
	switch {
	case size == int64(pageSize):
		return nil
	case size == 0 && creat:
		return nil
	case size == 0:
		return errFormat("empty, and sem_open without O_CREAT wants one page (" + strconv.Itoa(pageSize) + " bytes): a semaphore still being created, or whose creator died")
	}
	return errFormat(strconv.FormatInt(size, 10) + " bytes, not one page (" + strconv.Itoa(pageSize) + "): not an OpenBSD semaphore")
}
