// Package posixshm is POSIX shared memory (shm_open and shm_unlink) in pure
// Go, without cgo, reproducing OpenBSD's libc exactly and following each
// system's own convention elsewhere, plus a mapped segment that OpenBSD's
// daily(8) does not delete while it is in use.
//
// # The drop-in
//
// [Open] and [Unlink] open and remove the object that this system's C
// shm_open(name) and shm_unlink(name) would, so Go and C programs share
// objects:
//
//	f, err := posixshm.Open("/myobject", os.O_RDWR|os.O_CREATE, 0o600)
//	...
//	defer posixshm.Unlink(f.Name())
//
// As with os.Open, the file's Name() is the name as given ("/myobject"),
// in every [Layout]: Unlink(f.Name()) removes exactly the object f was
// opened as, and [Path] gives the file behind a name.
//
// On OpenBSD shm_open is libc code, not a system call: the object called
// name is the plain file /tmp/<sha256-hex(name)>.shm, opened with O_NOFOLLOW
// and O_CLOEXEC, created with mode perm&0600, and refused unless it is a
// regular file owned by the caller. [Dir] is that layout rooted at any
// directory, on any system; on OpenBSD the package-level functions are the
// methods of [OpenBSD] (Dir("/tmp")). On Linux they follow glibc:
// /dev/shm/<name without its leading slashes>.
//
// Both go a little further than libc, because the files live in
// directories anybody can write to: a FIFO planted at the path cannot block
// the open, a file with more than one hard link is refused (also when the
// link is removed again while the file is being opened), O_TRUNC is
// applied only after the checks pass, and symbolic links are never
// followed, in any part of a path the package makes (illumos's hashed
// directories for long names included).
//
// # Errors
//
// Every error is an *fs.PathError whose Op is the C function's name
// ("shm_open", "shm_unlink", "shm_mkstemp", "mmap") and whose Path is the caller's
// name. Its Err is a [*FileError] naming the file the name resolved to (and,
// for a refused file, why), or a [*NameError] for a name refused outright.
// Both unwrap to the errno the C function would set, so errors.Is works
// with fs.ErrNotExist, fs.ErrExist, fs.ErrPermission and syscall errnos.
//
// # Mapping
//
// [Map] maps a whole object, as Python's SharedMemory.buf does: Bytes and
// Size, Close to unmap; read-only when the file was opened read-only:
//
//	f.Truncate(4096) // an object needs a size before it is mapped
//	m, err := posixshm.Map(f)
//	...
//	defer m.Close()
//	copy(m.Bytes(), "hello")
//
// # Why daily(8) matters
//
// Mapping and using an object never updates its file times. OpenBSD's
// daily(8) removes files in /tmp whose access time is more than 7 days old
// (3 days in older releases), so a week after creation a live object
// vanishes: running processes keep their mapping, new ones get ENOENT.
// [Touch] refreshes an object's times, as futimes(fd, NULL) does.
//
// # Segments
//
// Package posixshm is the drop-in shm_open and nothing more. Package
// [github.com/posixshm/posixshm/segment] builds on it: an object mapped with
// a small versioned header, a crash-robust lock, and refresh-on-use so that
// daily(8) never deletes a segment in use. Its Options take a [Layout]: a
// [Dir], or [System] for this system's own convention.
package posixshm
