package pledge

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// hideProc mounts an empty, read-only tmpfs over /proc, so that the process
// finds no /proc at all, as on OpenBSD: opening anything under it fails
// with ENOENT. seccomp cannot see paths; this is the part of "no /proc"
// that a filter cannot do.
//
// It refuses to run in its parent's mount namespace, where the mount would
// hide /proc from every process: the caller must have been started in a
// namespace of its own (RunConfined starts its child with CLONE_NEWNS).
func hideProc() error {
	mine, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return fmt.Errorf("pledge: hiding /proc: %w", err)
	}
	theirs, err := os.Readlink("/proc/" + strconv.Itoa(os.Getppid()) + "/ns/mnt")
	if err != nil {
		return fmt.Errorf("pledge: hiding /proc: %w", err)
	}
	if mine == theirs {
		return fmt.Errorf("pledge: hiding /proc: refused: this process shares its parent's mount namespace (%s)", mine)
	}
	// Private, recursively, so the mount below reaches no other namespace
	// (os/exec already does this for CLONE_NEWNS; this does not rely on it).
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("pledge: hiding /proc: making / private: %w", err)
	}
	const flags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("pledge-noproc", "/proc", "tmpfs", flags, "size=4k,mode=0555"); err != nil {
		return fmt.Errorf("pledge: hiding /proc: mount tmpfs: %w", err)
	}
	return nil
}
