package segment

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/inode"
	"github.com/posixshm/posixshm/internal/memfault"
	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
)

// fileKey identifies a file: its device and inode numbers.
type fileKey = inode.Key

func keyOf(st *unix.Stat_t) fileKey { return inode.KeyOf(st) }

// An attachment is this process's attachment to one segment file. Every
// Segment of this process that maps the file shares it, with its one
// descriptor, its one mapping and its one slot. POSIX record locks belong
// to the process, and the kernel drops all of them when ANY descriptor of
// the file is closed, so a second descriptor of the file must never be
// closed while the process is attached (see reclock_other.go): the
// attachment holds the file's record in package inode (SQLite's
// unixInodeInfo), from just before it takes its first lock until its
// descriptor is closed, and every descriptor the library would close goes
// through that registry (closeFile), which keeps one that leads to the
// file open until then.
//
// The fields are set before the attachment is registered and never change
// afterwards, except refs, which files.mu guards.
type attachment struct {
	key  fileKey
	f    *os.File // the descriptor every record lock of this process on the file goes through
	fd   int
	mem  []byte // the mapping every Segment of the file shares
	refs int    // Segments using it

	l    posixshm.Layout // how the file was named, for removal
	name string

	slots    int   // table size
	dataSize int64 // size of the data region
	remove   bool  // the header's remove-when-unused flag
	// The undo log (tx.go): where in mem, and how long; 0, 0 if none.
	logOff, logSize int64

	// The attachment: a slot (slot ≥ 0, its generation gen), or none
	// (slot -1: overflow, with the record-lock byte overflowBase+over, or
	// over -1 where there are no record locks or the attachment is
	// pinned, and gen the overflow count it drew).
	slot int
	over int64
	gen  uint32
	pid  int // this process's PID, as recorded
	// pinned: no slot or overflow byte could be locked (others hold
	// them, or read-lock them), so the attachment holds the removal gate
	// shared for as long as it lives instead (see claimPinned).
	pinned bool
	// pids: the object takes no record locks (macOS and FreeBSD kernel
	// objects), so liveness is judged by PID, with kill(pid, 0).
	pids bool

	// closing: the last Segment closed and the attachment is ending;
	// gone is closed once its descriptors are. It stays in files.m
	// meanwhile (see detach). files.mu guards closing.
	closing bool
	gone    chan struct{}
}

// files holds this process's attachments, by file. (The files it is
// creating are in package inode: creation.go.)
var files struct {
	mu sync.Mutex
	m  map[fileKey]*attachment
	// removals: RemoveUnused calls of this process at work on a file it
	// is not attached to, which its openers of the file wait for
	// (adopt). They hold the removal gate exclusively, but POSIX record
	// locks never conflict within a process: without this wait an
	// opener of this process would take the gate shared "under" the
	// remover, attach, and be left attached to the file it removes.
	removals map[fileKey]*removal
}

// A removal is RemoveUnused at work on a file (files.removals): n calls,
// and done, closed when the last one ends.
type removal struct {
	n    int
	done chan struct{}
}

// beginRemoval records a RemoveUnused of the file k, unless this process
// is attached to it: it returns the attachment then, and end nil.
func beginRemoval(k fileKey) (a *attachment, end func()) {
	files.mu.Lock()
	defer files.mu.Unlock()
	if a := files.m[k]; a != nil {
		return a, nil
	}
	r := files.removals[k]
	if r == nil {
		if files.removals == nil {
			files.removals = make(map[fileKey]*removal)
		}
		r = &removal{done: make(chan struct{})}
		files.removals[k] = r
	}
	r.n++
	return nil, func() {
		files.mu.Lock()
		defer files.mu.Unlock()
		if r.n--; r.n == 0 {
			delete(files.removals, k)
			close(r.done)
		}
	}
}

// noRecordLocks makes every attachment of this process judge liveness by
// PID, as on objects that take no record locks; tests set it to run that
// code on Linux.
var noRecordLocks bool

// errRetry: the file was removed while we attached to it; open the name
// again.
var errRetry = errors.New("segment file removed while attaching; try again")

