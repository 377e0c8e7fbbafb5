package pledge

import "golang.org/x/sys/unix"

// The x86-64 ABI. Numbers with bit 30 set are the x32 ABI's, which shares
// AUDIT_ARCH_X86_64: refused, or every rule could be bypassed through them.
var arch = archInfo{audit: unix.AUDIT_ARCH_X86_64, x32: 0x40000000}

// archRules are the calls amd64 has and the generic ABI (arm64) dropped:
// the path calls without "at", fork, and older forms of stdio calls. Same
// promises as their modern forms in rules_linux.go.
var archRules = []rule{
	sys(unix.SYS_ARCH_PRCTL, "arch_prctl", always), // __set_tcb, __get_tcb
	sys(unix.SYS_TIME, "time", stdio),
	sys(unix.SYS_ALARM, "alarm", stdio),
	sys(unix.SYS_PAUSE, "pause", stdio),
	sys(unix.SYS_GETPGRP, "getpgrp", stdio),
	sys(unix.SYS_POLL, "poll", stdio),
	sys(unix.SYS_SELECT, "select", stdio),
	sys(unix.SYS_EPOLL_CREATE, "epoll_create", stdio),
	sys(unix.SYS_EPOLL_WAIT, "epoll_wait", stdio),
	sys(unix.SYS_EVENTFD, "eventfd", stdio),
	sys(unix.SYS_DUP2, "dup2", stdio),
	sys(unix.SYS_PIPE, "pipe", stdio),

	sys(unix.SYS_FORK, "fork", proc),
	sys(unix.SYS_VFORK, "vfork", proc),

	sys(unix.SYS_OPEN, "open", rpath|wpath).with(openFlags(1)),
	sys(unix.SYS_CREAT, "creat", cpath).and(wpath), // O_CREAT|O_WRONLY|O_TRUNC
	sys(unix.SYS_STAT, "stat", rpath),
	sys(unix.SYS_LSTAT, "lstat", rpath),
	sys(unix.SYS_ACCESS, "access", rpath),
	sys(unix.SYS_READLINK, "readlink", rpath),
	sys(unix.SYS_GETDENTS, "getdents", rpath),
	sys(unix.SYS_RENAME, "rename", rpath|cpath).and(rpath | cpath),
	sys(unix.SYS_LINK, "link", cpath).and(rpath),
	sys(unix.SYS_SYMLINK, "symlink", cpath),
	sys(unix.SYS_UNLINK, "unlink", cpath),
	sys(unix.SYS_RMDIR, "rmdir", cpath),
	sys(unix.SYS_MKDIR, "mkdir", cpath),
	sys(unix.SYS_MKNOD, "mknod", never), // "dpath": not simulated
	sys(unix.SYS_CHMOD, "chmod", fattr).and(rpath),
	sys(unix.SYS_CHOWN, "chown", fattr).and(rpath).with(chownSelf(1, 2)),
	sys(unix.SYS_LCHOWN, "lchown", fattr).and(rpath).with(chownSelf(1, 2)),
	sys(unix.SYS_UTIME, "utime", fattr).and(rpath),
	sys(unix.SYS_UTIMES, "utimes", fattr).and(rpath),
	sys(unix.SYS_FUTIMESAT, "futimesat", fattr).with(null(1, rpath)),
}
