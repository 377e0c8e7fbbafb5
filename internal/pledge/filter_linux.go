package pledge

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// This file turns the rule table into a classic BPF program for
// seccomp(2). The program is straight-line: check the architecture, load
// the system call number, then one block per allowed system call:
//
//	ld  [nr]                 (once)
//	jeq #NR, 0, len(block)   skip the block unless this is the call
//	  argument steps...      each ends in a return or falls through
//	  ret ALLOW
//	...
//	ret KILL_PROCESS         every call without a block
//
// Blocks are decided for one set of promises when the filter is built, so
// a call the promises do not allow has no block at all and meets the final
// KILL_PROCESS, as an OpenBSD process meets pledge_fail.

// env is what a rule's argument checks may depend on: the promises and the
// caller's identity when the filter is installed.
type env struct {
	set  promise
	pid  uint32   // getpid() at install time
	euid uint32   // the only owner "fattr" may give a file (pledge_chown)
	gids []uint32 // effective and supplementary groups, likewise
}

// A rule is one system call's line in the table: it is allowed if the set
// holds any of the promises in any (OpenBSD's pledge_syscalls entry, or
// always/never) and all of those in all (the checks the OpenBSD kernel
// makes later, in namei), and then only if its argument checks pass.
type rule struct {
	nr   uintptr
	name string
	any  promise
	all  promise
	args []check
}

// sys starts a rule: system call nr, allowed under any of the promises p.
func sys(nr uintptr, name string, p promise) rule { return rule{nr: nr, name: name, any: p} }

// and adds promises that are needed as well (all of them).
func (r rule) and(p promise) rule { r.all |= p; return r }

// with adds argument checks, run in order.
func (r rule) with(c ...check) rule { r.args = append(r.args, c...); return r }

// A check builds the argument tests of a rule for one environment: a block
// of steps that either reaches a verdict or falls through to what follows
// it (the next check, or ALLOW).
type check func(e *env) []step

// A verdict is a seccomp return value, or (from skipBase on) where to go
// on among the steps of the same rule.
type verdict uint64

const (
	allow    verdict = unix.SECCOMP_RET_ALLOW
	kill     verdict = unix.SECCOMP_RET_KILL_PROCESS
	skipBase verdict = 1 << 32
	next             = skipBase // go on with the following step
)

// skip goes on n steps after the following one.
func skip(n int) verdict { return skipBase + verdict(n) }

// errno makes the call fail with e instead of running it.
func errno(e unix.Errno) verdict {
	return unix.SECCOMP_RET_ERRNO | verdict(e)&unix.SECCOMP_RET_DATA
}

func (v verdict) terminal() bool { return v < skipBase }

type op uint8

const (
	opEq   op = iota // (arg & mask) == k (mask 0: no AND)
	opSet            // arg & k != 0
	opTrue           // no test: always yes
)

// A step tests one 32-bit half of one argument. Arguments that the kernel
// reads as int, unsigned int or pid_t are tested in their lower half only:
// that is all the kernel sees of them.
type step struct {
	arg     int
	hi      bool
	mask    uint32
	op      op
	k       uint32
	yes, no verdict
}

func eq(a int, k uint32, yes, no verdict) step { return step{arg: a, op: opEq, k: k, yes: yes, no: no} }

func maskEq(a int, mask, k uint32, yes, no verdict) step {
	return step{arg: a, mask: mask, op: opEq, k: k, yes: yes, no: no}
}

func anySet(a int, bits uint32, yes, no verdict) step {
	return step{arg: a, op: opSet, k: bits, yes: yes, no: no}
}

func ret(v verdict) step { return step{op: opTrue, yes: v} }

// seccomp_data offsets (linux/seccomp.h). Arguments are 64 bits; amd64 and
// arm64 are little-endian, so the lower half comes first.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

func argOffset(a int, hi bool) uint32 {
	off := uint32(offArgs + 8*a)
	if hi {
		off += 4
	}
	return off
}

// archInfo describes the system call ABI a table is for.
type archInfo struct {
	audit uint32 // AUDIT_ARCH_* the filter accepts; 0: no table
	x32   uint32 // if non-zero, numbers at or above it are refused (x32 ABI on amd64)
}

