package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/inode"
	"github.com/posixshm/posixshm/internal/memfault"
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
	// yet published) and the creator lives (it holds a record lock until
	// it has published). Then it gives up with ErrNotInitialized. It is
	// also how long Create and OpenOrCreate wait for another process that
	// is building the same segment under a temporary name (see "Creators
	// that die" in the package documentation). 0 means DefaultInitTimeout
	// (1s). A valid segment is never waited for.
	InitTimeout time.Duration
	// StaleAfter is how long a locker waits before checking whether the
	// holder died (lock.WithStaleAfter); 0 means the lock package's
	// default. It is also how long a waiter for a notification (Wait,
	// WaitNotification) sleeps at most before it looks at the notify word
	// by itself; 0 means lock.DefaultRecheck there.
	StaleAfter time.Duration
	// Slots is the size of a new segment's attachment table: how many
	// processes can be attached at once with a slot of their own (more
	// still attach, without one; see Attachments.Overflow). 0 means
	// DefaultSlots (64); at most MaxSlots. Each slot takes 8 bytes of the
	// file. Opening an existing segment ignores it.
	Slots int
	// RemoveWhenUnused makes a new segment remove its file when its last
	// live user detaches: by Close, or, if its users died without closing
	// it, when the next opener finds every other attachment dead (that
	// opener then starts afresh: OpenOrCreate creates a new segment, Open
	// finds none). It is recorded in the header, so every user of the
	// segment follows it; opening an existing segment ignores the option.
	// It needs record locks on the object: Create refuses it with
	// ENOTSUP on macOS's and FreeBSD's own shm_open objects (use a
	// posixshm.Dir there).
	RemoveWhenUnused bool
	// TxLog is the size in bytes of a new segment's undo log, which
	// transactions need (Segment.Begin): 0 means none, and Begin then
	// fails with ErrNoTxLog. Each snapshot of n bytes in a transaction
	// takes 16 + n rounded up to 8 bytes of it. It is rounded up to a
	// multiple of 64 and recorded in the header (with a 64-byte control
	// line), so every user of the segment finds it; at most MaxTxLog.
	// Opening an existing segment ignores it.
	TxLog int
	// Prealloc reserves the storage of a new segment's whole file when
	// it is created, before the segment gets its name, so that a file
	// system too full to hold it fails Create with ENOSPC (or EDQUOT),
	// leaving nothing behind, instead of letting a later store into
	// Bytes() fault with SIGBUS. Without it the file is sparse: tmpfs
	// (Linux's /dev/shm) charges a page only when it is first touched,
	// so a segment larger than the memory left is created without error
	// and its users die at the first page that cannot be had. Linux uses
	// fallocate(2) and FreeBSD (64-bit) posix_fallocate(2); elsewhere
	// (OpenBSD, NetBSD, DragonFly, illumos, macOS, 32-bit FreeBSD), and
	// where the file system refuses those calls (ZFS), Create writes a
	// zero byte into every block (page) of the new file instead, as
	// glibc's posix_fallocate does: slower (a write per page), with the
	// same result on tmpfs, mfs and FFS. Not on ZFS: with compression on
	// (the default since OpenZFS 2.2) it stores blocks of zeros as holes,
	// and as a copy-on-write file system it needs new blocks for every
	// later write anyway, so nothing there can reserve a segment's file
	// (keep segments on tmpfs). An object that cannot be written (macOS's
	// own shared memory objects) fails Create with the write's error.
	// Preallocated memory stays charged until the segment is removed,
	// used or not.
	// Opening an existing segment ignores it.
	Prealloc bool
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
// (see HeaderSize) with a lock word, a notify word and a table of the
// processes attached to it, then a data region that every process mapping
// the object shares.
//
// Using a segment keeps it alive: opening it, and taking its lock, refresh
// the file's times when they are older than the refresh interval, so that
// OpenBSD's daily(8) does not delete it (see Refresh).
//
// The methods may be called from several goroutines at once. The lock
// belongs to the process's attachment (see the package documentation):
// goroutines of one process exclude each other in Lock, but any of them
// may Unlock.
//
// Opening checks the file's size against the header before mapping it, so
// a short or corrupt file is an error, never a fault. A file that another
// process truncates while it is mapped is an error too, wherever the
// package touches the mapping: every method returns an error wrapping
// ErrTruncated rather than fault (Notify and NotifyAll do nothing). Only
// the caller's own use of Bytes faults then (SIGBUS), as with any
// mapping; ReadAt and WriteAt copy in and out of the data without that
// risk.
//
// Every Segment of one file in a process shares one descriptor, one
// mapping and one attachment (see the package documentation).
//
// The header's 64-bit words (magic, stamps, table) are accessed with
// sync/atomic. On 32-bit ARM before ARMv7 Go implements those with a lock
// inside the process, which other processes do not see; segments work
// there, but a refresh may then happen twice.
type Segment struct {
	l       posixshm.Layout
	name    string
	path    string
	att     *attachment // shared with this process's other Segments of the file
	mem     []byte      // the whole mapping (att.mem): header, table, then data
	data    []byte
	stamp   *int64 // refreshed-at, in mem
	mu      *lock.Mutex
	cond    *lock.Cond // on the notify word
	count   *uint32    // the notification count, in mem
	recheck time.Duration
	creator bool

	interval int64         // refresh interval in ns; ≤ 0: no refresh on use
	state    atomic.Uint32 // stDue | stClosed
	rmu      sync.Mutex    // serializes refreshes, the timer and Close
	timer    *time.Timer   // sets stDue when the stamp may have gone stale

	// The lock and wait methods touch the mapping outside rmu, possibly
	// for a long wait. Close closes cond and mu first, which makes their
	// waiters give up and waits for them, then waits until watchers (the
	// calls of WaitNotification) is 0, so the header is never unmapped
	// under a waiter (that would be a fault); done tells KeepAlive to
	// stop.
	watchers atomic.Int32
	done     chan struct{}

	tx Tx // the transaction Begin starts (tx.go); tx.head is nil without an undo log
}

