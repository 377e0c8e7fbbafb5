package segment

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
)

// DefaultRefreshInterval is how old a segment's times may grow before a use
// refreshes them, unless Options.RefreshInterval says otherwise.
const DefaultRefreshInterval = time.Hour

// DefaultInitTimeout is how long opening a segment waits for its creator to
// publish the header, unless Options.InitTimeout says otherwise.
const DefaultInitTimeout = time.Second

// Options configure creating and opening a segment. A nil
// *Options means all defaults.
type Options struct {
	// Layout is where the segment's name leads: a posixshm.Dir (OpenBSD's
	// layout rooted at a directory, on any system) or another
	// posixshm.Layout. Nil means posixshm.System(), this system's own
	// shm_open convention, so that C programs calling shm_open with the
	// same name open the same object.
	Layout posixshm.Layout
	// Perm is the permission of a new segment; 0 means 0600. OpenBSD's
	// layout masks it with 0600; the umask applies.
	Perm os.FileMode
	// RefreshInterval is how old the file's access time or the shared
	// refreshed-at stamp may grow before a use refreshes them (see
	// Segment.Refresh); 0 means DefaultRefreshInterval. A negative value
	// turns refresh-on-use off; Refresh and KeepAlive still work.
	RefreshInterval time.Duration
	// InitTimeout is how long opening waits for a segment's creator,
	// polling every few milliseconds: while the file is still empty (not
	// yet sized) and while the header's magic number is still zero (not
	// yet published). Then it gives up with ErrNotInitialized. 0 means
	// DefaultInitTimeout (1s). A valid segment is never waited for.
	InitTimeout time.Duration
	// StaleAfter is how long a locker waits before checking whether the
	// holder died (lock.WithStaleAfter); 0 means the lock package's
	// default.
	StaleAfter time.Duration
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.Layout == nil {
		v.Layout = posixshm.System()
	}
	if v.Perm == 0 {
		v.Perm = 0o600
	}
	if v.RefreshInterval == 0 {
		v.RefreshInterval = DefaultRefreshInterval
	}
	if v.InitTimeout <= 0 {
		v.InitTimeout = DefaultInitTimeout
	}
	return v
}

// A Segment is a shared memory object mapped into this process: a header
// (see HeaderSize) with a lock word, then a data region that every process
// mapping the object shares.
//
// Using a segment keeps it alive: opening it, and taking its lock, refresh
// the file's times when they are older than the refresh interval, so that
// OpenBSD's daily(8) does not delete it (see Refresh).
//
// The methods may be called from several goroutines at once. The lock
// belongs to the process (see package lock): goroutines of one process
// exclude each other in Lock, but any of them may Unlock.
//
// Opening checks the file's size against the header before mapping it, so
// a short or corrupt file is an error, never a fault. A file that another
// process truncates while it is mapped still makes touching Bytes fault
// (SIGBUS), as with any mapping; Stat reports that case as ErrTruncated.
//
// The header's 64-bit words (magic, stamps, lock word) are accessed with
// sync/atomic. On 32-bit ARM before ARMv7 Go implements those with a lock
// inside the process, which other processes do not see; segments work
// there, but a refresh may then happen twice.
type Segment struct {
	l       posixshm.Layout
	name    string
	f       *os.File // kept so that its finalizer does not close fd
	fd      int
	mem     []byte // the whole mapping: header, then data
	data    []byte
	stamp   *int64 // refreshed-at, in mem
	mu      *lock.Mutex
	creator bool

	interval int64         // refresh interval in ns; ≤ 0: no refresh on use
	state    atomic.Uint32 // stDue | stClosed
	rmu      sync.Mutex    // serializes refreshes, the timer and Close
	timer    *time.Timer   // sets stDue when the stamp may have gone stale

	// The lock methods touch the mapping outside rmu, possibly for a long
	// wait. They hold pin for reading; Close cancels closing, which makes
	// waiters (and KeepAlive) give up, and takes pin for writing before it
	// unmaps, so the lock word is never unmapped under a caller (that would
	// be a fault).
	pin     sync.RWMutex
	closing context.Context
	cancel  context.CancelFunc
}