// compile returns the seccomp filter for e: the rules for architecture a.
func compile(e *env, a archInfo, rules []rule) ([]unix.SockFilter, error) {
	prog := []unix.SockFilter{
		ld(offArch),
		jump(unix.BPF_JEQ, a.audit, 1, 0),
		retK(kill), // another ABI's numbers mean other calls: refuse them all
		ld(offNr),
	}
	if a.x32 != 0 {
		prog = append(prog, jump(unix.BPF_JGE, a.x32, 0, 1), retK(kill))
	}
	seen := make(map[uintptr]string)
	for _, r := range rules {
		if other, dup := seen[r.nr]; dup {
			return nil, fmt.Errorf("pledge: rule table: %s and %s have the same number %d", other, r.name, r.nr)
		}
		seen[r.nr] = r.name
		steps, ok := r.steps(e)
		if !ok {
			continue // not allowed: the final KILL_PROCESS
		}
		block, err := emit(steps)
		if err != nil {
			return nil, fmt.Errorf("pledge: rule %s: %w", r.name, err)
		}
		if len(block) > 255 {
			return nil, fmt.Errorf("pledge: rule %s: %d instructions, more than a jump can skip", r.name, len(block))
		}
		prog = append(prog, jump(unix.BPF_JEQ, uint32(r.nr), 0, uint8(len(block))))
		prog = append(prog, block...)
	}
	prog = append(prog, retK(kill))
	if len(prog) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("pledge: filter has %d instructions, the kernel takes %d", len(prog), unix.BPF_MAXINSNS)
	}
	return prog, nil
}

// steps decides r for e: ok is false if the promises do not allow the call
// at all; otherwise steps are its argument tests.
func (r *rule) steps(e *env) (steps []step, ok bool) {
	switch {
	case r.any&never != 0:
		return nil, false
	case r.any&always == 0 && e.set&r.any == 0:
		return nil, false
	case e.set&r.all != r.all:
		return nil, false
	}
	for _, c := range r.args {
		steps = append(steps, c(e)...)
	}
	return steps, true
}

// emit assembles steps followed by ret ALLOW.
func emit(steps []step) ([]unix.SockFilter, error) {
	// Where each step starts; start[len(steps)] is the final ALLOW.
	start := make([]int, len(steps)+1)
	for i, s := range steps {
		start[i+1] = start[i] + s.size()
	}
	var out []unix.SockFilter
	for i, s := range steps {
		if s.op == opTrue {
			if !s.yes.terminal() {
				return nil, fmt.Errorf("step %d: an unconditional step must decide", i)
			}
			out = append(out, retK(s.yes))
			continue
		}
		out = append(out, ld(argOffset(s.arg, s.hi)))
		if s.mask != 0 {
			out = append(out, unix.SockFilter{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: s.mask})
		}
		jmp := len(out) // index of the jump; its offsets count from jmp+1
		var rets []verdict
		target := func(v verdict) (int, error) {
			if v.terminal() {
				rets = append(rets, v)
				return jmp + len(rets), nil
			}
			to := i + 1 + int(v-skipBase)
			if to > len(steps) {
				return 0, fmt.Errorf("step %d skips past the end", i)
			}
			return start[to], nil
		}
		t, err := target(s.yes)
		if err != nil {
			return nil, err
		}
		f, err := target(s.no)
		if err != nil {
			return nil, err
		}
		code := uint16(unix.BPF_JEQ)
		if s.op == opSet {
			code = unix.BPF_JSET
		}
		out = append(out, jump(code, s.k, 0, 0))
		for _, v := range rets {
			out = append(out, retK(v))
		}
		jt, jf := t-(jmp+1), f-(jmp+1)
		if jt < 0 || jt > 255 || jf < 0 || jf > 255 {
			return nil, fmt.Errorf("step %d: jumps of %d and %d", i, jt, jf)
		}
		out[jmp].Jt, out[jmp].Jf = uint8(jt), uint8(jf)
	}
	return append(out, retK(allow)), nil
}

// size is the number of instructions emit makes of s.
func (s step) size() int {
	if s.op == opTrue {
		return 1
	}
	n := 2 // load, jump
	if s.mask != 0 {
		n++
	}
	if s.yes.terminal() {
		n++
	}
	if s.no.terminal() {
		n++
	}
	return n
}

func ld(off uint32) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
}

func jump(cond uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | cond | unix.BPF_K, Jt: jt, Jf: jf, K: k}
}

func retK(v verdict) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: uint32(v)}
}