func newAttachment(l posixshm.Layout, name string, f *os.File, st *unix.Stat_t, mem []byte, h *Header) *attachment {
	return &attachment{
		key: keyOf(st), f: f, fd: int(f.Fd()), mem: mem, refs: 1,
		l: l, name: name,
		slots: h.Slots, dataSize: h.DataSize, remove: h.RemoveWhenUnused,
		logOff: h.TxLogOffset, logSize: h.TxLogSize,
		slot: -1, over: -1,
		gone: make(chan struct{}),
	}
}

// register adds a to the attachments, whose lock the caller holds.
func (a *attachment) register() {
	if files.m == nil {
		files.m = make(map[fileKey]*attachment)
	}
	files.m[a.key] = a
}

// attachedTo returns this process's attachment to the file with key k,
// or nil.
func attachedTo(k fileKey) *attachment {
	files.mu.Lock()
	defer files.mu.Unlock()
	return files.m[k]
}

// closeFile closes a descriptor, opened by the name path, of a file that
// may be a segment this process is attached to (or is creating); if it
// is, the descriptor is kept open until the attachment ends, because
// closing it would drop the attachment's record locks (POSIX; see
// attachment).
func closeFile(f *os.File, path string) error { return inode.Close(f, path) }

// CloseFile closes f, a descriptor the caller opened (to read a header
// with ReadHeader, to ask Users...) of a file that may be a segment this
// process is attached to. Where record locks are POSIX locks (OpenBSD),
// closing any descriptor of the file drops all of the process's record
// locks on it, its attachment's included (see the package documentation).
// So if this process is attached to (or creating) f's file, CloseFile
// keeps f open until the process's last Segment of the file is closed,
// and closes it then; otherwise it is f.Close(). Linux, which runs the
// same code, keeps it open too. Every descriptor so kept counts against
// the process's limit on open files until then: a process attached for
// long should ask Segment.Attached rather than open the file again and
// again.
func CloseFile(f *os.File) error { return inode.Close(f, "") }

func (a *attachment) slotWord(i int) *uint64 {
	return (*uint64)(unsafe.Pointer(&a.mem[tableOffset+slotSize*i]))
}

func (a *attachment) overflowWord() *uint32 {
	return (*uint32)(unsafe.Pointer(&a.mem[offOverflow]))
}

// slotByte is the file offset of slot i's record-lock byte.
func slotByte(i int) int64 { return tableOffset + slotSize*int64(i) }

// getpid is os.Getpid, once: a Go process cannot fork without exec, so its
// PID never changes, and os.Getpid is a system call each time.
var getpid = sync.OnceValue(os.Getpid)

// selfPID is this process's PID as recorded in a slot.
func selfPID() (int, error) {
	pid := getpid()
	if pid <= 0 || pid > slotPIDMask {
		return 0, errors.New("pid " + strconv.Itoa(pid) + " does not fit in a slot's 30 bits")
	}
	return pid, nil
}

// claim attaches: it takes a slot (or, with every slot held by a live
// process, an overflow attachment). The creator claims before it publishes
// the header, so that nobody who can open the segment sees it unused. An
// opener claims under the removal gate and may get errRetry (see
// claimGated): segments are removed when unused (by their last user, with
// Options.RemoveWhenUnused, or by RemoveUnused, as posixshm gc does), and
// no opener may be left attached to a removed file.
//
// The table and the overflow count are in the mapping: a file truncated
// under it gives an error wrapping ErrTruncated (the caller then closes
// the descriptor, which drops whatever record locks the claim took).
func (a *attachment) claim(creator bool) (err error) {
	if !memfault.Catch(func() {
		if creator {
			err = a.claimAny()
		} else {
			err = a.claimGated()
		}
	}) {
		return a.truncated()
	}
	return err
}

// truncated is the error of an access to the attachment's mapping that
// faulted.
func (a *attachment) truncated() error {
	hf := fault(ErrTruncated, errTruncatedMapped)
	hf.File = filePath(a.l, a.name) // a.f.Name() is the name (posixshm.Open)
	return hf
}

