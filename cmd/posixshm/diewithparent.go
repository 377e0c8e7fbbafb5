//go:build (linux && !openbsdsim) || freebsd

package main

import (
	"os/exec"
	"syscall"
)

// parentDeathSignal says whether dieWithParent works on this system.
const parentDeathSignal = true

// dieWithParent makes cmd's process get SIGKILL when this process dies,
// however it dies: prctl(PR_SET_PDEATHSIG) on Linux, procctl
// (PROC_PDEATHSIG_CTL) on FreeBSD, both set by the os/exec child between
// fork and exec. There, after setting it, the child compares getppid()
// with the parent's PID read before the fork and kills itself if they
// differ, so a parent that dies between fork and exec takes the child
// with it too (syscall/exec_linux.go and exec_freebsd.go, "Signal self if
// parent is already dead").
//
// On Linux the signal comes when the THREAD that forked the child exits,
// not the process (go.dev/issue/27505). Go never ends its threads, except
// one whose goroutine exits while locked to it (runtime.LockOSThread);
// callers therefore lock the starting goroutine to its thread from before
// Start until after Wait, so that the forking thread cannot be handed to
// such a goroutine and end while the child runs.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
