package pledge

import (
	"errors"
	"fmt"
	"strings"
)

// promise is a set of pledge(2) promises, one bit each.
type promise uint32

// The promises the simulation knows. Each one's reach is what
// sys/kern/kern_pledge.c grants it; the rule table says which Linux system
// calls that means.
const (
	stdio promise = 1 << iota
	rpath
	wpath
	cpath
	fattr // OpenBSD's "fattr" also grants PLEDGE_CHOWN: chown to oneself
	flock
	proc
	inet
	unixSocket // the "unix" promise
)

// Markers used in the rule table only, never in a parsed set.
const (
	always promise = 1 << 30 // PLEDGE_ALWAYS: allowed whatever the promises
	never  promise = 1 << 31 // no promise allows it (ptrace, ...)
)

// promiseNames maps the simulated promise words to their bits.
var promiseNames = map[string]promise{
	"stdio": stdio,
	"rpath": rpath,
	"wpath": wpath,
	"cpath": cpath,
	"fattr": fattr,
	"flock": flock,
	"proc":  proc,
	"inet":  inet,
	"unix":  unixSocket,
}

// notSimulated are OpenBSD's other promise words: accepted by pledge(2),
// refused here so that a test never believes it runs under a promise the
// filter does not implement.
var notSimulated = map[string]bool{
	"audio": true, "bpf": true, "chown": true, "disklabel": true, "dns": true,
	"dpath": true, "drm": true, "error": true, "exec": true, "getpw": true,
	"id": true, "mcast": true, "pf": true, "prot_exec": true, "ps": true,
	"recvfd": true, "route": true, "sendfd": true, "settime": true,
	"tape": true, "tmppath": true, "tty": true, "unveil": true, "video": true,
	"vminfo": true, "vmm": true, "wroute": true,
}

// ErrNotSimulated is matched (errors.Is) by the error for an OpenBSD promise
// that this simulation does not implement, such as "dns" or "exec".
var ErrNotSimulated = errors.New("promise not simulated")

// parse turns a promise string as pledge(2) takes it ("stdio rpath") into a
// set. As in the kernel, words are separated by one or more spaces and an
// unknown word is an error; "" is valid and allows only _exit(2).
func parse(s string) (promise, error) {
	var set promise
	for _, w := range strings.Split(s, " ") {
		if w == "" {
			continue
		}
		if p, ok := promiseNames[w]; ok {
			set |= p
			continue
		}
		if notSimulated[w] {
			return 0, fmt.Errorf("pledge: promise %q: %w on Linux", w, ErrNotSimulated)
		}
		return 0, fmt.Errorf("pledge: unknown promise %q in %q", w, s)
	}
	return set, nil
}

// String lists the set's promise words in a fixed order.
func (set promise) String() string {
	var w []string
	for _, n := range []string{"stdio", "rpath", "wpath", "cpath", "fattr", "flock", "proc", "inet", "unix"} {
		if set&promiseNames[n] != 0 {
			w = append(w, n)
		}
	}
	return strings.Join(w, " ")
}
