package segment

import (
	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/posixshm"
)

// Remove-when-unused: one rule decides removal and attachment.
//
// A segment created with Options.RemoveWhenUnused is removed when its last
// live user detaches, and when an opener finds every other attachment
// dead (its users died without closing it). Removal must never leave a
// process attached to a file that has lost its name while others create a
// new file under that name. The gate is the record lock on gateByte:
//
//   - An opener holds the gate shared (a read lock) from before it claims
//     its slot until it has checked that the name still leads to the file
//     it mapped (otherwise it lets go and opens the name again).
//   - A remover holds the gate exclusive (a write lock) while it checks
//     that no record lock of an attachment is held, and unlinks the name
//     only then, and only if the name still leads to the file.
//
// So a removal either completes before an opener takes the gate, and the
// opener finds the name gone or leading elsewhere and starts again, or
// starts after the opener let go of the gate, and then sees the opener's
// slot and keeps the file. Closers release their slot before they try to
// remove, so of two last users closing at once the later remover sees
// neither. The gate is taken with F_SETLKW: it is only ever held for a few
// system calls, and the kernel drops it if its holder dies.

// claimGated is claim for an opener of a segment that removes itself when
// unused. It returns errRetry, attached to nothing, when the file lost its
// name before the opener got the gate, or when every other attachment was
// dead: it then removed the file (unless someone attached meanwhile), and
// the caller opens the name again, which creates a fresh segment or finds
// none.
func (a *attachment) claimGated() error {
	if err := waitLock(a.fd, unix.F_RDLCK, gateByte, 1); err != nil {
		if err == errNoRecordLocks {
			// Removal needs record locks; without them the flag is
			// ignored (Create refuses it there).
			a.pids = true
			return a.claimAny()
		}
		return err
	}
	alone, err := a.claimNamed()
	unlock(a.fd, gateByte, 1)
	if err != nil || !alone {
		return err
	}
	// Every other attachment is dead: the file should have gone with its
	// last user. Remove it as a closer would, and start again.
	a.removeIfUnused()
	return errRetry
}

// claimNamed claims a slot under the shared gate and checks that the name
// still leads to the file. alone reports that no other attachment lives;
// the claim is then already released.
func (a *attachment) claimNamed() (alone bool, err error) {
	if err := a.claimAny(); err != nil {
		return false, err
	}
	if testHookClaimed != nil {
		testHookClaimed()
	}
	named, err := a.named()
	if err == nil && !named {
		err = errRetry
	}
	if err == nil {
		var live bool
		live, err = a.othersAttached()
		alone = err == nil && !live
	}
	if err != nil || alone {
		a.release()
	}
	return alone, err
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
// lock of a slot or of an overflow attachment: two F_GETLK calls.
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
// gate. This process must have released its own claim.
func (a *attachment) removeIfUnused() (removed bool, err error) {
	if err := waitLock(a.fd, unix.F_WRLCK, gateByte, 1); err != nil {
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
