package pledge

import "golang.org/x/sys/unix"

// Argument checks used by the rule table. Each returns the steps for one
// environment: a block that falls through when the call may go on.

// argIn lets the call go on if the lower half of argument a is one of vals;
// otherwise miss.
func argIn(a int, vals []uint32, miss verdict) []step {
	var s []step
	for i, v := range vals {
		if i == len(vals)-1 {
			s = append(s, eq(a, v, next, miss))
		} else {
			s = append(s, eq(a, v, skip(len(vals)-1-i), next))
		}
	}
	return s
}

// self: argument a (a pid_t) must name the calling process, or be 0 if
// zeroOK, unless the set holds one of unless. Otherwise the process is
// killed: pledge_kill's rule ("Can kill self with stdio. Killing another
// pid requires proc"), and for the calls that read another process's
// state, the rule that process information needs "ps" (not simulated).
func self(a int, zeroOK bool, unless promise) check {
	return func(e *env) []step {
		if e.set&unless != 0 {
			return nil
		}
		vals := []uint32{e.pid}
		if zeroOK {
			vals = append(vals, 0)
		}
		return argIn(a, vals, kill)
	}
}

// null: pointer argument a must be NULL unless the set holds one of unless.
func null(a int, unless promise) check {
	return func(e *env) []step {
		if e.set&unless != 0 {
			return nil
		}
		return []step{
			{arg: a, op: opEq, k: 0, yes: next, no: kill},
			{arg: a, hi: true, op: opEq, k: 0, yes: next, no: kill},
		}
	}
}

// fixed always ends the call with v, unless the set holds one of unless.
func fixed(v verdict, unless promise) check {
	return func(e *env) []step {
		if e.set&unless != 0 {
			return nil
		}
		return []step{ret(v)}
	}
}

// tmpfileBit is __O_TMPFILE: O_TMPFILE without the O_DIRECTORY it includes.
const tmpfileBit = unix.O_TMPFILE &^ unix.O_DIRECTORY

// openFlags applies doopenat's namei promises to the flags in argument a:
// reading needs "rpath", writing "wpath", O_CREAT "cpath". O_TMPFILE
// creates a file too, so it needs "cpath". O_TRUNC adds nothing, as on
// OpenBSD, where it truncates only a file opened for writing; Linux also
// truncates one opened O_RDONLY|O_TRUNC, which "rpath" alone lets through
// here (OpenBSD refuses that open outright: an errno rule, not pledge's).
func openFlags(a int) check {
	return func(e *env) []step {
		var s []step
		if e.set&rpath == 0 { // only O_WRONLY is not a read
			s = append(s, maskEq(a, unix.O_ACCMODE, unix.O_WRONLY, next, kill))
		}
		if e.set&wpath == 0 { // only O_RDONLY is not a write
			s = append(s, maskEq(a, unix.O_ACCMODE, unix.O_RDONLY, next, kill))
		}
		if e.set&cpath == 0 {
			s = append(s, anySet(a, unix.O_CREAT|tmpfileBit, kill, next))
		}
		return s
	}
}

// noExec refuses PROT_EXEC in the protection argument a: after ld.so is
// done, OpenBSD wants "prot_exec" for executable mappings (not simulated;
// the Go runtime never asks for them once started).
func noExec(a int) check {
	return func(*env) []step {
		return []step{anySet(a, unix.PROT_EXEC, kill, next)}
	}
}

// chownSelf is pledge_chown under "fattr" without "chown": the owner
// (argument u) may only be left alone (-1) or set to the caller's effective
// uid, the group (argument g) only to a group the caller is in. Anything
// else fails with EPERM, as on OpenBSD; it is not a violation.
func chownSelf(u, g int) check {
	return func(e *env) []step {
		s := argIn(u, []uint32{^uint32(0), e.euid}, errno(unix.EPERM))
		return append(s, argIn(g, append([]uint32{^uint32(0)}, e.gids...), errno(unix.EPERM))...)
	}
}

// Linux fcntl commands, grouped as OpenBSD's fcntl and pledge treat them.
var (
	// Plain descriptor operations: "stdio".
	fcntlStdio = []uint32{unix.F_DUPFD, unix.F_DUPFD_CLOEXEC, unix.F_GETFD, unix.F_SETFD,
		unix.F_GETFL, unix.F_SETFL, unix.F_GETOWN, unix.F_GETOWN_EX}
	// Record locks: pledge_flock. The open-file-description locks are
	// Linux's, but they are record locks all the same.
	fcntlLock = []uint32{unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW,
		unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW}
	// Choosing who gets SIGIO/SIGURG: pledge_fcntl wants "proc".
	fcntlOwner = []uint32{unix.F_SETOWN, unix.F_SETOWN_EX}
)

