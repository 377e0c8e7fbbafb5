//go:build linux && (amd64 || arm64)

package pledge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// These tests run the filter through a small classic-BPF interpreter, to
// check the decision for many calls and promise sets without a process
// each; pledge_linux_test.go checks with real confined processes that the
// kernel decides the same.

// evalBPF runs prog on a seccomp_data of arch, nr and args, as the kernel
// would, for the instructions compile emits.
func evalBPF(t *testing.T, prog []unix.SockFilter, auditArch uint32, nr int32, args [6]uint64) uint32 {
	t.Helper()
	var data [64]byte
	binary.LittleEndian.PutUint32(data[offNr:], uint32(nr))
	binary.LittleEndian.PutUint32(data[offArch:], auditArch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[offArgs+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			pc += int(pick(acc == in.K, in.Jt, in.Jf))
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			pc += int(pick(acc >= in.K, in.Jt, in.Jf))
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			pc += int(pick(acc&in.K != 0, in.Jt, in.Jf))
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
	}
	t.Fatal("ran off the end of the program")
	return 0
}

func pick(c bool, a, b uint8) uint8 {
	if c {
		return a
	}
	return b
}

// testEnv is a caller with pid 4242, euid 1000, groups 1000 and 27.
func testEnv(t *testing.T, promises string) *env {
	t.Helper()
	set, err := parse(promises)
	if err != nil {
		t.Fatal(err)
	}
	return &env{set: set, pid: 4242, euid: 1000, gids: []uint32{1000, 27}}
}

func mustCompile(t *testing.T, e *env) []unix.SockFilter {
	t.Helper()
	prog, err := compile(e, arch, rules)
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

func verdictName(v uint32) string {
	switch {
	case v == uint32(allow):
		return "allow"
	case v == uint32(kill):
		return "kill"
	case v&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_ERRNO:
		return "errno " + unix.ErrnoName(unix.Errno(v&unix.SECCOMP_RET_DATA))
	}
	return fmt.Sprintf("%#x", v)
}

const base = "stdio rpath wpath cpath fattr flock"

func TestFilter_Decisions(t *testing.T) {
	const neg1 = 1<<64 - 1 // -1 as the kernel receives it in a register
	tests := []struct {
		promises string
		call     string
		nr       uintptr
		args     [6]uint64
		want     verdict
	}{
		// kill(2): itself or its group under stdio, others need proc.
		{base, "kill(self, 0)", unix.SYS_KILL, [6]uint64{4242}, allow},
		{base, "kill(0, 0)", unix.SYS_KILL, [6]uint64{0}, allow},
		{base, "kill(other, 0)", unix.SYS_KILL, [6]uint64{4243}, kill},
		{base, "kill(-1, 9)", unix.SYS_KILL, [6]uint64{neg1, 9}, kill},
		{base, "kill(-self, 0): the group, not us", unix.SYS_KILL, [6]uint64{uint64(1<<64 - 4242)}, kill},
		{base, "kill(self+2^32, 0): the kernel reads an int", unix.SYS_KILL, [6]uint64{1<<32 | 4242}, allow},
		{"stdio proc", "kill(other, 0)", unix.SYS_KILL, [6]uint64{4243}, allow},
		{"", "kill(self, 0) without stdio", unix.SYS_KILL, [6]uint64{4242}, kill},
		{"", "tgkill(self, tid, SIGURG): always", unix.SYS_TGKILL, [6]uint64{4242, 4250, 23}, allow},
		{base, "tgkill(other, tid, 0)", unix.SYS_TGKILL, [6]uint64{4243, 4243, 0}, kill},
		{"stdio proc", "tgkill(other, tid, 0)", unix.SYS_TGKILL, [6]uint64{4243, 4243, 0}, allow},
		{base, "tkill(main thread)", unix.SYS_TKILL, [6]uint64{4242, 0}, allow},
		{base, "tkill(other)", unix.SYS_TKILL, [6]uint64{4250, 0}, kill},
		{base, "rt_sigqueueinfo(other)", unix.SYS_RT_SIGQUEUEINFO, [6]uint64{4243}, kill},
		{base, "pidfd_open", unix.SYS_PIDFD_OPEN, [6]uint64{4243}, kill},
		{"stdio proc", "pidfd_open", unix.SYS_PIDFD_OPEN, [6]uint64{4243}, allow},

		// Process information and tracing: never.
		{"stdio proc", "ptrace", unix.SYS_PTRACE, [6]uint64{unix.PTRACE_ATTACH, 4243}, kill},
		{"stdio proc", "process_vm_readv", unix.SYS_PROCESS_VM_READV, [6]uint64{4243}, kill},
		{"stdio proc", "kcmp", unix.SYS_KCMP, [6]uint64{4242, 4243}, kill},
		{base, "sched_getaffinity(0)", unix.SYS_SCHED_GETAFFINITY, [6]uint64{0, 128, 0x1000}, allow},
		{base, "sched_getaffinity(other)", unix.SYS_SCHED_GETAFFINITY, [6]uint64{4243, 128, 0x1000}, kill},
		{base, "prlimit64(0, get)", unix.SYS_PRLIMIT64, [6]uint64{0, unix.RLIMIT_NOFILE, 0, 0x1000}, allow},
		{base, "prlimit64(0, set)", unix.SYS_PRLIMIT64, [6]uint64{0, unix.RLIMIT_NOFILE, 0x1000, 0}, kill},
		{"stdio proc", "prlimit64(self, set)", unix.SYS_PRLIMIT64, [6]uint64{4242, unix.RLIMIT_NOFILE, 0x1000, 0}, allow},
		{"stdio proc", "prlimit64(other, get)", unix.SYS_PRLIMIT64, [6]uint64{4243, unix.RLIMIT_NOFILE, 0, 0x1000}, kill},

		// Threads yes, processes only with proc.
		{"stdio", "clone(CLONE_THREAD|...)", unix.SYS_CLONE, [6]uint64{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM}, allow},
		{base, "clone(SIGCHLD): fork", unix.SYS_CLONE, [6]uint64{uint64(unix.SIGCHLD)}, kill},
		{base, "clone(CLONE_VFORK|CLONE_VM): os/exec", unix.SYS_CLONE, [6]uint64{unix.CLONE_VFORK | unix.CLONE_VM | uint64(unix.SIGCHLD)}, kill},
		{"stdio proc", "clone(SIGCHLD)", unix.SYS_CLONE, [6]uint64{uint64(unix.SIGCHLD)}, allow},
		{base, "clone3", unix.SYS_CLONE3, [6]uint64{0x1000, 88}, errno(unix.ENOSYS)},
		{"stdio proc", "clone3", unix.SYS_CLONE3, [6]uint64{0x1000, 88}, allow},
		{"rpath", "clone3 without stdio", unix.SYS_CLONE3, [6]uint64{0x1000, 88}, kill},
		{"stdio proc", "execve", unix.SYS_EXECVE, [6]uint64{0x1000}, kill},

		// open: the access mode and O_CREAT decide.
		{"stdio rpath", "openat(O_RDONLY)", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_RDONLY | unix.O_CLOEXEC}, allow},
		{"stdio rpath", "openat(O_RDONLY|O_TRUNC)", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_RDONLY | unix.O_TRUNC}, allow},
		{"stdio rpath", "openat(O_RDWR)", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_RDWR}, kill},
		{"stdio rpath", "openat(O_WRONLY)", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_WRONLY}, kill},
		{"stdio wpath", "openat(O_WRONLY)", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_WRONLY}, allow},
		{"stdio wpath", "openat(O_RDONLY)", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_RDONLY}, kill},
		{"stdio wpath", "openat(O_ACCMODE)", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_ACCMODE}, kill},
		{"stdio rpath wpath", "openat(O_RDWR)", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_RDWR}, allow},
		{"stdio rpath wpath", "openat(O_RDWR|O_CREAT)", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_RDWR | unix.O_CREAT}, kill},
		{"stdio rpath wpath", "openat(O_RDWR|O_TMPFILE)", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_RDWR | unix.O_TMPFILE}, kill},
		{"stdio wpath cpath", "openat(O_WRONLY|O_CREAT|O_EXCL)", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL}, allow},
		{base, "openat(O_RDWR|O_CREAT|O_EXCL|O_NOFOLLOW)", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_RDWR | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW}, allow},
		{"stdio", "openat(O_RDONLY) without a path promise", unix.SYS_OPENAT, [6]uint64{neg1, 0x1000, unix.O_RDONLY}, kill},
		{base, "openat2", unix.SYS_OPENAT2, [6]uint64{neg1, 0x1000, 0x2000, 24}, errno(unix.ENOSYS)},
		{"stdio wpath", "newfstatat without rpath", unix.SYS_NEWFSTATAT, [6]uint64{neg1, 0x1000, 0x2000}, kill},
		{"stdio rpath", "newfstatat", unix.SYS_NEWFSTATAT, [6]uint64{neg1, 0x1000, 0x2000}, allow},
		{"stdio", "fstat", unix.SYS_FSTAT, [6]uint64{3, 0x2000}, allow},
		{"stdio rpath", "unlinkat", unix.SYS_UNLINKAT, [6]uint64{neg1, 0x1000, 0}, kill},
		{"stdio cpath", "unlinkat", unix.SYS_UNLINKAT, [6]uint64{neg1, 0x1000, 0}, allow},
		{"stdio cpath", "renameat without rpath", unix.SYS_RENAMEAT, [6]uint64{neg1, 0x1000, neg1, 0x2000}, kill},
		{"stdio rpath cpath", "renameat", unix.SYS_RENAMEAT, [6]uint64{neg1, 0x1000, neg1, 0x2000}, allow},
		{"stdio rpath wpath cpath", "truncate without fattr", unix.SYS_TRUNCATE, [6]uint64{0x1000, 0}, kill},
		{base, "truncate", unix.SYS_TRUNCATE, [6]uint64{0x1000, 0}, allow},
		{base, "mknodat", unix.SYS_MKNODAT, [6]uint64{neg1, 0x1000, unix.S_IFIFO | 0o600, 0}, kill},

		// fattr: futimens is utimensat(fd, NULL, ...); a path needs rpath.
		{"stdio fattr", "utimensat(fd, NULL)", unix.SYS_UTIMENSAT, [6]uint64{3, 0, 0, 0}, allow},
		{"stdio fattr", "utimensat(dirfd, path)", unix.SYS_UTIMENSAT, [6]uint64{neg1, 0x1000, 0, 0}, kill},
		{"stdio fattr", "utimensat(fd, 2^32)", unix.SYS_UTIMENSAT, [6]uint64{3, 1 << 32, 0, 0}, kill},
		{"stdio rpath fattr", "utimensat(dirfd, path)", unix.SYS_UTIMENSAT, [6]uint64{neg1, 0x1000, 0, 0}, allow},
		{"stdio rpath wpath", "utimensat(fd, NULL) without fattr", unix.SYS_UTIMENSAT, [6]uint64{3, 0, 0, 0}, kill},
		{"stdio fattr", "fchmod", unix.SYS_FCHMOD, [6]uint64{3, 0o600}, allow},
		{"stdio rpath", "fchmod without fattr", unix.SYS_FCHMOD, [6]uint64{3, 0o600}, kill},
		{"stdio fattr", "fchown(fd, -1, -1)", unix.SYS_FCHOWN, [6]uint64{3, 0xffffffff, 0xffffffff}, allow},
		{"stdio fattr", "fchown(fd, euid, group)", unix.SYS_FCHOWN, [6]uint64{3, 1000, 27}, allow},
		{"stdio fattr", "fchown(fd, other uid, -1)", unix.SYS_FCHOWN, [6]uint64{3, 0, 0xffffffff}, errno(unix.EPERM)},
		{"stdio fattr", "fchown(fd, -1, other group)", unix.SYS_FCHOWN, [6]uint64{3, 0xffffffff, 28}, errno(unix.EPERM)},
		{"stdio fattr", "fchownat needs rpath", unix.SYS_FCHOWNAT, [6]uint64{neg1, 0x1000, 1000, 1000, 0}, kill},

		// fcntl: flock for record locks, proc for F_SETOWN, EINVAL for
		// commands OpenBSD does not have.
		{base, "fcntl(F_GETLK)", unix.SYS_FCNTL, [6]uint64{3, unix.F_GETLK, 0x1000}, allow},
		{base, "fcntl(F_OFD_SETLKW)", unix.SYS_FCNTL, [6]uint64{3, unix.F_OFD_SETLKW, 0x1000}, allow},
		{"stdio rpath wpath cpath", "fcntl(F_GETLK)", unix.SYS_FCNTL, [6]uint64{3, unix.F_GETLK, 0x1000}, kill},
		{"stdio rpath wpath cpath", "fcntl(F_SETLK)", unix.SYS_FCNTL, [6]uint64{3, unix.F_SETLK, 0x1000}, kill},
		{"stdio rpath wpath cpath", "fcntl(F_OFD_GETLK)", unix.SYS_FCNTL, [6]uint64{3, unix.F_OFD_GETLK, 0x1000}, kill},
		{"stdio", "fcntl(F_GETFL)", unix.SYS_FCNTL, [6]uint64{3, unix.F_GETFL}, allow},
		{"stdio", "fcntl(F_DUPFD_CLOEXEC)", unix.SYS_FCNTL, [6]uint64{3, unix.F_DUPFD_CLOEXEC, 10}, allow},
		{base, "fcntl(F_SETOWN)", unix.SYS_FCNTL, [6]uint64{3, unix.F_SETOWN, 4243}, kill},
		{"stdio proc", "fcntl(F_SETOWN)", unix.SYS_FCNTL, [6]uint64{3, unix.F_SETOWN, 4243}, allow},
		{base, "fcntl(F_SETPIPE_SZ)", unix.SYS_FCNTL, [6]uint64{3, unix.F_SETPIPE_SZ, 1 << 20}, errno(unix.EINVAL)},
		{base, "fcntl(F_ADD_SEALS)", unix.SYS_FCNTL, [6]uint64{3, unix.F_ADD_SEALS, 1}, errno(unix.EINVAL)},
		{"stdio", "fcntl(F_SETFD)", unix.SYS_FCNTL, [6]uint64{3, unix.F_SETFD, unix.FD_CLOEXEC}, allow},
		{"flock", "fcntl(F_GETFL) without stdio", unix.SYS_FCNTL, [6]uint64{3, unix.F_GETFL}, kill},
		{"stdio flock", "flock", unix.SYS_FLOCK, [6]uint64{3, unix.LOCK_EX}, allow},
		{"stdio", "flock without flock", unix.SYS_FLOCK, [6]uint64{3, unix.LOCK_EX}, kill},

		// Memory.
		{"stdio", "mmap(PROT_READ|PROT_WRITE)", unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_WRITE, unix.MAP_SHARED, 3, 0}, allow},
		{"stdio", "mmap(PROT_EXEC)", unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_EXEC, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS, neg1, 0}, kill},
		{"stdio", "mprotect(PROT_EXEC)", unix.SYS_MPROTECT, [6]uint64{0x1000, 4096, unix.PROT_EXEC}, kill},
		{"stdio", "prctl(PR_SET_VMA)", unix.SYS_PRCTL, [6]uint64{unix.PR_SET_VMA, unix.PR_SET_VMA_ANON_NAME, 0x1000, 4096, 0x2000}, allow},
		{"stdio", "prctl(PR_SET_DUMPABLE)", unix.SYS_PRCTL, [6]uint64{unix.PR_SET_DUMPABLE, 1}, kill},
		{"stdio", "memfd_create: no OpenBSD counterpart", unix.SYS_MEMFD_CREATE, [6]uint64{0x1000, 0}, kill},
		{base, "io_uring_setup: would bypass the filter", unix.SYS_IO_URING_SETUP, [6]uint64{8, 0x1000}, kill},

		// ioctl: the four FIO* requests only.
		{"stdio", "ioctl(FIONBIO)", unix.SYS_IOCTL, [6]uint64{3, fionbio, 0x1000}, allow},
		{"stdio", "ioctl(FIOCLEX)", unix.SYS_IOCTL, [6]uint64{3, fioclex}, allow},
		{"stdio", "ioctl(TCGETS)", unix.SYS_IOCTL, [6]uint64{0, unix.TCGETS, 0x1000}, kill},

		// Sockets.
		{"stdio", "socketpair(AF_UNIX)", unix.SYS_SOCKETPAIR, [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0, 0x1000}, allow},
		{base, "socket(AF_INET)", unix.SYS_SOCKET, [6]uint64{unix.AF_INET, unix.SOCK_STREAM}, kill},
		{base, "socket(AF_UNIX)", unix.SYS_SOCKET, [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM}, kill},
		{"stdio inet", "socket(AF_INET6)", unix.SYS_SOCKET, [6]uint64{unix.AF_INET6, unix.SOCK_DGRAM}, allow},
		{"stdio inet", "socket(AF_UNIX)", unix.SYS_SOCKET, [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM}, kill},
		{"stdio unix", "socket(AF_UNIX)", unix.SYS_SOCKET, [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM}, allow},
		{"stdio inet unix", "socket(AF_NETLINK)", unix.SYS_SOCKET, [6]uint64{unix.AF_NETLINK, unix.SOCK_RAW}, kill},
		{base, "connect", unix.SYS_CONNECT, [6]uint64{3, 0x1000, 16}, kill},
		{"stdio", "sendto(fd, buf, n, 0, NULL, 0)", unix.SYS_SENDTO, [6]uint64{3, 0x1000, 10, 0, 0, 0}, allow},
		{"stdio", "sendto(fd, buf, n, 0, addr, len)", unix.SYS_SENDTO, [6]uint64{3, 0x1000, 10, 0, 0x2000, 16}, kill},
		{"stdio unix", "sendto(fd, buf, n, 0, addr, len)", unix.SYS_SENDTO, [6]uint64{3, 0x1000, 10, 0, 0x2000, 16}, allow},
		{"stdio", "getsockopt(SOL_SOCKET, SO_ERROR)", unix.SYS_GETSOCKOPT, [6]uint64{3, unix.SOL_SOCKET, unix.SO_ERROR}, allow},
		{"stdio", "setsockopt(IPPROTO_IPV6, IPV6_TCLASS)", unix.SYS_SETSOCKOPT, [6]uint64{3, unix.IPPROTO_IPV6, unix.IPV6_TCLASS}, allow},
		{"stdio", "setsockopt(SOL_SOCKET, SO_REUSEADDR)", unix.SYS_SETSOCKOPT, [6]uint64{3, unix.SOL_SOCKET, unix.SO_REUSEADDR}, kill},
		{"stdio", "setsockopt(IPPROTO_TCP, SO_ERROR's number)", unix.SYS_SETSOCKOPT, [6]uint64{3, unix.IPPROTO_TCP, unix.SO_ERROR}, kill},
		{"stdio", "setsockopt(IPPROTO_UDP, IPV6_TCLASS's number)", unix.SYS_SETSOCKOPT, [6]uint64{3, unix.IPPROTO_UDP, unix.IPV6_TCLASS}, kill},
		{"stdio inet", "setsockopt(SOL_SOCKET, SO_REUSEADDR)", unix.SYS_SETSOCKOPT, [6]uint64{3, unix.SOL_SOCKET, unix.SO_REUSEADDR}, allow},

		// The Go runtime's needs under stdio alone.
		{"stdio", "futex", unix.SYS_FUTEX, [6]uint64{0x1000, 1, 1}, allow},
		{"stdio", "epoll_pwait", unix.SYS_EPOLL_PWAIT, [6]uint64{4, 0x1000, 128, 0}, allow},
		{"stdio", "sched_yield", unix.SYS_SCHED_YIELD, [6]uint64{}, allow},
		{"stdio", "rt_sigreturn", unix.SYS_RT_SIGRETURN, [6]uint64{}, allow},
		{"stdio", "getrandom", unix.SYS_GETRANDOM, [6]uint64{0x1000, 32, 0}, allow},
		{"", "exit_group", unix.SYS_EXIT_GROUP, [6]uint64{0}, allow},
		{"", "write without stdio", unix.SYS_WRITE, [6]uint64{1, 0x1000, 3}, kill},
		{"", "seccomp: narrowing is always allowed", unix.SYS_SECCOMP, [6]uint64{unix.SECCOMP_SET_MODE_FILTER, 0, 0x1000}, allow},
	}
	progs := make(map[string][]unix.SockFilter)
	for _, tt := range tests {
		prog, ok := progs[tt.promises]
		if !ok {
			prog = mustCompile(t, testEnv(t, tt.promises))
			progs[tt.promises] = prog
		}
		got := evalBPF(t, prog, arch.audit, int32(tt.nr), tt.args)
		if got != uint32(tt.want) {
			t.Errorf("%q: %s = %s, want %s", tt.promises, tt.call, verdictName(got), verdictName(uint32(tt.want)))
		}
	}
}

