package segment

import (
	"encoding/binary"
	"errors"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/posixshm"
)

// A creator killed before it publishes the header leaves a file that is
// not a segment yet, and openers used to wait Options.InitTimeout for it
// and fail with ErrNotInitialized, for ever. The creator therefore holds a
// write lock on gateByte from just after it creates the file (before the
// file has a size) until it has published the header. An opener that
// finds a sized file still unpublished asks the kernel: while the lock is
// held the creator lives and may still publish; once it is not, the
// creator is dead. Then, if what the creator wrote says the segment
// removes itself when unused, the opener removes the file (nobody can be
// attached to it: attaching needs the header) and opens the name again;
// otherwise it reports ErrNotInitialized at once. A creator killed between
// its open(2) and its lock leaves an empty file, which cannot be told from
// another program's new object: it stays, as before, until it is removed.

// beginCreation marks the file fd (key) as being created by this process
// and takes the creation lock. POSIX record locks do not show a process
// its own, so files.creating tells this process's openers instead.
func beginCreation(fd int, key fileKey) (locked bool) {
	files.mu.Lock()
	if files.creating == nil {
		files.creating = make(map[fileKey]bool)
	}
	files.creating[key] = true
	files.mu.Unlock()
	ok, err := tryLock(fd, unix.F_WRLCK, gateByte, 1)
	return ok && err == nil // no record locks (kernel objects): no lock
}

// endCreation undoes beginCreation.
func endCreation(fd int, key fileKey, locked bool) {
	if locked {
		unlock(fd, gateByte, 1)
	}
	files.mu.Lock()
	delete(files.creating, key)
	files.mu.Unlock()
}

// creatorDied reports whether the creator of the sized, unpublished file
// fd (key) is known to be dead: nobody holds the creation lock, and this
// process is not creating it.
func creatorDied(fd int, key fileKey) bool {
	files.mu.Lock()
	mine := files.creating[key]
	files.mu.Unlock()
	if mine {
		return false
	}
	_, _, held, err := heldLock(fd, gateByte, 1)
	return err == nil && !held
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
