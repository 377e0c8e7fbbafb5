package segment

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/posixshm"
)

// Removal when unused: one rule decides removal and attachment.
//
// Segments are removed when nobody uses them: one created with
// Options.RemoveWhenUnused when its last live user detaches, or when an
// opener finds every other attachment dead (its users died without
// closing it); and any segment by RemoveUnused (as posixshm gc calls it)
// once nobody is attached. Removal must never leave a process attached to
// a file that has lost its name while others create a new file under that
// name. The gate is the record lock on gateByte:
//
//   - Every opener holds the gate shared (a read lock) from before it
//     claims its slot until it has checked that the name still leads to
//     the file it mapped (otherwise it lets go and opens the name again).
//   - A remover holds the gate exclusive (a write lock) while it checks
//     that no record lock of an attachment is held, and unlinks the name
//     only then, and only if the name still leads to the file.
//
// So a removal either completes before an opener takes the gate, and the
// opener finds the name gone or leading elsewhere and starts again, or
// starts after the opener let go of the gate, and then sees the opener's
// slot and keeps the file. Closers release their slot before they try to
// remove, so of two last users closing at once the later remover sees
// neither. (The creator does not take it: it claims its slot before it
// publishes the header, and nobody removes a file whose creator is alive.)
//
// Nobody waits for the gate for ever, and nobody waits for it while
// holding files.mu for longer than gateWait: anybody who may read the file
// may read-lock the gate and keep it, which blocks removals (never
// openers, who take it shared). Openers wait up to gateWait for a remover
// or a creator to let go (they hold it for a few system calls, and the
// kernel drops it if they die); Close waits up to gateWait, outside
// files.mu, and then leaves the file (ErrNotRemoved); an opener that
// finds every other attachment dead tries to remove for upgradeWait only,
// and otherwise attaches to the segment as it is. An opener that finds no
// slot or overflow byte to lock (every one is locked, or read-locked by
// somebody) stays attached by keeping the gate shared (claimPinned).

// upgradeWait is how long an opener that finds every other attachment
// dead tries to turn its shared gate into the exclusive one to remove the
// segment, before it attaches to the segment instead. Others who hold the
// gate shared are openers (for a few system calls), pinned attachments,
// or readers who may hold it for ever; it waits holding files.mu.
const upgradeWait = 10 * time.Millisecond

// claimGated is claim for an opener. It returns errRetry, attached to
// nothing, when the file lost its name before the opener got the gate, or
// when the segment removes itself when unused and every other attachment
// was dead: it then removed the file (unless someone attached meanwhile),
// and the caller opens the name again, which creates a fresh segment or
// finds none.
func (a *attachment) claimGated() error {
	switch err := waitLock(a.fd, unix.F_RDLCK, gateByte, 1, gateWait); {
	case err == errNoRecordLocks:
		// Removal needs record locks; without them nothing removes
		// the segment (Create refuses the flag there, and
		// RemoveUnused the segment).
		a.pids = true
		return a.claimAny()
	case err == errBusy:
		return fmt.Errorf("removal gate held by another process for %v (a removal or a creation in progress, or a process that holds it for ever): %w", gateWait, syscall.EAGAIN)
	case err != nil:
		return err
	}
	err := a.claimNamed()
	if !a.pinned {
		unlock(a.fd, gateByte, 1)
	}
	return err
}

// claimNamed claims a slot under the shared gate, which it leaves held,
// and checks that the name still leads to the file. For a segment that
// removes itself when unused, it also checks that another attachment
// lives; if none does, it removes the file and returns errRetry, or, if
// it cannot have the gate exclusively at once, stays attached.
func (a *attachment) claimNamed() error {
	if err := a.claimHere(); err != nil {
		return err
	}
	if testHookClaimed != nil {
		testHookClaimed()
	}
	err := a.check()
	if err != nil || !a.remove {
		return err
	}
	live, err := a.othersAttached()
	if err != nil || live {
		if err != nil {
			a.unclaim()
		}
		return err
	}
	// Every other attachment is dead: the file should have gone with its
	// last user. Remove it as a closer would, and start again.
	a.unclaim()
	if _, err := a.removeIfUnused(upgradeWait); err != errBusy {
		return errRetry // the gate is let go
	}
	// Others hold the gate shared (the upgrade failed and left ours as it
	// was): nobody removes the segment meanwhile. Attach to it as it is.
	if err := a.claimHere(); err != nil {
		return err
	}
	return a.check()
}

// claimHere is claimAny for an opener, who holds the gate shared: with no
// byte to lock, it attaches pinned.
func (a *attachment) claimHere() error {
	err := a.claimAny()
	if err == errNoByte && !a.pids {
		err = a.claimPinned()
	}
	return err
}

// check is the opener's check, under the gate, that the name still leads
// to the file it claimed on; it unclaims if not.
func (a *attachment) check() error {
	named, err := a.named()
	if err == nil && !named {
		err = errRetry
	}
	if err != nil {
		a.unclaim()
	}
	return err
}