func TestFilter_OtherABI(t *testing.T) {
	prog := mustCompile(t, testEnv(t, "stdio proc"))
	if got := evalBPF(t, prog, arch.audit, unix.SYS_GETPID, [6]uint64{}); got != uint32(allow) {
		t.Fatalf("getpid = %s, want allow", verdictName(got))
	}
	// The same number under another ABI (i386 through int 0x80, arm32
	// compat) is another call: everything is refused.
	if got := evalBPF(t, prog, unix.AUDIT_ARCH_I386, unix.SYS_GETPID, [6]uint64{}); got != uint32(kill) {
		t.Errorf("getpid under AUDIT_ARCH_I386 = %s, want kill", verdictName(got))
	}
	if arch.x32 != 0 {
		if got := evalBPF(t, prog, arch.audit, int32(arch.x32|unix.SYS_GETPID), [6]uint64{}); got != uint32(kill) {
			t.Errorf("x32 getpid = %s, want kill", verdictName(got))
		}
	}
	if got := evalBPF(t, prog, arch.audit, -1, [6]uint64{}); got != uint32(kill) {
		t.Errorf("system call -1 = %s, want kill", verdictName(got))
	}
}

// Every set of simulated promises compiles, and a rule the set does not
// allow leaves no block: its number meets the final kill.
func TestFilter_EveryPromiseSet(t *testing.T) {
	var all []string
	for w := range promiseNames {
		all = append(all, w)
	}
	for mask := 0; mask < 1<<len(all); mask++ {
		var words []string
		for i, w := range all {
			if mask&(1<<i) != 0 {
				words = append(words, w)
			}
		}
		e := testEnv(t, strings.Join(words, " "))
		prog := mustCompile(t, e)
		for _, r := range rules {
			if _, ok := r.steps(e); ok {
				continue
			}
			if got := evalBPF(t, prog, arch.audit, int32(r.nr), [6]uint64{4242, 4242}); got != uint32(kill) {
				t.Fatalf("%q: %s is not allowed but the filter says %s", e.set, r.name, verdictName(got))
			}
		}
	}
}

