package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// metric names one figure: a key and its unit.
type metric struct{ key, unit string }

// A row compares ours with a baseline. Its target bounds the ratio
// ours/baseline from above (maxRatio, 0: no target); zeroAllocs also
// requires 0 allocs/op for ours.
type row struct {
	section, figure string
	ours, base      metric
	maxRatio        float64
	faster          bool // state the target as "≥ 1/maxRatio × faster"
	zeroAllocs      bool
	showAllocs      bool
}

func ns(k string) metric        { return metric{k, "ns/op"} }
func incr(k string) metric      { return metric{k, "ns/increment"} }
func roundtrip(k string) metric { return metric{k, "ns/roundtrip"} }
func ms(k string) metric        { return metric{k, "ms/op"} }
func pathRows() []row           { return append(pathForm("string", false), pathForm("append", true)...) }
func pathForm(form string, zero bool) []row {
	var rows []row
	for _, n := range []string{"8", "32", "255"} {
		rows = append(rows, row{
			section: "a. name → path", figure: fmt.Sprintf("Dir.%s, %s-byte name vs C SHA256Data+snprintf", map[string]string{"string": "Path", "append": "AppendPath"}[form], n),
			ours: ns("BenchmarkPath/" + form + "/" + n), base: ns("c_path_" + n),
			maxRatio: 0.4, zeroAllocs: zero, showAllocs: true,
		})
	}
	return rows
}

var rows = append(pathRows(), []row{
	{section: "b. open+close", figure: "Dir.Open+Close (OpenBSD layout, tmpfs dir) vs C OpenBSD shm_open algorithm", ours: ns("BenchmarkOpen/openbsd"), base: ns("c_open_openbsd"), maxRatio: 1.2, showAllocs: true},
	{section: "b. open+close", figure: "posixshm.Open+Close (Linux, /dev/shm) vs glibc shm_open+close", ours: ns("BenchmarkOpen/linux"), base: ns("c_open_glibc"), maxRatio: 1.2, showAllocs: true},
	{section: "b. open+close", figure: "diagnostic: C's system calls made from Go (x/sys/unix, no *os.File), OpenBSD algorithm vs C", ours: ns("BenchmarkOpenFloor/openbsd"), base: ns("c_open_openbsd"), showAllocs: true},
	{section: "b. open+close", figure: "diagnostic: C's system calls made from Go, glibc (open+close) vs C", ours: ns("BenchmarkOpenFloor/linux"), base: ns("c_open_glibc"), showAllocs: true},
	{section: "b. open+close", figure: "diagnostic: segment.Open+Close (attach and detach: map, claim a slot, release it) vs Dir.Open+Close", ours: ns("BenchmarkSegmentOpen"), base: ns("BenchmarkOpen/openbsd"), showAllocs: true},
	{section: "c. uncontended lock", figure: "lock.Mutex Lock+Unlock vs C robust pshared pthread mutex", ours: ns("BenchmarkLock/ours"), base: ns("c_pthread_uncontended"), maxRatio: 1.0, showAllocs: true},
	{section: "c. uncontended lock", figure: "lock.Mutex Lock+Unlock vs sync.Mutex", ours: ns("BenchmarkLock/ours"), base: ns("BenchmarkLock/sync"), maxRatio: 1.5},
	{section: "c. uncontended lock", figure: "lock.Mutex Lock+Unlock vs flock(2) LOCK_EX+LOCK_UN", ours: ns("BenchmarkLock/ours"), base: ns("c_flock_uncontended")},
	{section: "c. uncontended lock", figure: "diagnostic: lock.Mutex WithFingerprint (as Segment uses it) vs C robust pthread mutex", ours: ns("BenchmarkLock/ours-fingerprint"), base: ns("c_pthread_uncontended")},
	{section: "c. uncontended lock", figure: "diagnostic: Segment Lock+Unlock (default options) vs C robust pthread mutex", ours: ns("BenchmarkSegmentLock/default"), base: ns("c_pthread_uncontended")},
	{section: "d. contended", figure: "2 processes × increments, lock.Mutex vs pthread robust mutex", ours: incr("go_incr_2p"), base: incr("c_incr_pthread_2p"), maxRatio: 1.5},
	{section: "d. contended", figure: "2 processes × increments, lock.Mutex vs flock(2)", ours: incr("go_incr_2p"), base: incr("c_incr_flock_2p"), maxRatio: 1.0 / 20, faster: true},
	{section: "d. contended", figure: "4 processes × increments, lock.Mutex vs pthread robust mutex", ours: incr("go_incr_4p"), base: incr("c_incr_pthread_4p"), maxRatio: 1.5},
	{section: "d. contended", figure: "4 processes × increments, lock.Mutex vs flock(2)", ours: incr("go_incr_4p"), base: incr("c_incr_flock_4p"), maxRatio: 1.0 / 20, faster: true},
	{section: "e. wake latency", figure: "2-process ping-pong round trip, lock.Mutex handoff vs C futex", ours: roundtrip("go_pingpong"), base: roundtrip("c_futex_pingpong"), maxRatio: 2},
	{section: "e. wake latency", figure: "wake-up of a sleeping waiter, one way (Unlock → the waiter's Lock returns), median vs C FUTEX_WAKE → FUTEX_WAIT returns", ours: metric{"go_wake", "ns/wake"}, base: metric{"c_futex_wake", "ns/wake"}, maxRatio: 2},
	{section: "e. wake latency", figure: "diagnostic: the same futex ping-pong written in Go (raw syscalls) vs C", ours: roundtrip("go_futex_pingpong"), base: roundtrip("c_futex_pingpong")},
	{section: "e. wake latency", figure: "diagnostic: context switches per round trip (perf stat), lock.Mutex vs C futex", ours: metric{"cs_go_pingpong", "switches/roundtrip"}, base: metric{"cs_c_futex_pingpong", "switches/roundtrip"}},
	{section: "e. wake latency", figure: "diagnostic: context switches per round trip, Go raw futex vs C futex", ours: metric{"cs_go_futex_pingpong", "switches/roundtrip"}, base: metric{"cs_c_futex_pingpong", "switches/roundtrip"}},
	{section: "f. refresh-on-use", figure: "Segment Lock+Unlock, default RefreshInterval (1 h) vs refresh-on-use off (RefreshInterval < 0)", ours: ns("BenchmarkSegmentLock/default"), base: ns("BenchmarkSegmentLock/norefresh"), maxRatio: 1.1, showAllocs: true},
	{section: "f. refresh-on-use", figure: "Segment Lock+Unlock, RefreshInterval 1 ms (a futimes every ms) vs refresh-on-use off", ours: ns("BenchmarkSegmentLock/1ms"), base: ns("BenchmarkSegmentLock/norefresh")},
	{section: "f. refresh-on-use", figure: "Segment Lock+Unlock, default RefreshInterval vs bare lock.Mutex Lock+Unlock", ours: ns("BenchmarkSegmentLock/default"), base: ns("BenchmarkLock/ours")},
	{section: "g. scale", figure: "`posixshm ls --dir DIR`, 10,000 objects vs `ls -l DIR`", ours: ms("go_ls_10000"), base: ms("ls_l_10000")},
	{section: "g. scale", figure: "big Segment: create, map, write all, close, unlink vs C (glibc shm_open, ftruncate, mmap, memset, munmap, shm_unlink)", ours: ms("BenchmarkSegmentBig"), base: ms("c_bigseg")},
	{section: "g. scale", figure: "same with the drop-in API (posixshm.Open, Truncate, mmap, write all, munmap, Unlink) vs C", ours: ms("BenchmarkDropinBig"), base: ms("c_bigseg")},
}...)

