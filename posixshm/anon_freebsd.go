package posixshm

import "os"

// openAnonymous is shm_open(SHM_ANON, O_RDWR, 0600) through shm_open2
// with SHM_ALLOW_SEALING, as FreeBSD's memfd_create does
// (lib/libc/sys/shm_open.c), so fcntl(F_ADD_SEALS) works on it.
func openAnonymous() (*os.File, error) {
	fd, err := shmOpen2(shmAnon, os.O_RDWR, 0o600, shmAllowSealing)
	if err != nil {
		return nil, pathError(opOpen, anonName, "", "", err)
	}
	// "SHM_ANON" has no leading slash, so Unlink(f.Name()) is EINVAL.
	return newFile(fd, anonName), nil
}