// Create creates a new segment called name with size bytes of data,
// zeroed, in the layout opts.Layout names (this system's own shm_open
// convention if nil). It fails with fs.ErrExist if the name exists. If
// there is an error, it will be of type *fs.PathError.
func Create(name string, size int, opts *Options) (*Segment, error) {
	return createSegment(name, size, opts.withDefaults())
}

// Open opens the existing segment called name, waiting up to
// opts.InitTimeout for its creator to publish the header. A file that is
// not a valid segment is refused with an error that unwraps to one of
// ErrNotSegment, ErrVersion, ErrTruncated, ErrSizeMismatch and
// ErrNotInitialized (see ReadHeader), and is neither written nor
// refreshed. If there is an error, it will be of type *fs.PathError.
func Open(name string, opts *Options) (*Segment, error) {
	return openSegment(name, -1, opts.withDefaults())
}

// OpenOrCreate opens the segment called name, creating it with size bytes
// of data if it does not exist. Any number of processes may call it at
// once: exactly one creates and initializes the segment (Creator reports
// which), the others open it. An existing segment whose data size is not
// size gives ErrSizeMismatch. If there is an error, it will be of type
// *fs.PathError.
func OpenOrCreate(name string, size int, opts *Options) (*Segment, error) {
	o := opts.withDefaults()
	var err error
	// Bounded: each retry needs another process to unlink the name between
	// our create and our open.
	for range 8 {
		var s *Segment
		if s, err = createSegment(name, size, o); err == nil || !errors.Is(err, fs.ErrExist) {
			return s, err
		}
		if s, err = openSegment(name, int64(size), o); err == nil {
			return s, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, err
}

func createSegment(name string, size int, opts Options) (*Segment, error) {
	l := opts.Layout
	if size < 0 || int64(size) > maxSegment-HeaderSize || size > math.MaxInt-HeaderSize {
		return nil, &fs.PathError{Op: opSegment, Path: name, Err: fmt.Errorf("data size %d out of range: %w", size, syscall.EINVAL)}
	}
	f, err := l.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, opts.Perm)
	if err != nil {
		return nil, err
	}
	s, err := initialize(l, f, name, int64(size), opts)
	if err != nil {
		// Leave no empty file behind: every opener would wait for it and
		// fail with ErrNotInitialized.
		l.Unlink(name)
		f.Close()
		return nil, err
	}
	return s, nil
}

// initialize sizes, maps and fills a file just created.
func initialize(l posixshm.Layout, f *os.File, name string, size int64, opts Options) (*Segment, error) {
	fd, path := int(f.Fd()), f.Name()
	unixutil.Noatime(fd)
	total := HeaderSize + size
	if err := unixutil.IgnoringEINTR(func() error { return unix.Ftruncate(fd, total) }); err != nil {
		return nil, pathError("ftruncate", name, path, "", err)
	}
	mem, err := unix.Mmap(fd, 0, int(total), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, pathError("mmap", name, path, "", err)
	}
	h := newHeader(size, time.Now())
	hdr, err := h.AppendBinary(make([]byte, 0, HeaderSize))
	if err != nil {
		panic("segment: invalid new header: " + err.Error())
	}
	copy(mem[offMagic+8:HeaderSize], hdr[offMagic+8:])
	// Publish the header by storing the magic last, atomically. The store
	// has release semantics and the opener's atomic load of the magic has
	// acquire semantics (sync/atomic is sequentially consistent, and the
	// mapping is the same memory in every process), so an opener that sees
	// the magic also sees every field written above: never a half header.
	atomic.StoreUint64(magicWord(mem), magic)
	s := newSegment(l, f, name, mem, h, opts, true)
	s.refreshOnOpen(toNanos(h.Created)) // just created: only starts the timer
	return s, nil
}

// openSegment opens an existing segment; a wantSize ≥ 0 must match its
// data size.
func openSegment(name string, wantSize int64, opts Options) (*Segment, error) {
	l := opts.Layout
	f, err := l.Open(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	s, err := attach(l, f, name, wantSize, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// attach validates the file f and maps it. It writes nothing and refreshes
// nothing until the header is valid, so a refused file stays as it was.
func attach(l posixshm.Layout, f *os.File, name string, wantSize int64, opts Options) (*Segment, error) {
	fd, path := int(f.Fd()), f.Name()
	unixutil.Noatime(fd)
	deadline := time.Now().Add(opts.InitTimeout)
	var st unix.Stat_t
	// A creator makes the file and then sizes it with one ftruncate, so an
	// empty file may be one being created; a short nonempty one never is.
	for wait := poller(deadline); ; {
		if err := unixutil.Fstat(fd, &st); err != nil {
			return nil, pathError("fstat", name, path, "", err)
		}
		if st.Size != 0 || !wait() {
			break
		}
	}
	if st.Size < HeaderSize {
		_, hf := parseHeader(nil, st.Size)
		return nil, segmentError(name, path, hf)
	}
	// Map just the header's page to read it: the header lies within the
	// file, so reading it cannot fault whatever the header claims (unless
	// the file shrinks meanwhile, which noFault turns into ErrTruncated).
	hm, err := unix.Mmap(fd, 0, HeaderSize, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, pathError("mmap", name, path, "", err)
	}
	// Wait for the creator's atomic store of the magic; this atomic load
	// pairs with it (see initialize), so the fields after it are complete.
	var buf [HeaderSize]byte
	read := noFault(func() {
		for wait := poller(deadline); unpublished(atomic.LoadUint64(magicWord(hm))) && wait(); {
		}
		snapshot(&buf, hm)
	})
	unix.Munmap(hm)
	if !read {
		return nil, segmentError(name, path, fault(ErrTruncated, errTruncatedUnder))
	}
	// Size the file again: the creator's ftruncate came before its magic.
	if err := unixutil.Fstat(fd, &st); err != nil {
		return nil, pathError("fstat", name, path, "", err)
	}
	h, hf := parseHeader(buf[:], st.Size)
	if hf != nil {
		return nil, segmentError(name, path, hf)
	}
	if wantSize >= 0 && h.DataSize != wantSize {
		return nil, segmentError(name, path, fault(ErrSizeMismatch,
			"segment has "+itoa(h.DataSize)+" data bytes, caller asked for "+itoa(wantSize)))
	}
	end := h.DataOffset + h.DataSize
	if end > math.MaxInt {
		return nil, pathError("mmap", name, path, "segment of "+itoa(end)+" bytes exceeds the address space", syscall.ENOMEM)
	}
	// The file is at least DataOffset+DataSize bytes long (parseHeader
	// checked), so every byte of this mapping is backed: no SIGBUS.
	mem, err := unix.Mmap(fd, 0, int(end), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, pathError("mmap", name, path, "", err)
	}
	s := newSegment(l, f, name, mem, h, opts, false)
	s.refreshOnOpen(st.Atim.Nano())
	return s, nil
}

func newSegment(l posixshm.Layout, f *os.File, name string, mem []byte, h Header, opts Options, creator bool) *Segment {
	end := h.DataOffset + h.DataSize
	s := &Segment{
		l: l, name: name, f: f, fd: int(f.Fd()), creator: creator,
		mem:      mem,
		data:     mem[h.DataOffset:end:end],
		stamp:    (*int64)(unsafe.Pointer(&mem[offRefreshed])),
		interval: int64(opts.RefreshInterval),
	}
	s.closing, s.cancel = context.WithCancel(context.Background())
	// The mapping is page aligned, so these words are 4- and 8-byte
	// aligned as sync/atomic and futex(2) require.
	word := (*uint64)(unsafe.Pointer(&mem[offLockWord]))
	s.mu = lock.New64(word, lock.WithStaleAfter(opts.StaleAfter))
	return s
}

func magicWord(mem []byte) *uint64 { return (*uint64)(unsafe.Pointer(&mem[offMagic])) }

// unpublished reports whether a magic word still shows the creator at
// work: zero, or half of the magic, which a 32-bit system without 64-bit
// atomic stores may show for a moment.
func unpublished(m uint64) bool {
	return m == 0 || m == magic&math.MaxUint32 || m == magic&^math.MaxUint32
}

// snapshot copies the header in mem to buf, loading the words that other
// processes change at any time atomically, so none is torn.
func snapshot(buf *[HeaderSize]byte, mem []byte) {
	copy(buf[:], mem[:HeaderSize])
	p := unsafe.Pointer(&buf[0])
	*(*uint64)(unsafe.Add(p, offRefreshed)) = atomic.LoadUint64((*uint64)(unsafe.Pointer(&mem[offRefreshed])))
	*(*uint64)(unsafe.Add(p, offLockWord)) = atomic.LoadUint64((*uint64)(unsafe.Pointer(&mem[offLockWord])))
}

// poller returns a function that sleeps a little, 1 ms at first and up to
// 16 ms, and reports true, or reports false once deadline has passed.
func poller(deadline time.Time) func() bool {
	d := time.Millisecond
	return func() bool {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(d, left))
		d = min(2*d, 16*time.Millisecond)
		return true
	}
}

// segmentError is the error for a file refused because of its header.
func segmentError(name, path string, hf *headerError) error {
	hf.File = path
	return &fs.PathError{Op: opSegment, Path: name, Err: hf}
}

// Name returns the name the segment was opened by.
func (s *Segment) Name() string { return s.name }

// Path returns the file that holds the segment (for kernel objects, as on
// macOS and FreeBSD, the name).
func (s *Segment) Path() string { return s.f.Name() }

// Creator reports whether this Segment created the object, through
// Create or as the one winner of OpenOrCreate.
func (s *Segment) Creator() bool { return s.creator }

// Bytes returns the data region: shared with every process that maps the
// segment, DataSize bytes long, starting on a 64-byte boundary. It stays
// valid until Close; touching it afterwards faults. Unlink does not
// invalidate it.
func (s *Segment) Bytes() []byte { return s.data }

// Close unmaps the segment and closes its file. Bytes must not be used
// afterwards. The object itself remains; see Unlink. Calls of Lock and
// LockContext still waiting for the lock give up with an error wrapping
// fs.ErrClosed, and Close waits for them to return. Close does not release
// a lock this process holds (the lock belongs to the process, not to this
// Segment): Unlock first, or other processes recover it only once this
// process has exited. A second Close returns an error wrapping
// fs.ErrClosed. If there is an error, it will be of type *fs.PathError.
func (s *Segment) Close() error {
	s.rmu.Lock()
	if s.state.Load()&stClosed != 0 {
		s.rmu.Unlock()
		return &fs.PathError{Op: "close", Path: s.name, Err: fs.ErrClosed}
	}
	s.state.Or(stClosed)
	if s.timer != nil {
		s.timer.Stop()
	}
	// Refresh, Stat and refreshDue check stClosed under rmu, so they no
	// longer touch the mapping; the lock methods do, under pin. Not under
	// rmu: a lock method that has just acquired may need rmu to refresh.
	s.rmu.Unlock()
	s.cancel()
	s.pin.Lock()
	defer s.pin.Unlock()
	err := unix.Munmap(s.mem)
	s.mem, s.data = nil, nil
	if err != nil {
		s.f.Close()
		return pathError("munmap", s.name, s.f.Name(), "", err)
	}
	if err := s.f.Close(); err != nil {
		return &fs.PathError{Op: "close", Path: s.name, Err: err}
	}
	return nil
}

// Unlink removes the segment's name, as shm_unlink does: processes that
// have it mapped, this one included, keep using it, but nobody can open it
// any more. If there is an error, it will be of type *fs.PathError.
func (s *Segment) Unlink() error { return s.l.Unlink(s.name) }