// named reports whether the segment's name still leads to the attached
// file.
func (a *attachment) named() (bool, error) { return named(a.l, a.name, a.fd, a.key) }

// named reports whether name, in layout l, leads to the file fd, whose key
// is key.
func named(l posixshm.Layout, name string, fd int, key fileKey) (bool, error) {
	var st unix.Stat_t
	if p, err := l.Path(name); err == nil {
		err := unixutil.IgnoringEINTR(func() error { return unix.Lstat(p, &st) })
		if err == unix.ENOENT {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return keyOf(&st) == key, nil
	}
	// A layout without paths: the file has no name left once unlinked.
	if err := unixutil.Fstat(fd, &st); err != nil {
		return false, err
	}
	return st.Nlink > 0, nil
}

// othersAttached reports whether any process but this one holds the record
// lock of a slot or of an overflow attachment: two F_GETLK calls. Read
// locks do not count (heldLock), and pinned attachments are not seen
// (they hold the gate, which keeps removers out).
func (a *attachment) othersAttached() (bool, error) {
	if _, _, ok, err := heldLock(a.fd, tableOffset, tableEnd(a.slots)-tableOffset); err != nil || ok {
		return ok, err
	}
	_, _, ok, err := heldLock(a.fd, overflowBase, 0)
	return ok, err
}

// Test hooks, to widen windows: testHookClaimed, if set, runs between an
// opener's claim under the gate and its checks; testHookDetach before the
// last detach of a process releases its claim; testHookRemove between a
// remover's check that nobody is attached and its unlink.
var testHookClaimed, testHookDetach, testHookRemove func()

// removeIfUnused unlinks the segment's name if no other process is
// attached and the name still leads to this file, under the exclusive
// gate, which it waits up to wait for (errBusy if it could not have it;
// a gate held shared through a.fd is then held as before). It lets go of
// the gate, shared or exclusive, when it has it. This process must have
// released its own claim.
func (a *attachment) removeIfUnused(wait time.Duration) (removed bool, err error) {
	if err := waitLock(a.fd, unix.F_WRLCK, gateByte, 1, wait); err != nil {
		return false, err
	}
	defer unlock(a.fd, gateByte, 1)
	live, err := a.othersAttached()
	if err != nil || live {
		return false, err
	}
	if testHookRemove != nil {
		testHookRemove()
	}
	// The name may lead elsewhere: the file was unlinked by hand (Unlink,
	// posixshm rm, daily(8)) and another created under its name.
	if named, err := a.named(); err != nil || !named {
		return false, err
	}
	if err := a.l.Unlink(a.name); err != nil {
		return false, err
	}
	return true, nil
}

// gateWait is how long RemoveUnused, Close and openers wait for the
// removal gate.
const gateWait = time.Second

// RemoveUnused removes the segment called name in the layout l, whose file
// the caller has open as f, if no process is attached to it and remove,
// asked while no process can attach, agrees. It is how posixshm gc removes
// segments whose users have all detached or died. f must be open for
// reading and writing: the removal gate is a write lock.
//
// It follows the rule that attaching and removing share (see the package
// documentation): holding the removal gate exclusively, it reads the
// header again, asks the kernel which attachments live (as Users does),
// calls remove with the header only if none does, and unlinks name only
// if it still leads to f's file. Openers hold the gate shared while they
// attach and check afterwards that their name still leads to the file
// they mapped, so none is ever left attached to the removed file. The
// gate is held for a few system calls at a time, or for as long as a
// pinned attachment lives (one that found no slot or overflow byte to
// lock: see the package documentation) or a process that may read the
// file likes; RemoveUnused waits up to a second for it, then gives up
// with an error wrapping syscall.EAGAIN.
//
// A file whose header was never published counts as a segment nobody is
// attached to when what its creator wrote is a valid header (magic number
// aside) and the creator has died: a live creator holds the gate from
// before it sizes the file until it publishes the header, and then
// RemoveUnused gives up with EAGAIN at once. Every other file that is not
// a segment gives the error ReadHeader gives, and nothing is locked.
//
// It returns the live attachments, if there are any (nothing is removed
// then), and whether it removed the name. If remove agreed but name no
// longer leads to f's file (someone removed it, or made a new file under
// that name), nothing is removed and the error wraps fs.ErrNotExist. If
// this process is attached to the segment, the segment is in use; this
// process's openers of the segment wait for RemoveUnused as other
// processes' wait for the gate (up to a second, then syscall.EAGAIN),
// which POSIX record locks alone would not make them do. Call it
// from a process that is not attached: f stays open, and closing it drops
// this process's record locks on the file where they are POSIX locks (see
// the package documentation). Where the object takes no record locks
// (macOS's and FreeBSD's kernel objects) nothing is removed and the error
// wraps syscall.ENOTSUP. If there is an error, it will be of type
// *fs.PathError.
func RemoveUnused(f *os.File, l posixshm.Layout, name string, remove func(Header) bool) (Attachments, bool, error) {
	type result struct {
		u       Attachments
		removed bool
	}
	r, err := onFile(f, func(fd int, _ string) (result, error) {
		u, removed, err := removeUnused(fd, filePath(l, name), l, name, remove)
		return result{u, removed}, err
	})
	return r.u, r.removed, err
}

func removeUnused(fd int, file string, l posixshm.Layout, name string, remove func(Header) bool) (Attachments, bool, error) {
	var st unix.Stat_t
	if err := unixutil.Fstat(fd, &st); err != nil {
		return Attachments{}, false, &fs.PathError{Op: "fstat", Path: file, Err: err}
	}
	key := keyOf(&st)
	a, end := beginRemoval(key) // this process's openers of the file wait
	if a != nil {
		u, err := users(fd, file) // this process's attachment counts
		return u, false, err
	}
	defer end()
	fcntlError := func(err error) error {
		if err == errNoRecordLocks {
			err = fmt.Errorf("%s: %w, so who is attached cannot be known", err.Error(), syscall.ENOTSUP)
		}
		return &fs.PathError{Op: "fcntl", Path: file, Err: err}
	}
	// A look before taking the gate, so that no other program's file is
	// ever locked.
	if _, err := readHeader(fd, file); err != nil {
		if !errors.Is(err, ErrNotInitialized) || st.Size == 0 {
			return Attachments{}, false, err
		}
		if _, _, held, lerr := heldLock(fd, gateByte, 1); lerr != nil || held {
			if lerr != nil {
				return Attachments{}, false, fcntlError(lerr)
			}
			return Attachments{}, false, &fs.PathError{Op: "fcntl", Path: file,
				Err: fmt.Errorf("its creator is still setting it up (it holds its creation lock): %w", syscall.EAGAIN)}
		}
		if _, err := creatorHeader(fd, file); err != nil {
			return Attachments{}, false, err
		}
	}
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil || fl&unix.O_ACCMODE == unix.O_RDONLY {
		if err == nil {
			err = fmt.Errorf("open read-only, and the removal gate is a write lock: %w", syscall.EBADF)
		}
		return Attachments{}, false, &fs.PathError{Op: "fcntl", Path: file, Err: err}
	}
	if err := takeGate(fd); err != nil {
		return Attachments{}, false, fcntlError(err)
	}
	defer unlock(fd, gateByte, 1)
	// Again, under the gate: whoever attached before we took it is
	// attached now, and nobody attaches until we let go.
	h, err := readHeader(fd, file)
	var u Attachments
	switch {
	case err == nil:
		if u, err = liveUsers(fd, &h, nil); err != nil {
			return Attachments{}, false, fcntlError(err)
		}
		if u.InUse() {
			return u, false, nil
		}
	case errors.Is(err, ErrNotInitialized) && st.Size != 0:
		// Still unpublished, and we hold the byte a live creator would
		// hold until it publishes: the creator died. Nobody can have
		// attached: attaching needs the header.
		if h, err = creatorHeader(fd, file); err != nil {
			return Attachments{}, false, err
		}
	default:
		return Attachments{}, false, err
	}
	if !remove(h) {
		return u, false, nil
	}
	if testHookRemove != nil {
		testHookRemove()
	}
	// The name may lead elsewhere now: removed by hand, and perhaps made
	// anew by someone else.
	if is, err := named(l, name, fd, key); err != nil || !is {
		if err == nil {
			err = fmt.Errorf("%s no longer leads to %s: %w", name, file, fs.ErrNotExist)
		}
		return u, false, &fs.PathError{Op: "unlink", Path: name, Err: err}
	}
	if err := l.Unlink(name); err != nil {
		return u, false, err
	}
	return u, true, nil
}

// takeGate takes the removal gate exclusively, waiting up to gateWait for
// it: other removers, openers and creators hold it for a few system calls
// at a time (a creator killed while holding it loses it at once).
func takeGate(fd int) error {
	err := waitLock(fd, unix.F_WRLCK, gateByte, 1, gateWait)
	if err == errBusy {
		err = fmt.Errorf("removal gate held by another process for %v (attaching, removing or creating the segment): %w", gateWait, syscall.EAGAIN)
	}
	return err
}

// creatorHeader is the header the creator of the unpublished file fd has
// written, magic number aside, or an error wrapping ErrNotInitialized if it
// is not a valid header that fits the file.
func creatorHeader(fd int, file string) (Header, error) {
	var st unix.Stat_t
	if err := unixutil.Fstat(fd, &st); err != nil {
		return Header{}, &fs.PathError{Op: "fstat", Path: file, Err: err}
	}
	b, err := readStart(fd, file, min(st.Size, HeaderSize))
	if err != nil {
		return Header{}, err
	}
	h, hf := unpublishedHeader(b, st.Size)
	if hf != nil {
		return Header{}, &fs.PathError{Op: opSegment, Path: file, Err: fault(ErrNotInitialized,
			"magic number is zero, and the rest is no segment header either: "+hf.Error())}
	}
	return h, nil
}