// claimAny takes the first slot whose record lock it gets, preferring
// slots recorded free, then overflow. Where the object takes no record
// locks it claims by PID instead.
func (a *attachment) claimAny() error {
	pid, err := selfPID()
	if err != nil {
		return err
	}
	a.pid = pid
	if a.pids || noRecordLocks {
		a.pids = true
		return a.claimByPID(pid)
	}
	// Pass 0 tries the slots recorded free (usually the first succeeds),
	// pass 1 those recorded attached, whose processes may have died.
	for pass := range 2 {
		for i := 0; i < a.slots; i++ {
			p := a.slotWord(i)
			if (atomic.LoadUint64(p)&slotAttached != 0) != (pass == 1) {
				continue
			}
			ok, err := tryLock(a.fd, unix.F_WRLCK, slotByte(i), 1)
			if err == errNoRecordLocks {
				a.pids = true
				return a.claimByPID(pid)
			}
			if err != nil {
				return err
			}
			if !ok {
				// A live process holds it, or is taking it; or somebody
				// read-locks it, perhaps with the bytes of many more
				// slots: pass them all.
				end, err := lockEnd(a.fd, slotByte(i))
				if err != nil {
					return err
				}
				if end < 0 {
					break
				}
				i = max(i, int((end-tableOffset+slotSize-1)/slotSize)-1)
				continue
			}
			if a.lockNames(uint32(i) + 1) {
				// Its last user died holding the lock: keep the slot
				// for the waiter that recovers it (see identity.go).
				unlock(a.fd, slotByte(i), 1)
				continue
			}
			// The byte is ours: whoever had the slot has died or
			// detached, and nobody else can take it now. One CAS
			// records us, with the next generation.
			for {
				w := atomic.LoadUint64(p)
				n := Slot{PID: pid, Attached: true, Generation: decodeSlot(w).Generation + 1}
				if atomic.CompareAndSwapUint64(p, w, n.word()) {
					a.slot, a.gen = i, n.Generation
					return nil
				}
			}
		}
	}
	return a.claimOverflow()
}

// claimOverflow attaches without a slot: every slot is held by a live
// process (or read-locked). The attachment takes the first free
// record-lock byte from overflowBase on, so that it is seen (and counted)
// as long as it lives, and draws its stamp from the overflow count. A try
// that fails skips every byte of the lock in its way, and the search gives
// up with errNoByte after maxOverflowProbes tries.
func (a *attachment) claimOverflow() error {
	k := int64(0)
	for range maxOverflowProbes {
		if k >= maxOverflow {
			break
		}
		ok, err := tryLock(a.fd, unix.F_WRLCK, overflowBase+k, 1)
		if err != nil {
			return err
		}
		if !ok {
			end, err := lockEnd(a.fd, overflowBase+k)
			if err != nil {
				return err
			}
			if end < 0 {
				break // locked to the end of the file and beyond
			}
			k = end - overflowBase
			continue
		}
		if a.lockNames(overflowTags + uint32(k)) {
			unlock(a.fd, overflowBase+k, 1) // as for slots
			k++
			continue
		}
		a.over = k
		a.gen = atomic.AddUint32(a.overflowWord(), 1)
		return nil
	}
	return errNoByte
}

// errNoByte: claimAny found no slot or overflow byte to lock.
var errNoByte = errors.New("every slot and overflow attachment tried is locked by another process (live attachments, or read locks of a process that may read the file)")

// claimPinned attaches without a record-lock byte of its own, for an
// opener that holds the removal gate shared and found none (errNoByte): it
// keeps the gate shared for as long as the attachment lives. Nobody can
// remove the segment meanwhile, and Users does not see it. Its lock
// identity is its PID (pidTags), whose holder is judged dead once nobody
// holds the gate shared (identity.go).
func (a *attachment) claimPinned() error {
	if a.pid > lock.MaxTag-pidTags {
		return errNoByte
	}
	a.pinned = true
	a.gen = atomic.AddUint32(a.overflowWord(), 1)
	return nil
}