// fcntlCmd checks the command in argument a. Commands OpenBSD's fcntl does
// not know (leases, notify, seals, pipe sizes, F_SETSIG...) fail with
// EINVAL, which is what OpenBSD answers.
func fcntlCmd(a int) check {
	return func(e *env) []step {
		var s []step
		refuse := func(cmds []uint32, p promise) {
			if e.set&p == 0 {
				for _, c := range cmds {
					s = append(s, eq(a, c, kill, next))
				}
			}
		}
		refuse(fcntlLock, flock)
		refuse(fcntlOwner, proc)
		known := append(append(append([]uint32{}, fcntlStdio...), fcntlLock...), fcntlOwner...)
		return append(s, argIn(a, known, errno(unix.EINVAL))...)
	}
}

// The ioctl requests pledge_ioctl allows whatever the promises. These are
// the asm-generic numbers, which amd64 and arm64 use.
const (
	fionread = 0x541b
	fionbio  = 0x5421
	fionclex = 0x5450
	fioclex  = 0x5451
)

// ioctlCmd: anything else needs "tty" or another promise that is not
// simulated, so it is a violation.
func ioctlCmd(a int) check {
	return func(*env) []step {
		return argIn(a, []uint32{fionread, fionbio, fioclex, fionclex}, kill)
	}
}

// thread lets clone(2) make threads (CLONE_THREAD: __tfork under "stdio")
// but not processes (fork: "proc").
func thread(a int) check {
	return func(e *env) []step {
		if e.set&proc != 0 {
			return nil
		}
		return []step{anySet(a, unix.CLONE_THREAD, next, kill)}
	}
}

// prctlOption allows the prctl(2) operations that have an OpenBSD
// counterpart under "stdio" or less: naming threads (getthrname,
// setthrname), naming anonymous mappings (the Go runtime does it for its
// heap; memory management is "stdio"), no_new_privs and seccomp (pledge
// itself, to reduce promises further). Everything else is refused.
func prctlOption(a int) check {
	return func(*env) []step {
		return argIn(a, []uint32{unix.PR_SET_NAME, unix.PR_GET_NAME, unix.PR_SET_VMA,
			unix.PR_SET_NO_NEW_PRIVS, unix.PR_GET_NO_NEW_PRIVS,
			unix.PR_GET_SECCOMP, unix.PR_SET_SECCOMP}, kill)
	}
}

// socketDomain is pledge_socket: AF_INET and AF_INET6 need "inet", AF_UNIX
// needs "unix", any other family is refused.
func socketDomain(a int) check {
	return func(e *env) []step {
		var s []step
		if e.set&inet == 0 {
			s = append(s, eq(a, unix.AF_INET, kill, next), eq(a, unix.AF_INET6, kill, next))
		}
		if e.set&unixSocket == 0 {
			s = append(s, eq(a, unix.AF_UNIX, kill, next))
		}
		return append(s, argIn(a, []uint32{unix.AF_INET, unix.AF_INET6, unix.AF_UNIX}, kill)...)
	}
}

// sockopt is pledge_sockopt without a network promise: only the options
// "too common to reject" (level, name) pass. With "inet" or "unix" every
// option passes (OpenBSD's finer per-option lists are not simulated).
func sockopt(level, name int) check {
	type pair struct{ level, name uint32 }
	common := []pair{
		{unix.SOL_SOCKET, unix.SO_RCVBUF},
		{unix.SOL_SOCKET, unix.SO_ERROR},
		{unix.IPPROTO_TCP, unix.TCP_NODELAY},
		{unix.IPPROTO_IP, unix.IP_TOS},
		{unix.IPPROTO_IPV6, unix.IPV6_TCLASS},
	}
	return func(e *env) []step {
		if e.set&(inet|unixSocket) != 0 {
			return nil
		}
		var s []step
		for i, p := range common {
			// level matches: test the name; else try the next pair.
			rest := 2 * (len(common) - 1 - i) // steps after this pair
			levelMiss, nameMiss := skip(1), next
			if i == len(common)-1 {
				levelMiss, nameMiss = kill, kill
			}
			s = append(s,
				eq(level, p.level, next, levelMiss),
				eq(name, p.name, skip(rest), nameMiss))
		}
		return s
	}
}
