package posixshm

import "os"

// anonName is the Path of errors from OpenAnonymous, after FreeBSD's
// shm_open(SHM_ANON, ...), and the name of the *os.File it returns where
// the system gives none.
const anonName = "SHM_ANON"

// OpenAnonymous creates a new shared memory object that has no name: no
// other process can open it, only inherit or receive its descriptor
// (os/exec ExtraFiles, SCM_RIGHTS), and it vanishes when the last
// descriptor and mapping are gone. It is open for reading and writing,
// close-on-exec, with size 0 (grow it with Truncate), and allows
// fcntl(F_ADD_SEALS).
//
// On Linux it is memfd_create(2) with MFD_CLOEXEC and MFD_ALLOW_SEALING
// (and MFD_NOEXEC_SEAL where the kernel knows it); on FreeBSD it is
// shm_open(SHM_ANON) with SHM_ALLOW_SEALING. Elsewhere it fails with
// ENOTSUP.
//
// The file's Name() names no object: "/memfd:posixshm/anonymous" on Linux
// (/proc shows "/memfd:posixshm (deleted)"), "SHM_ANON" on FreeBSD. This
// system's Unlink refuses both with EINVAL, so code that unlinks
// f.Name() removes nothing.
//
// If there is an error, it will be of type *fs.PathError with Path
// "SHM_ANON" and Op "memfd_create" on Linux, "shm_open" elsewhere.
func OpenAnonymous() (*os.File, error) { return openAnonymous() }