// human formats a duration given in unit (ns or ms per something).
func human(v float64, unit string) string {
	if !strings.HasPrefix(unit, "ns/") && !strings.HasPrefix(unit, "ms/") {
		return fmt.Sprintf("%.2f %s", v, unit)
	}
	n := v
	if strings.HasPrefix(unit, "ms/") {
		n = v * 1e6
	}
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f s", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f ms", n/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1f µs", n/1e3)
	case n >= 1e3:
		return fmt.Sprintf("%.2f µs", n/1e3)
	case n >= 100:
		return fmt.Sprintf("%.0f ns", n)
	}
	return fmt.Sprintf("%.1f ns", n)
}

func (r row) target() string {
	switch {
	case r.maxRatio == 0:
		return "— (for scale)"
	case r.faster:
		return fmt.Sprintf("≥ %.0f× faster (≤ %.2g)", 1/r.maxRatio, r.maxRatio)
	case r.zeroAllocs:
		return fmt.Sprintf("≤ %.2g, 0 allocs", r.maxRatio)
	}
	return fmt.Sprintf("≤ %.2g", r.maxRatio)
}

// cells returns ours, baseline, ratio and met? for the row.
func (r row) cells(res *results) (ours, base, ratio, met string) {
	o, okO := res.median(r.ours.key, r.ours.unit)
	b, okB := res.median(r.base.key, r.base.unit)
	allocs, okA := res.median(r.ours.key, "allocs/op")
	if okO {
		ours = human(o, r.ours.unit)
		if r.showAllocs && okA {
			ours += fmt.Sprintf(", %.0f allocs", allocs)
		}
	} else {
		ours = "n/a: " + res.why(r.ours.key)
	}
	if okB {
		base = human(b, r.base.unit)
	} else {
		base = "n/a: " + res.why(r.base.key)
	}
	if !okO || !okB || b == 0 {
		return ours, base, "—", "n/a"
	}
	q := o / b
	ratio = fmt.Sprintf("%.2f", q)
	if q < 0.1 {
		ratio = fmt.Sprintf("%.3f (%.0f× faster)", q, 1/q)
	}
	switch {
	case r.maxRatio == 0:
		met = "—"
	case q <= r.maxRatio && (!r.zeroAllocs || (okA && allocs == 0)):
		met = "yes"
	default:
		met = "**no**"
	}
	return ours, base, ratio, met
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func render(w *strings.Builder, res *results, m machine, notes []byte) {
	fmt.Fprintf(w, "# Benchmarks\n\n")
	fmt.Fprintf(w, "Generated by `bench/run` (to reproduce: `bench/run`; it writes this file). ")
	fmt.Fprintf(w, "Each figure is the median of 5 rounds (the big object: 3); in each round the Go side (a `go test -bench` binary, or bench/cmd/benchproc for multi-process figures) and its C baseline run one after the other, so that changes of load hit both sides of a ratio alike. ")
	fmt.Fprintf(w, "Absolute numbers depend on the machine and its load; compare the ratios, which are taken within one run.\n\n")
	fmt.Fprintf(w, "Machine: %s, %s cores, Linux %s, %s, %s.", m.cpu, m.cores, m.kernel, m.goVersion, m.date)
	if m.extra != "" {
		fmt.Fprintf(w, " %s", m.extra)
	}
	fmt.Fprintf(w, "\n\n")
	fmt.Fprintf(w, "| figure | ours | baseline | ours/baseline | target | met? |\n|---|---|---|---|---|---|\n")
	section := ""
	for _, r := range rows {
		if r.section != section {
			section = r.section
			fmt.Fprintf(w, "| **%s** | | | | | |\n", section)
		}
		o, b, q, met := r.cells(res)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", cell(r.figure), cell(o), cell(b), q, r.target(), met)
	}
	var sys []string
	for _, c := range []struct{ key, what string }{
		{"sys_geteuid", "geteuid (about the cost of entering the kernel at all)"},
		{"sys_fcntl_getfl", "fcntl(F_GETFL)"},
		{"sys_fcntl_setfl", "fcntl(F_SETFL)"},
		{"sys_fstat", "fstat"},
		{"sys_open_close", "open(O_NOFOLLOW|O_CLOEXEC) + close of a file in a tmpfs directory"},
	} {
		if v, ok := res.median(c.key, "ns/op"); ok {
			sys = append(sys, fmt.Sprintf("| %s | %s |", cell(c.what), human(v, "ns/op")))
		}
	}
	if len(sys) > 0 {
		fmt.Fprintf(w, "\nSystem calls on this machine (C, median): each extra call in an open costs about this much.\n\n| system call | time |\n|---|---|\n%s\n", strings.Join(sys, "\n"))
	}
	renderCalls(w, res)
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n%s", strings.TrimRight(string(notes), "\n")+"\n")
	}
	fmt.Fprintf(w, "\n## All samples\n\nmedian, min–max and number of samples of every figure of this run.\n\n")
	fmt.Fprintf(w, "| figure | unit | median | min–max | n |\n|---|---|---|---|---|\n")
	ids := append([]string(nil), res.order...)
	for _, id := range ids {
		key, unit, _ := strings.Cut(id, " ")
		if unit == "B/op" {
			continue // allocs/op says enough
		}
		if _, ok := res.samples[key+" ms/op"]; ok && unit == "ns/op" {
			continue // a one-shot benchmark reporting ms/op itself
		}
		s := res.samples[id]
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range s {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		med, _ := res.median(key, unit)
		fmt.Fprintf(w, "| %s | %s | %.4g | %.4g–%.4g | %d |\n", key, unit, med, lo, hi, len(s))
	}
	var na []string
	for k, v := range res.na {
		na = append(na, fmt.Sprintf("- %s: n/a: %s", k, v))
	}
	sort.Strings(na)
	if len(na) > 0 {
		fmt.Fprintf(w, "\nNot measured:\n\n%s\n", strings.Join(na, "\n"))
	}
}

// renderCalls prints the system calls per open+close that bench/run
// counted with strace, if it could.
func renderCalls(w *strings.Builder, res *results) {
	calls := []string{"openat", "fstat", "geteuid", "fcntl", "close", "epoll_ctl"}
	var lines []string
	for _, impl := range []struct{ key, what string }{
		{"c_openbsd", "C, OpenBSD algorithm"},
		{"go_openbsd", "`Dir.Open` + `Close`"},
		{"c_glibc", "glibc `shm_open` + `close`"},
		{"go_linux", "`posixshm.Open` + `Close`"},
	} {
		line, total, ok := "| "+impl.what+" |", 0.0, false
		for _, c := range calls {
			v, found := res.median("calls:"+impl.key+":"+c, "calls/op")
			v = max(0, math.Round(v*10)/10) // strays of the runtime are not calls per op
			ok = ok || found
			total += v
			line += fmt.Sprintf(" %g |", v)
		}
		if ok {
			lines = append(lines, line+fmt.Sprintf(" **%g** |", total))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\nSystem calls per open+close, counted with `strace -f` (a run of 1001 minus a run of 1; fstat includes newfstatat and statx; fcntl includes the F_GETFL of `os.NewFile`):\n\n")
	fmt.Fprintf(w, "| implementation | %s | total |\n|---|%s---|\n%s\n", strings.Join(calls, " | "), strings.Repeat("---|", len(calls)), strings.Join(lines, "\n"))
}
