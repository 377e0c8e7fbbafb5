package pledge

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Confine confines the calling process, every thread of it, to promises
// (a pledge(2) promise string such as "stdio rpath flock"). It cannot be
// undone; a later call can only narrow the promises further, as with
// pledge. A system call the promises do not allow kills the whole process
// with SIGSYS.
//
// Confine does not hide /proc: RunConfined's child does that first, in a
// mount namespace of its own.
func Confine(promises string) error {
	set, err := parse(promises)
	if err != nil {
		return err
	}
	if err := Supported(); err != nil {
		return err
	}
	e, err := selfEnv(set)
	if err != nil {
		return err
	}
	prog, err := compile(e, arch, rules)
	if err != nil {
		return err
	}
	return install(prog)
}

// Supported returns why Confine cannot work on this system, or nil. The
// error matches errors.ErrUnsupported.
func Supported() error {
	if arch.audit == 0 {
		return fmt.Errorf("pledge: no system call table for linux/%s: %w", runtime.GOARCH, errors.ErrUnsupported)
	}
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("pledge: kernel without seccomp (prctl PR_GET_SECCOMP: %v): %w", err, errors.ErrUnsupported)
	}
	// SECCOMP_RET_KILL_PROCESS: Linux 4.14. Older kernels can only kill
	// the offending thread, which is not what pledge does.
	action := uint32(unix.SECCOMP_RET_KILL_PROCESS)
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&action))); e != 0 {
		return fmt.Errorf("pledge: seccomp cannot kill a whole process here (SECCOMP_GET_ACTION_AVAIL: %v): %w", e, errors.ErrUnsupported)
	}
	return nil
}

// selfEnv is the environment of the calling process.
func selfEnv(set promise) (*env, error) {
	groups, err := unix.Getgroups()
	if err != nil {
		return nil, fmt.Errorf("pledge: getgroups: %w", err)
	}
	e := &env{set: set, pid: uint32(unix.Getpid()), euid: uint32(unix.Geteuid()), gids: []uint32{uint32(unix.Getegid())}}
	for _, g := range groups {
		e.gids = append(e.gids, uint32(g))
	}
	return e, nil
}

// install sets no_new_privs and loads prog on every thread of the process
// (SECCOMP_FILTER_FLAG_TSYNC): the Go runtime has several threads before
// main runs, and any of them may run any goroutine.
func install(prog []unix.SockFilter) error {
	// no_new_privs is a thread attribute: set it on the thread that loads
	// the filter, which then gives it to the others with the filter.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("pledge: prctl PR_SET_NO_NEW_PRIVS: %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if e != 0 {
		return fmt.Errorf("pledge: seccomp SECCOMP_SET_MODE_FILTER: %w", e)
	}
	if r != 0 {
		// TSYNC names the thread it could not move to the new filter.
		return fmt.Errorf("pledge: seccomp: thread %d could not take the filter", r)
	}
	return nil
}