func TestRules_Table(t *testing.T) {
	names := make(map[string]bool)
	for _, r := range rules {
		if names[r.name] {
			t.Errorf("rule %s appears twice", r.name)
		}
		names[r.name] = true
		if r.any == 0 {
			t.Errorf("rule %s: no promise, always or never", r.name)
		}
	}
	// compile refuses a table with one number twice.
	dup := append(append([]rule{}, rules...), sys(unix.SYS_GETPID, "getpid again", stdio))
	if _, err := compile(testEnv(t, "stdio"), arch, dup); err == nil || !strings.Contains(err.Error(), "same number") {
		t.Errorf("compile with a duplicate number: err = %v", err)
	}
}

func TestEmit_Skips(t *testing.T) {
	// A skip past the end of the steps is a table bug, not an ALLOW.
	if _, err := emit([]step{eq(0, 1, skip(1), kill)}); err == nil {
		t.Error("emit accepted a skip past the end")
	}
	if _, err := emit([]step{{op: opTrue, yes: next}}); err == nil {
		t.Error("emit accepted an unconditional step that does not decide")
	}
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want promise
	}{
		{"", 0},
		{"stdio", stdio},
		{"  stdio   rpath ", stdio | rpath},
		{"stdio rpath wpath cpath fattr flock", stdio | rpath | wpath | cpath | fattr | flock},
		{"unix inet proc", unixSocket | inet | proc},
	} {
		got, err := parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"stdio bogus", "stdio\trpath", "STDIO", "stdio,rpath"} {
		if _, err := parse(in); err == nil || errors.Is(err, ErrNotSimulated) {
			t.Errorf("parse(%q): err = %v, want an unknown promise", in, err)
		}
	}
	for _, in := range []string{"stdio dns", "exec", "tty stdio", "chown"} {
		if _, err := parse(in); !errors.Is(err, ErrNotSimulated) {
			t.Errorf("parse(%q): err = %v, want ErrNotSimulated", in, err)
		}
	}
}
