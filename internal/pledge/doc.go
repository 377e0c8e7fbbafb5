// Package pledge simulates OpenBSD's pledge(2) on Linux, for tests: a
// process confined to a set of promises is killed by the kernel the first
// time it makes a system call those promises do not allow, as an OpenBSD
// process is. It lets Linux CI prove that code meant for OpenBSD stays
// within its promises, for example that a segment's stale-lock check asks
// the kernel about record locks (F_GETLK, "flock") instead of calling
// kill(2) on another process, which pledge forbids without "proc".
//
// The package is Linux only; elsewhere it is empty.
//
// # Use
//
// A test runs the confined code in a helper process, the test binary
// re-executed to run only that test:
//
//	func TestSegment_Pledged(t *testing.T) {
//		dir := pledge.SharedDir(t) // the same directory in both processes
//		if !pledge.IsChild(t) {
//			// parent-only setup: runs once, before the child starts
//		}
//		r := pledge.RunConfined(t, "stdio rpath wpath cpath fattr flock", func(t *testing.T) {
//			// runs in the child, confined; fails and logs through t
//		})
//		if !r.Succeeded() { // or r.Violated() when a kill is expected
//			t.Fatal(r) // says how the child ended, with its output
//		}
//	}
//
// RunConfined skips the test where the simulation cannot run: another
// architecture than amd64 or arm64, no seccomp, or no permission to create
// a mount namespace (it needs root; CI runs as root). Confine confines the
// calling process itself, for programs that want to.
//
// # What is simulated
//
// Promises "stdio", "rpath", "wpath", "cpath", "fattr", "flock", "proc",
// "inet" and "unix". OpenBSD's other promises ("dns", "exec", "tty", ...)
// are refused with ErrNotSimulated, never silently ignored.
//
// A seccomp-BPF filter, installed with no_new_privs on every thread of the
// process (SECCOMP_FILTER_FLAG_TSYNC), stands for the promises. Each Linux
// system call has one line in the table (rules_linux.go, and
// rules_linux_amd64.go for calls the generic ABI dropped) naming the
// promises that allow it, after OpenBSD's sys/kern/kern_pledge.c, with the
// promises OpenBSD's namei asks for path calls, and argument checks where
// OpenBSD checks arguments: kill(2) only on the process itself or its group
// (pid 0) without "proc"; tgkill only within the process (the Go runtime
// preempts goroutines with tgkill(getpid(), tid, SIGURG)); no fork, only
// threads; open wants "rpath" to read, "wpath" to write, "cpath" to create;
// record locks (fcntl F_GETLK, F_SETLK, F_SETLKW and the F_OFD_ ones) and
// flock(2) want "flock"; F_SETOWN wants "proc"; futimens and fchmod want
// "fattr", which may give a file only to its caller (other owners: EPERM);
// ioctl only FIONREAD, FIONBIO, FIOCLEX, FIONCLEX; sockets by address
// family; no executable memory. ptrace, process_vm_readv, kcmp,
// pidfd_getfd and another process's limits or CPU affinity are never
// allowed. Calls with another ABI's numbers (i386, x32) are refused.
//
// Linux calls that the Go runtime and os package need and OpenBSD lacks
// are placed beside their counterparts: epoll and eventfd beside kqueue,
// getrandom beside getentropy, sched_getaffinity of itself beside sysctl
// hw.ncpuonline, prctl PR_SET_VMA (the runtime names its mappings) beside
// the other memory calls, and glibc's rseq and set_robust_list (cgo and
// -race binaries start threads through glibc) beside thread creation.
// Every other Linux-only call (memfd_create, io_uring, inotify, ...) is
// refused: code relying on it would not run on OpenBSD either.
//
// A violation kills the whole process with SIGSYS
// (SECCOMP_RET_KILL_PROCESS), where OpenBSD sends an uncatchable SIGABRT;
// RunConfined turns off core files first. The kernel logs the call:
// "audit: type=1326 ... syscall=N" in dmesg names the number.
//
// /proc: seccomp cannot see paths, so the child hides /proc instead: in a
// mount namespace of its own (CLONE_NEWNS, private propagation) it mounts
// an empty read-only tmpfs over /proc. Reading /proc/self/stat then fails
// with ENOENT, exactly what a program gets on OpenBSD, which has no /proc;
// it is not a kill there either. A mount namespace was chosen over Landlock
// because it gives OpenBSD's ENOENT (Landlock answers EACCES), works on
// kernels without Landlock, and hides one directory without allow-listing
// every other one.
//
// # What is not simulated
//
//   - Paths: pledge's built-in exceptions (/etc/localtime, /dev/null,
//     zoneinfo readable without "rpath"), "tmppath" and unveil(2). A Go
//     program that loads the local time zone without "rpath" dies here and
//     not on OpenBSD. /sys stays visible.
//   - Arguments seccomp cannot see because they are in memory: sendmsg's
//     address, clone3's flags and openat2's (both fail with ENOSYS, so
//     callers fall back to clone and openat, which are checked), the
//     per-option lists of setsockopt under a network promise, statx and
//     newfstatat with AT_EMPTY_PATH (treated as path calls: "rpath").
//   - tkill(2) is allowed on the main thread only: seccomp cannot tell the
//     process's other threads from other processes'.
//   - What pledge changes rather than forbids: chmod dropping set-id bits,
//     "error" mode, execpromises; OpenBSD's own system calls (kbind,
//     __thrsleep, sysctl MIBs) and their semantics.
//   - Reading another process's information through /proc is impossible
//     (there is none), but /sys/fs/cgroup still lists processes.
package pledge