// Create creates a new segment called name with size bytes of data,
// zeroed, in the layout opts.Layout names (this system's own shm_open
// convention if nil), and attaches to it. It fails with fs.ErrExist if the
// name exists. The segment appears under its name complete, or not at
// all (see "Creators that die" in the package documentation). If there
// is an error, it will be of type *fs.PathError.
func Create(name string, size int, opts *Options) (*Segment, error) {
	return createSegment(name, size, opts.withDefaults())
}

// Open opens the existing segment called name and attaches to it, waiting
// up to opts.InitTimeout for its creator to publish the header. A file
// that is not a valid segment is refused with an error that unwraps to one
// of ErrNotSegment, ErrVersion, ErrTruncated, ErrSizeMismatch,
// ErrNotInitialized and ErrCorrupt (see ReadHeader), and is neither
// written nor refreshed. If there is an error, it will be of type
// *fs.PathError.
func Open(name string, opts *Options) (*Segment, error) {
	return openSegment(name, -1, opts.withDefaults())
}

// OpenOrCreate opens the segment called name, creating it with size bytes
// of data if it does not exist. Any number of processes may call it at
// once: exactly one creates and initializes the segment (Creator reports
// which), the others open it. An existing segment whose data size is not
// size gives ErrSizeMismatch. With Options.Prealloc, a call that finds no
// room for the segment's file waits up to InitTimeout for another
// process's OpenOrCreate of the same name, which may hold the space (see
// raceForSpace), before it fails with ENOSPC. If there is an error, it
// will be of type *fs.PathError.
func OpenOrCreate(name string, size int, opts *Options) (*Segment, error) {
	o := opts.withDefaults()
	var err error
	// Bounded: each retry needs another process to unlink the name between
	// our create and our open, or to give back the space it took.
	for range maxRetries {
		var s *Segment
		s, err = createSegment(name, size, o)
		if err != nil && o.Prealloc && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)) {
			var retry bool
			if s, err, retry = raceForSpace(name, size, o, err); !retry {
				return s, err
			}
			continue
		}
		if err == nil || !errors.Is(err, fs.ErrExist) {
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

// raceForSpace follows an OpenOrCreate whose Create with Prealloc failed
// with noSpace. Another creator of the same name may hold the space: one
// that reserved it first and is about to publish (a segment gets its name
// only once it is complete, so nothing shows it yet), or one whose
// reservation failed too, each of them having taken part of the space. So
// wait for the name as Open waits for a creator, up to InitTimeout, and
// create again (retry) once the file would fit again. Objects that live in
// the kernel get their name before their memory: no such race.
func raceForSpace(name string, size int, o Options, noSpace error) (s *Segment, err error, retry bool) {
	_, need, err := fileSize(name, size, &o)
	if err != nil {
		return nil, noSpace, false
	}
	path, err := o.Layout.Path(name)
	if err != nil || path == name {
		return nil, noSpace, false
	}
	dir := path[:max(strings.LastIndexByte(path, '/'), 1)]
	for wait := poller(time.Now().Add(o.InitTimeout)); ; {
		s, err := openSegment(name, int64(size), o)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return s, err, false
		}
		if roomFor(dir, need) {
			// Racers that all failed retry at once: apart, one wins.
			time.Sleep(rand.N(2 * time.Millisecond))
			return nil, nil, true
		}
		if !wait() {
			return nil, noSpace, false
		}
	}
}

