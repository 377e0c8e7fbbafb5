//go:build linux && !openbsdsim

package main

import "golang.org/x/sys/unix"

// procRoot is where the proc file system that tells which processes use a
// file is mounted.
const procRoot = "/proc"

// kcmpFiles is KCMP_FILES of the kernel's include/uapi/linux/kcmp.h.
const kcmpFiles = 2

// sameFiles reports whether the tasks (threads) a and b share one
// descriptor table, as kcmp(2) tells. It reports false when kcmp cannot
// tell (not permitted, not built into the kernel, a task gone): the
// caller then reads b's table too, which costs time, never a file.
func sameFiles(a, b int) bool {
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, uintptr(a), uintptr(b), kcmpFiles, 0, 0, 0)
	return errno == 0 && r == 0
}
