//go:build unix

package lock

import "golang.org/x/sys/unix"

// signalable reports whether kill(pid, 0) finds the process: ESRCH means it
// does not exist; EPERM means it exists under another user.
func signalable(pid int) bool {
	return unix.Kill(pid, 0) != unix.ESRCH
}