// roomFor reports whether the file system of dir has need bytes free, as
// unixutil.Preallocate counts them.
func roomFor(dir string, need int64) bool {
	fd, err := unixutil.IgnoringEINTR2(func() (int, error) { return unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	sp, err := unixutil.FreeSpace(fd)
	return err == nil && (sp.Total == 0 || need <= sp.Free)
}

// FileSize returns the size of the file that Create(name, size, opts)
// makes: the header, the attachment table, the name, the undo log and the
// size bytes of data. A tool can compare it with the free space of the
// file system the segment goes on. It refuses what Create refuses for
// its size, slots or undo log, with the same errors. If there is an
// error, it will be of type *fs.PathError.
func FileSize(name string, size int, opts *Options) (int64, error) {
	o := opts.withDefaults()
	_, n, err := fileSize(name, size, &o)
	return n, err
}

// fileSize checks the sizes in a new segment's options and returns its
// slot count and the size of its file.
func fileSize(name string, size int, opts *Options) (slots int, n int64, err error) {
	slots = opts.Slots
	if slots == 0 {
		slots = DefaultSlots
	}
	if slots < 0 || slots > MaxSlots {
		return 0, 0, &fs.PathError{Op: opSegment, Path: name, Err: fmt.Errorf("%d slots out of range 1..%d: %w", slots, MaxSlots, syscall.EINVAL)}
	}
	if opts.TxLog < 0 || opts.TxLog > MaxTxLog {
		return 0, 0, &fs.PathError{Op: opSegment, Path: name, Err: fmt.Errorf("undo log of %d bytes out of range 0..%d: %w", opts.TxLog, MaxTxLog, syscall.EINVAL)}
	}
	_, _, _, start := placeParts(slots, name, int64(opts.TxLog))
	if size < 0 || int64(size) > maxSegment-start || int64(size) > math.MaxInt-start {
		return 0, 0, &fs.PathError{Op: opSegment, Path: name, Err: fmt.Errorf("data size %d out of range: %w", size, syscall.EINVAL)}
	}
	return slots, start + int64(size), nil
}

// maxRetries bounds the attempts of OpenOrCreate and Open when other
// processes remove the name under them.
const maxRetries = 8

func createSegment(name string, size int, opts Options) (*Segment, error) {
	l := opts.Layout
	slots, _, err := fileSize(name, size, &opts)
	if err != nil {
		return nil, err
	}
	for wait := poller(time.Now().Add(opts.InitTimeout)); ; {
		u, err := posixshm.CreateUnnamed(l, name, opts.Perm)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			return createNamed(l, name, int64(size), slots, opts)
		case errors.Is(err, syscall.EBUSY):
			// Another process is building the segment.
			if err = createBusy(l, name, err, wait); err == nil {
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		f := u.File()
		s, err := initialize(l, f, name, int64(size), slots, opts, u)
		if err != nil {
			u.Remove()
			if !inode.Held(keyOfFile(f)) { // else joined by its temporary name: see abandonNew
				f.Close()
			}
			return nil, err
		}
		return s, nil
	}
}

// createNamed is createSegment for a layout that cannot build a segment
// before naming it: the file is made under its name (see creation.go).
func createNamed(l posixshm.Layout, name string, size int64, slots int, opts Options) (*Segment, error) {
	f, err := l.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, opts.Perm)
	if err != nil {
		return nil, err
	}
	s, err := initialize(l, f, name, size, slots, opts, nil)
	if err != nil {
		// Leave no empty file behind: every opener would wait for it and
		// fail with ErrNotInitialized.
		l.Unlink(name)
		f.Close() // a new file: no attachment of ours can share it
		return nil, err
	}
	return s, nil
}

// keyOfFile is the key of f's file, or the zero key if fstat fails.
func keyOfFile(f *os.File) fileKey {
	var st unix.Stat_t
	unixutil.Fstat(int(f.Fd()), &st)
	return keyOf(&st)
}

// initialize sizes, maps and fills a file just created, and attaches to
// it. If u is not nil, the file is unnamed (creation.go), and initialize
// names it once the segment is complete; otherwise the file is at its
// name already, and the creation lock covers the time until the header
// is published.
func initialize(l posixshm.Layout, f *os.File, name string, size int64, slots int, opts Options, u *posixshm.Unnamed) (*Segment, error) {
	fd, path := int(f.Fd()), filePath(l, name)
	var st unix.Stat_t
	if err := unixutil.Fstat(fd, &st); err != nil {
		return nil, pathError("fstat", name, path, "", err)
	}
	if u == nil {
		// Before the file has a size: see creation.go.
		locked := beginCreation(fd, keyOf(&st))
		defer endCreation(fd, keyOf(&st), locked)
	}
	unixutil.Noatime(fd)
	h := newHeader(name, size, slots, opts, time.Now())
	total := h.DataOffset + size
	if err := unixutil.IgnoringEINTR(func() error { return unix.Ftruncate(fd, total) }); err != nil {
		return nil, pathError("ftruncate", name, path, "", err)
	}
	if opts.Prealloc {
		// Before anything is written or named: a shortage leaves no
		// segment (the caller removes the file). An unnamed file is
		// built before its name is tried: a name that is taken is
		// EEXIST (OpenOrCreate then opens it), not the shortage that
		// the segment under it may cause, and is not worth reserving
		// the memory for.
		if u != nil {
			if err := u.Taken(); err != nil {
				return nil, err
			}
		}
		if byWrites, err := unixutil.Preallocate(fd, total); err != nil {
			if u != nil {
				if err := u.Taken(); err != nil {
					return nil, err // taken meanwhile
				}
			}
			how := "reserving " + itoa(total) + " bytes"
			if byWrites {
				how += " by writing zeros"
			}
			return nil, pathError("fallocate", name, path, how, err)
		}
	}
	mem, err := unix.Mmap(fd, 0, int(total), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, pathError("mmap", name, path, "", err)
	}
	hdr, err := h.AppendBinary(nil)
	if err != nil {
		panic("segment: invalid new header: " + err.Error())
	}
	if testHookSized != nil {
		testHookSized()
	}
	// The file may be truncated under the mapping even now (a temporary
	// file has a name: creation.go): every access is guarded (fault.go).
	truncated := func() error {
		return segmentError(name, path, fault(ErrTruncated, "file was truncated while the segment was being created"))
	}
	if !memfault.Catch(func() { copy(mem[offMagic+8:], hdr[offMagic+8:]) }) {
		unix.Munmap(mem)
		return nil, truncated()
	}
	a := newAttachment(l, name, f, &st, mem, &h)
	// Attach before publishing: whoever can open the segment sees its
	// creator attached.
	inode.Hold(a.key)
	err = a.claim(true)
	if err == nil && a.pids && a.remove {
		a.release()
		err = fmt.Errorf("remove when unused needs record locks, which this object does not take: %w", syscall.ENOTSUP)
	}
	if err != nil {
		unix.Munmap(mem)
		inode.Release(a.key, nil)
		return nil, pathError("fcntl", name, path, "", err)
	}
	if testHookPublish != nil {
		testHookPublish()
	}
	// Publish the header by storing the magic last, atomically. The store
	// has release semantics and the opener's atomic load of the magic has
	// acquire semantics (sync/atomic is sequentially consistent, and the
	// mapping is the same memory in every process), so an opener that sees
	// the magic also sees every field written above: never a half header.
	if !memfault.Catch(func() { atomic.StoreUint64(magicWord(mem), magic) }) {
		a.release()
		unix.Munmap(mem)
		inode.Release(a.key, nil)
		return nil, truncated()
	}
	files.mu.Lock()
	a.register()
	files.mu.Unlock()
	if u != nil {
		// Complete: now the name may lead to it.
		if err := u.Link(); err != nil {
			a.abandonNew()
			return nil, err
		}
	}
	s := newSegment(a, name, path, opts, true)
	// Just created: only starts the timer (unless the file was truncated
	// meanwhile).
	if err := s.refreshOnOpen(toNanos(h.Created)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openSegment opens an existing segment; a wantSize ≥ 0 must match its
// data size.
func openSegment(name string, wantSize int64, opts Options) (*Segment, error) {
	for range maxRetries {
		s, err := openOnce(name, wantSize, opts)
		if err != errRetry {
			return s, err
		}
	}
	return nil, &fs.PathError{Op: opSegment, Path: name, Err: fmt.Errorf("removed %d times while attaching: %w", maxRetries, syscall.EAGAIN)}
}

// openOnce opens and attaches to the segment called name: through this
// process's attachment to its file if there is one, else by opening the
// file. It returns errRetry if the file was removed as it attached.
func openOnce(name string, wantSize int64, opts Options) (*Segment, error) {
	if s, err, ok := join(name, wantSize, opts); ok {
		return s, err
	}
	l := opts.Layout
	f, err := l.Open(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	mem, h, st, err := mapSegment(f, name, wantSize, opts)
	if err != nil {
		closeFile(f, filePath(l, name))
		return nil, err
	}
	if testHookAttach != nil {
		testHookAttach()
	}
	a, err := adopt(l, name, f, &st, mem, &h)
	if err == errRetry {
		return nil, err
	}
	if err != nil {
		return nil, pathError("fcntl", name, filePath(l, name), "", err)
	}
	s := newSegment(a, name, filePath(l, name), opts, false)
	if err := s.refreshOnOpen(st.Atim.Nano()); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// testHookAttach, if set, runs between mapping a file and attaching to
// it; testHookSized after a creator sized and mapped its file, before it
// writes the header; testHookPublish before a creator publishes the
// header: tests widen those windows with them.
var testHookAttach, testHookSized, testHookPublish func()

// join opens a Segment on this process's attachment to the file that name
// leads to, if there is one (ok). Opening the file again would make a
// descriptor that could not be closed before the attachment ends (see
// attachment), so this looks the path up first.
func join(name string, wantSize int64, opts Options) (s *Segment, err error, ok bool) {
	files.mu.Lock()
	none := len(files.m) == 0
	files.mu.Unlock()
	if none {
		return nil, nil, false
	}
	path, err := opts.Layout.Path(name)
	if err != nil {
		return nil, nil, false // opening will say what is wrong
	}
	var st unix.Stat_t
	if unixutil.IgnoringEINTR(func() error { return unix.Lstat(path, &st) }) != nil {
		return nil, nil, false
	}
	files.mu.Lock()
	a := files.m[keyOf(&st)]
	if a == nil {
		files.mu.Unlock()
		return nil, nil, false
	}
	if a.closing { // its last Close is at work: open the file afresh after it
		files.mu.Unlock()
		<-a.gone
		return nil, nil, false
	}
	// As the layout's Open refuses it (posixshm's one-link rule): a link
	// someone made to the file, at this name or at another. Unless this
	// process is publishing the segment, whose temporary name is the
	// second link for a moment (creation.go).
	if st.Nlink > 1 && !inode.Creating(a.key) {
		files.mu.Unlock()
		return nil, pathError("shm_open", name, path, "has "+itoa(int64(st.Nlink))+" hard links; refusing a shared object that is also another file", syscall.EPERM), true
	}
	if wantSize >= 0 && a.dataSize != wantSize {
		files.mu.Unlock()
		return nil, segmentError(name, path, fault(ErrSizeMismatch,
			"segment has "+itoa(a.dataSize)+" data bytes, caller asked for "+itoa(wantSize))), true
	}
	if st.Size < int64(len(a.mem)) { // truncated under our mapping
		files.mu.Unlock()
		return nil, segmentError(name, path, fault(ErrTruncated,
			"file has "+itoa(st.Size)+" bytes, the mapping "+itoa(int64(len(a.mem))))), true
	}
	a.refs++
	files.mu.Unlock()
	s = newSegment(a, name, path, opts, false)
	if err := s.refreshOnOpen(st.Atim.Nano()); err != nil {
		s.Close()
		return nil, err, true
	}
	return s, nil, true
}

// adopt attaches to the file f, mapped at mem: through this process's
// attachment to it if another goroutine made one meanwhile, else with a new
// attachment. On error it unmaps mem and closes f.
func adopt(l posixshm.Layout, name string, f *os.File, st *unix.Stat_t, mem []byte, h *Header) (*attachment, error) {
	files.mu.Lock()
	defer files.mu.Unlock()
	var deadline time.Time
	for {
		if a := files.m[keyOf(st)]; a != nil {
			if a.closing {
				// Its last Close is at work; locking through f before it
				// closed its descriptors would lose our locks (POSIX).
				files.mu.Unlock()
				<-a.gone
				files.mu.Lock()
				continue
			}
			unix.Munmap(mem)
			closeFile(f, filePath(l, name)) // parked until the attachment ends
			a.refs++
			return a, nil
		}
		r := files.removals[keyOf(st)]
		if r == nil {
			break
		}
		// A RemoveUnused of this process holds the removal gate: wait for
		// it as for another process's (claimGated), which POSIX locks
		// would not make us do.
		if deadline.IsZero() {
			deadline = time.Now().Add(gateWait)
		}
		left := time.Until(deadline)
		if left <= 0 {
			unix.Munmap(mem)
			closeFile(f, filePath(l, name))
			return nil, fmt.Errorf("removal gate held by RemoveUnused in this process for %v: %w", gateWait, syscall.EAGAIN)
		}
		files.mu.Unlock()
		select {
		case <-r.done:
		case <-time.After(left):
		}
		files.mu.Lock()
	}
	a := newAttachment(l, name, f, st, mem, h)
	inode.Hold(a.key)
	if err := a.claim(false); err != nil {
		unix.Munmap(mem)
		inode.Release(a.key, f) // closed, unless this process holds the file otherwise
		return nil, err
	}
	a.register()
	return a, nil
}

// mapSegment validates the file f and maps it. It writes nothing and
// refreshes nothing, so a refused file stays as it was.
func mapSegment(f *os.File, name string, wantSize int64, opts Options) ([]byte, Header, unix.Stat_t, error) {
	fd, path := int(f.Fd()), filePath(opts.Layout, name)
	unixutil.Noatime(fd)
	// Where there is no O_NOATIME, reading the header may move the access
	// time: put it back, and leave refreshing to the caller, which judges
	// by st's (so st must be taken after).
	restore := unixutil.KeepAtime(fd)
	var st unix.Stat_t
	fail := func(err error) ([]byte, Header, unix.Stat_t, error) {
		restore()
		return nil, Header{}, st, err
	}
	deadline := time.Now().Add(opts.InitTimeout)
	// A creator makes the file and then sizes it with one ftruncate, so an
	// empty file may be one being created; a short nonempty one never is.
	for wait := poller(deadline); ; {
		if err := unixutil.Fstat(fd, &st); err != nil {
			return fail(pathError("fstat", name, path, "", err))
		}
		if st.Size != 0 || !wait() {
			break
		}
	}
	if st.Size == 0 {
		_, hf := parseHeader(nil, 0)
		return fail(segmentError(name, path, hf))
	}
	// Map just the header's page to read it: the header lies within the
	// file's first page, so reading it cannot fault whatever it claims
	// (unless the file shrinks meanwhile, which memfault.Catch turns into
	// ErrTruncated); past the end of a short file it reads zeros.
	hm, err := unix.Mmap(fd, 0, HeaderSize, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fail(pathError("mmap", name, path, "", err))
	}
	// Wait for the creator's atomic store of the magic; this atomic load
	// pairs with it (see initialize), so the fields after it are complete.
	// Stop waiting if the creator dies (creation.go).
	var buf [HeaderSize]byte
	dead := false
	read := memfault.Catch(func() {
		for wait := poller(deadline); unpublished(atomic.LoadUint64(magicWord(hm))); {
			if dead = creatorDied(fd, keyOf(&st)); dead || !wait() {
				break
			}
		}
		snapshot(buf[:], hm)
	})
	unix.Munmap(hm)
	if !read {
		return fail(segmentError(name, path, fault(ErrTruncated, errTruncatedUnder)))
	}
	// Size the file again: the creator's ftruncate came before its magic.
	if err := unixutil.Fstat(fd, &st); err != nil {
		return fail(pathError("fstat", name, path, "", err))
	}
	h, hf := decodeFixed(buf[:], st.Size)
	if hf != nil && hf.Err == ErrNotInitialized && dead {
		return fail(abandoned(fd, keyOf(&st), buf[:], opts.Layout, name, path))
	}
	if hf == nil {
		hf = checkFileSize(h.DataOffset+h.DataSize, st.Size)
	}
	if hf != nil {
		return fail(segmentError(name, path, hf))
	}
	if wantSize >= 0 && h.DataSize != wantSize {
		return fail(segmentError(name, path, fault(ErrSizeMismatch,
			"segment has "+itoa(h.DataSize)+" data bytes, caller asked for "+itoa(wantSize))))
	}
	end := h.DataOffset + h.DataSize
	if end > math.MaxInt {
		return fail(pathError("mmap", name, path, "segment of "+itoa(end)+" bytes exceeds the address space", syscall.ENOMEM))
	}
	// The file is at least DataOffset+DataSize bytes long (checked above),
	// so every byte of this mapping is backed: no SIGBUS.
	mem, err := unix.Mmap(fd, 0, int(end), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail(pathError("mmap", name, path, "", err))
	}
	// Now the table, which the header page may not hold: checked in place,
	// each word loaded atomically. (h.Table stays empty: nobody needs it.)
	// Then the name (version 3).
	if !memfault.Catch(func() {
		hf = checkTable(h.Slots, func(i int) uint64 {
			return atomic.LoadUint64((*uint64)(unsafe.Pointer(&mem[tableOffset+slotSize*i])))
		})
		if hf == nil {
			hf = decodeName(&h, mem)
		}
	}) {
		hf = fault(ErrTruncated, errTruncatedUnder)
	}
	if hf != nil {
		unix.Munmap(mem)
		return fail(segmentError(name, path, hf))
	}
	if restore() {
		if err := unixutil.Fstat(fd, &st); err != nil {
			unix.Munmap(mem)
			return fail(pathError("fstat", name, path, "", err))
		}
	}
	return mem, h, st, nil
}

// filePath is the file behind name in l, for errors and Path: a file's
// Name() is the name it was opened with, not its path (see posixshm.Open).
func filePath(l posixshm.Layout, name string) string {
	p, err := l.Path(name)
	if err != nil {
		return name
	}
	return p
}

func newSegment(a *attachment, name, path string, opts Options, creator bool) *Segment {
	end := int64(len(a.mem))
	s := &Segment{
		l: opts.Layout, name: name, path: path, att: a, creator: creator,
		mem:      a.mem,
		data:     a.mem[end-a.dataSize : end : end],
		stamp:    (*int64)(unsafe.Pointer(&a.mem[offRefreshed])),
		interval: int64(opts.RefreshInterval),
		done:     make(chan struct{}),
	}
	// The mapping is page aligned, so the word is 8-byte aligned as
	// sync/atomic and futex(2) require. The lock identifies its holder by
	// attachment (identity.go).
	word := (*uint64)(unsafe.Pointer(&a.mem[offLockWord]))
	s.mu = lock.New64(word, lock.WithIdentity(a), lock.WithStaleAfter(opts.StaleAfter))
	// The notify word's waiters look at it by themselves every
	// StaleAfter too (lock.DefaultRecheck if 0): see notify.go.
	s.recheck = opts.StaleAfter
	if s.recheck <= 0 {
		s.recheck = lock.DefaultRecheck
	}
	s.cond = lock.NewCond((*uint32)(unsafe.Pointer(&a.mem[offNotify])), lock.WithStaleAfter(s.recheck))
	s.count = (*uint32)(unsafe.Pointer(&a.mem[offNotifyCount]))
	s.setupTx(a)
	return s
}

func magicWord(mem []byte) *uint64 { return (*uint64)(unsafe.Pointer(&mem[offMagic])) }

// unpublished reports whether a magic word still shows the creator at
// work: zero, or half of the magic, which a 32-bit system without 64-bit
// atomic stores may show for a moment.
func unpublished(m uint64) bool {
	return m == 0 || m == magic&math.MaxUint32 || m == magic&^math.MaxUint32
}

// Header fields that other processes change at any time, by width; the
// table's words are all 64-bit.
var (
	atomic64 = [...]int{offRefreshed}
	atomic32 = [...]int{offOverflow, offLockWord, offLockStamp, offNotify, offNotifyCount}
)

// snapshot copies the start of mem (the header, and the table as far as
// dst reaches) to dst, loading the words that other processes change at
// any time atomically, so none is torn.
func snapshot(dst, mem []byte) {
	n := copy(dst, mem)
	ne := binary.NativeEndian
	load64 := func(off int) {
		if off+8 <= n {
			ne.PutUint64(dst[off:], atomic.LoadUint64((*uint64)(unsafe.Pointer(&mem[off]))))
		}
	}
	for _, off := range atomic64 {
		load64(off)
	}
	for _, off := range atomic32 {
		if off+4 <= n {
			ne.PutUint32(dst[off:], atomic.LoadUint32((*uint32)(unsafe.Pointer(&mem[off]))))
		}
	}
	for off := tableOffset; off+slotSize <= n; off += slotSize {
		load64(off)
	}
}

// header decodes the segment's own header and table, as mapped. It needs
// s.rmu (Close must not unmap meanwhile).
func (s *Segment) header() (Header, error) {
	// The fixed part, which says where the table and the name end.
	buf := make([]byte, HeaderSize)
	if !memfault.Catch(func() { snapshot(buf, s.mem) }) {
		return Header{}, segmentError(s.name, s.Path(), fault(ErrTruncated, errTruncatedUnder))
	}
	h, hf := decodeFixed(buf, -1)
	if hf == nil {
		buf = make([]byte, headerEnd(&h, buf))
		if !memfault.Catch(func() { snapshot(buf, s.mem) }) {
			return Header{}, segmentError(s.name, s.Path(), fault(ErrTruncated, errTruncatedUnder))
		}
		h, hf = decodeFixed(buf, -1) // from the one snapshot the table comes from
	}
	if hf == nil {
		hf = decodeTable(&h, buf)
	}
	if hf == nil {
		hf = decodeName(&h, buf)
	}
	if hf != nil {
		return Header{}, segmentError(s.name, s.Path(), hf)
	}
	return h, nil
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
func (s *Segment) Path() string { return s.path }

// Creator reports whether this Segment created the object, through
// Create or as the one winner of OpenOrCreate.
func (s *Segment) Creator() bool { return s.creator }

// Bytes returns the data region: shared with every process that maps the
// segment, DataSize bytes long, starting on a 64-byte boundary. It stays
// valid until Close; touching it afterwards faults. Unlink does not
// invalidate it. Touching it also faults (SIGBUS, which crashes the
// program) where another process truncated the file under the mapping:
// the package cannot guard the caller's own accesses; ReadAt and WriteAt
// can, and return an error wrapping ErrTruncated instead. So does the
// first touch of a page that a full file system cannot supply, unless the
// segment was created with Options.Prealloc.
func (s *Segment) Bytes() []byte { return s.data }

// Close detaches from the segment: it unmaps it and closes its file
// (unless other Segments of this process still use them) and releases this
// process's attachment (when the last of them closes). Bytes must not be
// used afterwards. The object itself remains (see Unlink), unless it was
// created with Options.RemoveWhenUnused and no other process is attached:
// Close then removes it, waiting up to a second for the removal gate (see
// the package documentation). If another process holds the gate longer
// (anybody who may read the file can), Close detaches all the same and
// leaves the segment for its next user or gc to remove, with an error
// wrapping ErrNotRemoved. Close never waits longer than that, and never
// keeps other Segments of the process from opening or closing meanwhile.
//
// Calls of Lock and LockContext waiting for the lock, and of Wait,
// WaitContext and WaitNotification waiting for a notification, give up
// with an error wrapping fs.ErrClosed (Wait and WaitContext without the
// lock), and Close waits for them to return; later calls of those methods
// return such an error. A method that has not started to wait when Close
// runs (an uncontended Lock, a TryLock, an Unlock, a Notify, NotifyAll or
// Notifications) may still touch the header: do not call them
// concurrently with Close, as with any use of Bytes.
//
// Close does not release a lock this process holds (the lock belongs to
// the process's attachment, which all its Segments of the file share):
// Unlock first. If the process has no other Segment of the file open, its
// attachment ends, and another process's waiter recovers the lock with
// ErrOwnerDead. A second Close returns an error wrapping fs.ErrClosed. If
// there is an error, it will be of type *fs.PathError.
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
	// longer touch the mapping; the lock and wait methods do until cond
	// and mu are closed and the watchers have left. Not under rmu: a lock
	// method that has just acquired may need rmu to refresh.
	s.rmu.Unlock()
	close(s.done)
	// The Cond first: a waiter it wakes may go on to wait for the lock
	// (its Wait takes the lock again), and closing mu then ends that.
	s.cond.Close()
	s.waitWatchers()
	s.mu.Close()
	s.mem, s.data = nil, nil
	if err := s.att.detach(); err != nil {
		return pathError("close", s.name, s.path, "", err)
	}
	return nil
}

// Unlink removes the segment's name, as shm_unlink does: processes that
// have it mapped, this one included, keep using it, but nobody can open it
// any more. If there is an error, it will be of type *fs.PathError.
func (s *Segment) Unlink() error { return s.l.Unlink(s.name) }