// claimByPID attaches where there are no record locks: a slot recorded
// free, or recorded attached by a process that kill(pid, 0) finds gone,
// taken with one CAS. A slot cannot tell a dead process from a new one
// that was given its PID, nor see into another PID namespace: such slots
// stay taken.
func (a *attachment) claimByPID(pid int) error {
	for i := range a.slots {
		p := a.slotWord(i)
		for {
			w := atomic.LoadUint64(p)
			s := decodeSlot(w)
			if s.Attached && pidAlive(s.PID) || a.lockNames(uint32(i)+1) {
				break
			}
			n := Slot{PID: pid, Attached: true, Generation: s.Generation + 1}
			if atomic.CompareAndSwapUint64(p, w, n.word()) {
				a.slot, a.gen = i, n.Generation
				return nil
			}
		}
	}
	if pid > lock.MaxTag-pidTags {
		return errors.New("pid " + strconv.Itoa(pid) + " too large for the lock word of an attachment without a slot")
	}
	a.gen = atomic.AddUint32(a.overflowWord(), 1)
	return nil
}

// release ends the attachment's claim: the slot word is marked free (if it
// still records this attachment), then the record lock is dropped (a
// pinned attachment's, the removal gate's). The order matters: while the
// byte is held nobody else can take the slot.
func (a *attachment) release() error {
	if a.pinned {
		a.pinned = false
		return unlock(a.fd, gateByte, 1)
	}
	return a.unclaim()
}

// unclaim is release, except that a pinned attachment keeps the removal
// gate (an opener still holds it: see claimNamed). The attachment may
// claim again afterwards.
func (a *attachment) unclaim() error {
	slot, over := a.slot, a.over
	a.pinned, a.slot, a.over = false, -1, -1
	if slot >= 0 {
		p := a.slotWord(slot)
		var err error
		if !memfault.Catch(func() {
			for {
				w := atomic.LoadUint64(p)
				if s := decodeSlot(w); !s.Attached || s.Generation != a.gen {
					break // not ours any more (only a bug or a hostile writer does that)
				}
				if atomic.CompareAndSwapUint64(p, w, Slot{Generation: a.gen}.word()) {
					break
				}
			}
		}) {
			err = a.truncated() // the byte goes all the same
		}
		if !a.pids {
			if e := unlock(a.fd, slotByte(slot), 1); err == nil {
				err = e
			}
		}
		return err
	}
	if over >= 0 {
		return unlock(a.fd, overflowBase+over, 1)
	}
	return nil
}

// detach ends one Segment's use of the attachment. The last one releases
// the claim, removes the file if it removes itself when unused and nobody
// else is attached, unmaps it and closes its descriptors. It never holds
// files.mu while it waits: the removal gate may be held by others (up to
// gateWait, then it leaves the file and returns an error wrapping
// ErrNotRemoved). Meanwhile the attachment stays registered, marked
// closing: this process's openers of the file wait for it to be gone
// rather than lock through a descriptor of their own that the close below
// would unlock (POSIX), and closeFile parks descriptors on it.
func (a *attachment) detach() error {
	files.mu.Lock()
	if a.refs--; a.refs > 0 {
		files.mu.Unlock()
		return nil
	}
	a.closing = true
	files.mu.Unlock()
	if testHookDetach != nil {
		testHookDetach()
	}
	err := a.release()
	if a.remove && !a.pids && (err == nil || errors.Is(err, ErrTruncated)) {
		_, rerr := a.removeIfUnused(gateWait)
		if rerr == errBusy {
			rerr = fmt.Errorf("removal gate held by another process for %v (whoever may read the file may hold it): %w", gateWait, ErrNotRemoved)
		}
		if err == nil {
			err = rerr
		}
	}
	files.mu.Lock()
	delete(files.m, a.key)
	if e := unix.Munmap(a.mem); e != nil && err == nil {
		err = e
	}
	a.mem = nil
	// Only now: closing any descriptor of the file drops the locks. The
	// registry closes a.f and the descriptors parked on the file's
	// record, unless this process holds another record lock on it (a
	// creation, or an attachment being made): then they wait for that.
	if e := inode.Release(a.key, a.f); e != nil && err == nil {
		err = e
	}
	files.mu.Unlock()
	close(a.gone)
	return err
}

// pidAlive reports whether a process with this PID exists (in our PID
// namespace): kill(pid, 0) does not fail with ESRCH.
func pidAlive(pid int) bool {
	return pid > 0 && unix.Kill(pid, 0) != syscall.ESRCH
}
