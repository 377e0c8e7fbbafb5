//go:build linux && (amd64 || arm64)

package pledge

import "golang.org/x/sys/unix"

// The table: which promises allow each Linux system call, after OpenBSD's
// sys/kern/kern_pledge.c (pledge_syscalls and the pledge_* argument checks)
// and the namei promises of sys/kern/vfs_syscalls.c. The order of the
// blocks follows kern_pledge.c. A call that is not here is refused with
// SECCOMP_RET_KILL_PROCESS whatever the promises, as a call missing from
// pledge_syscalls is.
//
// Linux-only calls the Go runtime or os package need are placed beside
// their OpenBSD counterpart (epoll next to kqueue, getrandom next to
// getentropy, ...); each says so. Calls that exist only on older ABIs
// (open, stat, fork, ...) are in the amd64 table (rules_linux_amd64.go).
var rules = append(commonRules, archRules...)

var commonRules = []rule{
	// PLEDGE_ALWAYS: the minimum.
	sys(unix.SYS_EXIT, "exit", always),                                // __threxit
	sys(unix.SYS_EXIT_GROUP, "exit_group", always),                    // _exit
	sys(unix.SYS_RESTART_SYSCALL, "restart_syscall", always),          // the kernel's own restart path
	sys(unix.SYS_SECCOMP, "seccomp", always),                          // pledge: further filters only narrow
	sys(unix.SYS_TGKILL, "tgkill", always).with(self(0, false, proc)), // thrkill: own threads (Go preempts with tgkill(getpid(), tid, SIGURG))
	sys(unix.SYS_TKILL, "tkill", always).with(self(0, false, proc)),   // thrkill: only the main thread (tid == pid) is known to be ours

	// "getting" information about self: stdio.
	sys(unix.SYS_GETUID, "getuid", stdio),
	sys(unix.SYS_GETEUID, "geteuid", stdio),
	sys(unix.SYS_GETRESUID, "getresuid", stdio),
	sys(unix.SYS_GETGID, "getgid", stdio),
	sys(unix.SYS_GETEGID, "getegid", stdio),
	sys(unix.SYS_GETRESGID, "getresgid", stdio),
	sys(unix.SYS_GETGROUPS, "getgroups", stdio),
	sys(unix.SYS_GETPGID, "getpgid", stdio),
	sys(unix.SYS_GETPPID, "getppid", stdio),
	sys(unix.SYS_GETSID, "getsid", stdio),
	sys(unix.SYS_GETTID, "gettid", stdio), // getthrid
	sys(unix.SYS_GETPID, "getpid", stdio),
	sys(unix.SYS_GETRLIMIT, "getrlimit", stdio),
	sys(unix.SYS_PRLIMIT64, "prlimit64", stdio).with(
		self(0, true, 0), // another process's limits: process information
		null(2, proc)),   // setting a limit: setrlimit is "proc" (or "id")
	sys(unix.SYS_SETRLIMIT, "setrlimit", proc),
	sys(unix.SYS_GETRUSAGE, "getrusage", stdio),
	sys(unix.SYS_TIMES, "times", stdio), // getrusage
	sys(unix.SYS_GETTIMEOFDAY, "gettimeofday", stdio),
	sys(unix.SYS_CLOCK_GETTIME, "clock_gettime", stdio),
	sys(unix.SYS_CLOCK_GETRES, "clock_getres", stdio),
	sys(unix.SYS_UNAME, "uname", stdio),     // sysctl kern.ostype, kern.osrelease, hw.machine
	sys(unix.SYS_SYSINFO, "sysinfo", stdio), // sysctl vm.loadavg, hw.physmem
	sys(unix.SYS_SCHED_GETAFFINITY, "sched_getaffinity", stdio).with(
		self(0, true, 0)), // sysctl hw.ncpuonline; the Go runtime polls it. Another pid: process information

	// malloc(3) support: stdio.
	sys(unix.SYS_GETRANDOM, "getrandom", stdio), // getentropy
	sys(unix.SYS_MADVISE, "madvise", stdio),
	sys(unix.SYS_MMAP, "mmap", stdio).with(noExec(2)),
	sys(unix.SYS_MPROTECT, "mprotect", stdio).with(noExec(2)),
	sys(unix.SYS_MUNMAP, "munmap", stdio),
	sys(unix.SYS_MREMAP, "mremap", stdio),
	sys(unix.SYS_MSYNC, "msync", stdio),
	sys(unix.SYS_BRK, "brk", stdio), // break
	sys(unix.SYS_PRCTL, "prctl", stdio).with(prctlOption(0)),
	sys(unix.SYS_UMASK, "umask", stdio),

	// read/write operations: stdio.
	sys(unix.SYS_READ, "read", stdio),
	sys(unix.SYS_READV, "readv", stdio),
	sys(unix.SYS_PREAD64, "pread64", stdio),
	sys(unix.SYS_PREADV, "preadv", stdio),
	sys(unix.SYS_PREADV2, "preadv2", stdio),
	sys(unix.SYS_WRITE, "write", stdio),
	sys(unix.SYS_WRITEV, "writev", stdio),
	sys(unix.SYS_PWRITE64, "pwrite64", stdio),
	sys(unix.SYS_PWRITEV, "pwritev", stdio),
	sys(unix.SYS_PWRITEV2, "pwritev2", stdio),
	sys(unix.SYS_RECVMSG, "recvmsg", stdio),
	sys(unix.SYS_RECVMMSG, "recvmmsg", stdio),
	sys(unix.SYS_RECVFROM, "recvfrom", stdio),
	sys(unix.SYS_FTRUNCATE, "ftruncate", stdio),
	sys(unix.SYS_FALLOCATE, "fallocate", stdio), // ftruncate's Linux sibling
	sys(unix.SYS_LSEEK, "lseek", stdio),
	sys(unix.SYS_FADVISE64, "fadvise64", stdio),                          // advice on an open file
	sys(unix.SYS_COPY_FILE_RANGE, "copy_file_range", stdio),              // read+write between descriptors (os.File.ReadFrom)
	sys(unix.SYS_SENDFILE, "sendfile", stdio),                            // likewise
	sys(unix.SYS_SPLICE, "splice", stdio),                                // likewise
	sys(unix.SYS_TEE, "tee", stdio),                                      // likewise
	sys(unix.SYS_SENDTO, "sendto", stdio).with(null(4, inet|unixSocket)), // pledge_sendit: an address needs a network promise
	sys(unix.SYS_SENDMSG, "sendmsg", stdio),                              // msg_name is not visible to seccomp: not checked
	sys(unix.SYS_SENDMMSG, "sendmmsg", stdio),                            // likewise

	// Common signal operations: stdio.
	sys(unix.SYS_NANOSLEEP, "nanosleep", stdio),
	sys(unix.SYS_CLOCK_NANOSLEEP, "clock_nanosleep", stdio),
	sys(unix.SYS_SIGALTSTACK, "sigaltstack", stdio),
	sys(unix.SYS_RT_SIGPROCMASK, "rt_sigprocmask", stdio),
	sys(unix.SYS_RT_SIGSUSPEND, "rt_sigsuspend", stdio),
	sys(unix.SYS_RT_SIGACTION, "rt_sigaction", stdio),
	sys(unix.SYS_RT_SIGRETURN, "rt_sigreturn", stdio),
	sys(unix.SYS_RT_SIGPENDING, "rt_sigpending", stdio),
	sys(unix.SYS_RT_SIGTIMEDWAIT, "rt_sigtimedwait", stdio), // __thrsigdivert
	sys(unix.SYS_GETITIMER, "getitimer", stdio),
	sys(unix.SYS_SETITIMER, "setitimer", stdio),
	sys(unix.SYS_TIMER_CREATE, "timer_create", stdio), // per-process timers, as setitimer
	sys(unix.SYS_TIMER_SETTIME, "timer_settime", stdio),
	sys(unix.SYS_TIMER_GETTIME, "timer_gettime", stdio),
	sys(unix.SYS_TIMER_GETOVERRUN, "timer_getoverrun", stdio),
	sys(unix.SYS_TIMER_DELETE, "timer_delete", stdio),

	// Event driven programming: stdio. epoll, eventfd and timerfd stand in
	// for kqueue and kevent (the Go runtime's poller uses the first two).
	sys(unix.SYS_PPOLL, "ppoll", stdio),
	sys(unix.SYS_PSELECT6, "pselect6", stdio),
	sys(unix.SYS_EPOLL_CREATE1, "epoll_create1", stdio),
	sys(unix.SYS_EPOLL_CTL, "epoll_ctl", stdio),
	sys(unix.SYS_EPOLL_PWAIT, "epoll_pwait", stdio),
	sys(unix.SYS_EPOLL_PWAIT2, "epoll_pwait2", stdio),
	sys(unix.SYS_EVENTFD2, "eventfd2", stdio),
	sys(unix.SYS_TIMERFD_CREATE, "timerfd_create", stdio),
	sys(unix.SYS_TIMERFD_SETTIME, "timerfd_settime", stdio),
	sys(unix.SYS_TIMERFD_GETTIME, "timerfd_gettime", stdio),

	sys(unix.SYS_FSTAT, "fstat", stdio),
	sys(unix.SYS_FSYNC, "fsync", stdio),
	sys(unix.SYS_FDATASYNC, "fdatasync", stdio), // fsync

	sys(unix.SYS_SETSOCKOPT, "setsockopt", stdio).with(sockopt(1, 2)), // narrow list without a network promise
	sys(unix.SYS_GETSOCKOPT, "getsockopt", stdio).with(sockopt(1, 2)),

	// fcntl: stdio; record locks need "flock", F_SETOWN needs "proc".
	sys(unix.SYS_FCNTL, "fcntl", stdio).with(fcntlCmd(1)),

	sys(unix.SYS_CLOSE, "close", stdio),
	sys(unix.SYS_CLOSE_RANGE, "close_range", stdio), // closefrom
	sys(unix.SYS_DUP, "dup", stdio),
	sys(unix.SYS_DUP3, "dup3", stdio),
	sys(unix.SYS_SHUTDOWN, "shutdown", stdio),
	sys(unix.SYS_FCHDIR, "fchdir", stdio),
	sys(unix.SYS_PIPE2, "pipe2", stdio),
	sys(unix.SYS_SOCKETPAIR, "socketpair", stdio),
	sys(unix.SYS_GETSOCKNAME, "getsockname", stdio),
	sys(unix.SYS_GETPEERNAME, "getpeername", stdio),

	sys(unix.SYS_WAIT4, "wait4", stdio),
	sys(unix.SYS_WAITID, "waitid", stdio),

	// "Can kill self with stdio. Killing another pid requires proc"
	// (pledge_kill). Queued signals follow the same rule.
	sys(unix.SYS_KILL, "kill", stdio).with(self(0, true, proc)),
	sys(unix.SYS_RT_SIGQUEUEINFO, "rt_sigqueueinfo", stdio).with(self(0, false, proc)),
	sys(unix.SYS_RT_TGSIGQUEUEINFO, "rt_tgsigqueueinfo", stdio).with(self(0, false, proc)),

	// FIONREAD, FIONBIO, FIOCLEX, FIONCLEX only (pledge_ioctl).
	sys(unix.SYS_IOCTL, "ioctl", stdio).with(ioctlCmd(1)),

	// Threads: stdio (__tfork, futex, sched_yield). clone3 hides its flags
	// in memory, out of seccomp's sight: without "proc" it fails with
	// ENOSYS, and libc falls back to clone, whose flags are checked.
	sys(unix.SYS_CLONE, "clone", stdio).with(thread(0)),
	sys(unix.SYS_CLONE3, "clone3", stdio).with(fixed(errno(unix.ENOSYS), proc)),
	sys(unix.SYS_SCHED_YIELD, "sched_yield", stdio),
	sys(unix.SYS_FUTEX, "futex", stdio),
	sys(unix.SYS_SET_ROBUST_LIST, "set_robust_list", stdio), // glibc's thread start (cgo, -race): own thread only
	sys(unix.SYS_RSEQ, "rseq", stdio),                       // likewise

	// proc.
	sys(unix.SYS_SETPGID, "setpgid", proc),
	sys(unix.SYS_SETSID, "setsid", proc),
	sys(unix.SYS_GETPRIORITY, "getpriority", proc),             // "proc" or "id"
	sys(unix.SYS_SETPRIORITY, "setpriority", proc),             // likewise
	sys(unix.SYS_PIDFD_OPEN, "pidfd_open", proc),               // a handle to signal other processes with
	sys(unix.SYS_PIDFD_SEND_SIGNAL, "pidfd_send_signal", proc), // kill(2) through such a handle

	// Paths. The promises are those namei checks: open wants "rpath" to
	// read, "wpath" to write and "cpath" to create; stat, access and
	// readlink want "rpath". openat2 hides its flags in memory: ENOSYS,
	// and callers fall back to openat.
	sys(unix.SYS_OPENAT, "openat", rpath|wpath).with(openFlags(2)),
	sys(unix.SYS_OPENAT2, "openat2", rpath|wpath).with(fixed(errno(unix.ENOSYS), 0)),
	sys(unix.SYS_NEWFSTATAT, "newfstatat", rpath|wpath).and(rpath), // fstatat
	sys(unix.SYS_STATX, "statx", rpath|wpath).and(rpath),           // fstatat; an AT_EMPTY_PATH fstat cannot be told apart
	sys(unix.SYS_FACCESSAT, "faccessat", rpath|wpath).and(rpath),
	sys(unix.SYS_FACCESSAT2, "faccessat2", rpath|wpath).and(rpath),
	sys(unix.SYS_READLINKAT, "readlinkat", rpath|wpath).and(rpath),
	sys(unix.SYS_TRUNCATE, "truncate", wpath).and(fattr | rpath),
	sys(unix.SYS_RENAMEAT, "renameat", cpath).and(rpath), // the source needs rpath|cpath
	sys(unix.SYS_RENAMEAT2, "renameat2", cpath).and(rpath),
	sys(unix.SYS_LINKAT, "linkat", cpath).and(rpath), // the source needs rpath
	sys(unix.SYS_SYMLINKAT, "symlinkat", cpath),
	sys(unix.SYS_UNLINKAT, "unlinkat", cpath),
	sys(unix.SYS_MKDIRAT, "mkdirat", cpath),
	sys(unix.SYS_MKNODAT, "mknodat", never), // "dpath": not simulated
	sys(unix.SYS_GETCWD, "getcwd", rpath|wpath),
	sys(unix.SYS_CHDIR, "chdir", rpath),
	sys(unix.SYS_GETDENTS64, "getdents64", rpath), // leaks path information
	sys(unix.SYS_STATFS, "statfs", rpath),
	sys(unix.SYS_FSTATFS, "fstatfs", rpath),

	// fattr. futimens(fd) is utimensat(fd, NULL, ...) on Linux; a path
	// needs "rpath" too. "fattr" also grants changing a file's owner to
	// oneself (pledge_chown); anything else is EPERM.
	sys(unix.SYS_UTIMENSAT, "utimensat", fattr).with(null(1, rpath)),
	sys(unix.SYS_FCHMOD, "fchmod", fattr),
	sys(unix.SYS_FCHMODAT, "fchmodat", fattr).and(rpath),
	sys(unix.SYS_FCHMODAT2, "fchmodat2", fattr).and(rpath),
	sys(unix.SYS_FCHOWN, "fchown", fattr).with(chownSelf(1, 2)),
	sys(unix.SYS_FCHOWNAT, "fchownat", fattr).and(rpath).with(chownSelf(2, 3)),

	sys(unix.SYS_FLOCK, "flock", flock),

	// Sockets: pledge_socket. connect and bind cannot see the address
	// family: any network promise passes.
	sys(unix.SYS_SOCKET, "socket", inet|unixSocket).with(socketDomain(0)),
	sys(unix.SYS_CONNECT, "connect", inet|unixSocket),
	sys(unix.SYS_BIND, "bind", inet|unixSocket),
	sys(unix.SYS_LISTEN, "listen", inet|unixSocket),
	sys(unix.SYS_ACCEPT, "accept", inet|unixSocket),
	sys(unix.SYS_ACCEPT4, "accept4", inet|unixSocket),

	// Never: exec is not simulated, and no promise lets a process look
	// into or act through another one.
	sys(unix.SYS_EXECVE, "execve", never),
	sys(unix.SYS_EXECVEAT, "execveat", never),
	sys(unix.SYS_PTRACE, "ptrace", never),
	sys(unix.SYS_PROCESS_VM_READV, "process_vm_readv", never),
	sys(unix.SYS_PROCESS_VM_WRITEV, "process_vm_writev", never),
	sys(unix.SYS_KCMP, "kcmp", never),
	sys(unix.SYS_PIDFD_GETFD, "pidfd_getfd", never),
	sys(unix.SYS_GET_ROBUST_LIST, "get_robust_list", never),
}
