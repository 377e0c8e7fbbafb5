package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/inode"
	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/posixshm"
)

// Creation is atomic where the layout's objects are files in a directory
// (every posixshm.Dir, and the system conventions of Linux, OpenBSD,
// NetBSD, DragonFly and illumos): the creator builds the segment complete
// (sized, header published, itself attached) in a file that the name
// does not lead to, and only then links it onto the name with link(2),
// which fails with EEXIST if somebody else got there first, the answer
// O_CREAT|O_EXCL gives (posixshm.CreateUnnamed). On Linux that file has
// no name at all (O_TMPFILE) until it is linked; elsewhere it has a
// temporary name in the same directory, which posixshm gives one creator
// of a name at a time, under a record lock (the creation lock), so that
// whoever finds one whose lock nobody holds (the next creator of the
// name, posixshm gc) removes it. A creator killed at any moment leaves no
// segment, or a complete one (and perhaps that temporary file): never a
// name that the next OpenOrCreate cannot open.
//
// Layouts without link(2) (the kernel objects of macOS and FreeBSD, and
// layouts of the caller's own) keep the older protocol below, and its
// window: the creator makes the file under its name, empty, and then
// sizes it and publishes the header, holding a write lock on gateByte
// (the creation lock) from just after it created the file (before the
// file has a size) until it has published the header. An opener that
// finds a sized file still unpublished asks the kernel: while the lock is
// held the creator lives and may still publish; once it is not, the
// creator is dead. Then, if what the creator wrote says the segment
// removes itself when unused, the opener removes the file (nobody can be
// attached to it: attaching needs the header) and opens the name again;
// otherwise it reports ErrNotInitialized at once. A creator killed
// between its open(2) and its lock leaves an empty file, and one killed
// before it wrote the header a file of zeros: neither can be told from
// another program's new object (shm_open and ftruncate give exactly
// that), so neither is ever removed, by an opener or by gc. That holds
// for such files wherever they come from (another program, an earlier
// release of this package): opening them fails with ErrNotInitialized,
// and they stay until somebody removes them. (macOS's and FreeBSD's
// objects take no record locks at all: there an opener cannot tell a dead
// creator from a slow one, and waits InitTimeout for either.)

// beginCreation marks the file fd (key) as being created by this process
// and takes the creation lock. POSIX record locks do not show a process
// its own, so package inode tells this process's openers instead.
func beginCreation(fd int, key fileKey) (locked bool) {
	inode.HoldCreating(key)
	ok, err := tryLock(fd, unix.F_WRLCK, gateByte, 1)
	return ok && err == nil // no record locks (kernel objects): no lock
}

// endCreation undoes beginCreation.
func endCreation(fd int, key fileKey, locked bool) {
	if locked {
		unlock(fd, gateByte, 1)
	}
	inode.ReleaseCreating(key, nil)
}

// creatorDied reports whether the creator of the sized, unpublished file
// fd (key) is known to be dead: nobody holds the creation lock, and this
// process is not creating it.
func creatorDied(fd int, key fileKey) bool {
	if inode.Creating(key) {
		return false
	}
	_, _, held, err := heldLock(fd, gateByte, 1)
	return err == nil && !held
}

// createBusy waits while another process builds the segment called name
// under its temporary name (CreateUnnamed's EBUSY), polling with wait. It
// returns nil to try creating again, or the error to return: fs.ErrExist
// once the name exists, ErrNotInitialized once wait gives up.
func createBusy(l posixshm.Layout, name string, busy error, wait func() bool) error {
	path, err := l.Path(name)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	switch err := unixutil.IgnoringEINTR(func() error { return unix.Lstat(path, &st) }); {
	case err == nil:
		return &fs.PathError{Op: opSegment, Path: name, Err: fmt.Errorf("created meanwhile by another process: %w", fs.ErrExist)}
	case wait():
		return nil
	}
	return segmentError(name, path, fault(ErrNotInitialized,
		"another process has been creating it for longer than InitTimeout ("+unwrapReason(busy)+")"))
}

// unwrapReason is the text of err without its leading name.
func unwrapReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// abandonNew undoes the attachment a of a creator whose segment did not
// get its name (somebody else's did): its Segment goes, and the
// attachment with it, unless another goroutine joined it meanwhile (only
// possible by opening the temporary name itself), which then keeps it. It
// reports whether the attachment ended (and the caller may close its
// file).
func (a *attachment) abandonNew() bool {
	files.mu.Lock()
	defer files.mu.Unlock()
	if a.refs--; a.refs > 0 {
		return false
	}
	delete(files.m, a.key)
	a.release()
	unix.Munmap(a.mem)
	a.mem = nil
	inode.Release(a.key, nil)
	return true
}

// abandoned handles the file fd (key), called name in layout l, whose
// creator died before publishing hdr, the header as the creator left it.
// It removes the file and returns errRetry if hdr is that of a segment
// that removes itself when unused, else ErrNotInitialized.
func abandoned(fd int, key fileKey, hdr []byte, l posixshm.Layout, name, path string) error {
	h, hf := unpublishedHeader(hdr, -1)
	if hf != nil || !h.RemoveWhenUnused {
		return segmentError(name, path, fault(ErrNotInitialized,
			"its creator died before publishing the header (remove the object and create it again)"))
	}
	// Other openers of the file may be at it too: one removes it.
	ok, err := tryLock(fd, unix.F_WRLCK, gateByte, 1)
	if err != nil {
		return pathError("fcntl", name, path, "", err)
	}
	if !ok {
		return errRetry
	}
	defer unlock(fd, gateByte, 1)
	if is, err := named(l, name, fd, key); err != nil || !is {
		return errRetry
	}
	if err := l.Unlink(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return errRetry
}

// unpublishedHeader decodes hdr, the first bytes of a file whose header is
// not published, as the header its creator wrote, magic number aside, and
// checks it against the file's size (fileSize < 0: unknown). A file that
// merely begins with zeros gives an error.
func unpublishedHeader(hdr []byte, fileSize int64) (Header, *headerError) {
	if len(hdr) < offMagic+8 {
		return Header{}, fault(ErrTruncated, itoa(int64(len(hdr)))+" bytes, shorter than a "+itoa(HeaderSize)+"-byte header")
	}
	b := make([]byte, len(hdr))
	copy(b, hdr)
	binary.NativeEndian.PutUint64(b[offMagic:], magic)
	h, hf := decodeFixed(b, fileSize)
	if hf == nil && fileSize >= 0 {
		hf = checkFileSize(h.DataOffset+h.DataSize, fileSize)
	}
	return h, hf
}
