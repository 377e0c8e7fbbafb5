package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// metric names one figure: a key and its unit.
type metric struct{ key, unit string }

// A row compares ours with a baseline and says what the comparison
// measures. Its goal bounds the ratio ours/baseline from above (maxRatio;
// 0: none) or ours itself (maxOurs, in its unit; 0: none); zeroAllocs also
// requires 0 allocs/op for ours.
type row struct {
	section, figure string
	ours, base      metric
	maxRatio        float64
	maxOurs         float64
	faster          bool // state the goal as "≥ 1/maxRatio × faster"
	zeroOurs        bool // ours must be 0 (system calls)
	zeroAllocs      bool
	showAllocs      bool
}

func ns(k string) metric        { return metric{k, "ns/op"} }
func incr(k string) metric      { return metric{k, "ns/increment"} }
func roundtrip(k string) metric { return metric{k, "ns/roundtrip"} }
func wakeup(k string) metric    { return metric{k, "ns/wake"} }
func ms(k string) metric        { return metric{k, "ms/op"} }
func nsTotal(k string) metric   { return metric{k, "ns"} }

const (
	secPath    = "a. name → path"
	secOpen    = "b. open+close"
	secLock    = "c. uncontended lock"
	secContend = "d. contention: throughput of barging locks"
	secHandoff = "e. handoff and wake-up latency"
	secRefresh = "f. refresh-on-use"
	secScale   = "g. scale"
	secNotify  = "h. waiting for data: notify and semaphore"
)

// strongest and libc label the two kinds of baseline: the fastest fair C
// we know, and what a C program on OpenBSD or Linux gets from its libc.
const (
	strongest = "strongest C: "
	libc      = "what OpenBSD's libc does: "
)

func pathRows() []row {
	var rows []row
	for _, n := range []string{"8", "32", "255"} {
		rows = append(rows, row{
			section: secPath, figure: "Dir.AppendPath, " + n + "-byte name vs " + strongest + "OpenSSL SHA-256 (SHA extensions) + table hex",
			ours: ns("BenchmarkPath/append/" + n), base: ns("c_path_openssl_" + n),
			maxRatio: 1.0, zeroAllocs: true, showAllocs: true,
		})
	}
	for _, n := range []string{"8", "32", "255"} {
		rows = append(rows, row{
			section: secPath, figure: "Dir.AppendPath, " + n + "-byte name vs " + libc + "libmd SHA256Data (portable C) + snprintf",
			ours: ns("BenchmarkPath/append/" + n), base: ns("c_path_" + n),
		})
	}
	return append(rows,
		row{section: secPath, figure: "Dir.Path (returns a string: 1 allocation), 8-byte name vs " + strongest + "OpenSSL + table hex", ours: ns("BenchmarkPath/string/8"), base: ns("c_path_openssl_8"), showAllocs: true},
		row{section: secPath, figure: "SHA-256 implementation, per 64-byte block: crypto/sha256 Write vs OpenSSL SHA256_Update", ours: ns("BenchmarkSHA256/block"), base: ns("c_sha256_block_openssl")},
		row{section: secPath, figure: "SHA-256 of an 8-byte name through the one-shot API: crypto/sha256.Sum256 vs OpenSSL SHA256_Init/Update/Final", ours: ns("BenchmarkSHA256/sum/8"), base: ns("c_sha256_openssl_8")},
	)
}

func contentionRows() []row {
	var rows []row
	for _, p := range []string{"2", "4"} {
		rows = append(rows,
			row{section: secContend, figure: p + " processes × increments: lock.Mutex (64-bit word) vs the same algorithm in C (bench/c/lockword.h)", ours: incr("go_incr_" + p + "p"), base: incr("c_incr_cas64_" + p + "p")},
			row{section: secContend, figure: p + " processes × increments: lock.Mutex vs robust pshared pthread mutex", ours: incr("go_incr_" + p + "p"), base: incr("c_incr_pthread_" + p + "p")},
		)
	}
	for _, p := range []string{"2", "4"} {
		rows = append(rows, row{
			section: secContend, figure: "issue 10: `posixshm demo --procs " + p + "` (Segment lock) per increment vs " + p + " forked C processes under a robust pshared pthread mutex, same increments",
			ours: incr("go_demo_" + p + "p"), base: incr("c_incr_pthread_" + p + "p"), maxRatio: 1.0,
		})
	}
	for _, p := range []string{"2", "4"} {
		rows = append(rows, row{
			section: secContend, figure: "longest wait of any process, " + p + " processes (issue 10: ≤ 5 ms): lock.Mutex vs robust pthread mutex",
			ours: nsTotal("go_incr_" + p + "p_wait_max"), base: nsTotal("c_incr_pthread_" + p + "p_wait_max"), maxOurs: 5e6,
		})
	}
	return append(rows,
		row{section: secContend, figure: "2 processes × increments: lock.Mutex vs flock(2)", ours: incr("go_incr_2p"), base: incr("c_incr_flock_2p"), maxRatio: 1.0 / 20, faster: true},
		row{section: secContend, figure: "diagnostic: cost of the handoff records, lock.Mutex, 2 processes: with vs without", ours: incr("go_incr_2p"), base: incr("go_incr_2p_plain")},
		row{section: secContend, figure: "diagnostic: cost of the handoff records, pthread mutex, 2 processes: with vs without", ours: incr("c_incr_pthread_2p"), base: incr("c_incr_pthread_2p_plain")},
	)
}

var rows = concat(pathRows(), []row{
	{section: secOpen, figure: "Dir.Open+Close (OpenBSD layout, tmpfs dir) vs C making the same 6 system calls (OpenBSD's algorithm + Go's F_GETFL + the one-link check's stat of the directory)", ours: ns("BenchmarkOpen/openbsd"), base: ns("c_open_samecalls_openbsd"), maxRatio: 1.1, showAllocs: true},
	{section: secOpen, figure: "posixshm.Open+Close (Linux, /dev/shm) vs C making the same 4 system calls (glibc's + fstat + F_GETFL)", ours: ns("BenchmarkOpen/linux"), base: ns("c_open_samecalls_linux"), maxRatio: 1.1, showAllocs: true},
	{section: secOpen, figure: "issue 22: Dir.OpenFd+close (the descriptor-level open) vs C making the same 5 system calls (Dir.Open's, less os.NewFile's F_GETFL)", ours: ns("BenchmarkOpenFd/openbsd"), base: ns("c_open_samecalls_fd_openbsd"), maxRatio: 1.3, showAllocs: true},
	{section: secOpen, figure: "issue 22: posixshm.OpenFd+close (Linux, /dev/shm) vs C making the same 3 system calls (glibc's + fstat)", ours: ns("BenchmarkOpenFd/linux"), base: ns("c_open_samecalls_fd_linux"), maxRatio: 1.3, showAllocs: true},
	{section: secOpen, figure: "Dir.Open+Close vs " + libc + "its shm_open algorithm (4 system calls)", ours: ns("BenchmarkOpen/openbsd"), base: ns("c_open_openbsd")},
	{section: secOpen, figure: "posixshm.Open+Close vs glibc shm_open+close (2 system calls)", ours: ns("BenchmarkOpen/linux"), base: ns("c_open_glibc")},
	{section: secOpen, figure: "diagnostic: C's system calls made from Go (x/sys/unix, no *os.File), OpenBSD algorithm vs C", ours: ns("BenchmarkOpenFloor/openbsd"), base: ns("c_open_openbsd"), showAllocs: true},
	{section: secOpen, figure: "diagnostic: C's system calls made from Go, glibc (open+close) vs C", ours: ns("BenchmarkOpenFloor/linux"), base: ns("c_open_glibc"), showAllocs: true},
	{section: secOpen, figure: "diagnostic: segment.Open+Close (attach and detach: map, claim a slot, release it) vs Dir.Open+Close", ours: ns("BenchmarkSegmentOpen"), base: ns("BenchmarkOpen/openbsd"), showAllocs: true},

	{section: secLock, figure: "lock.Mutex Lock+Unlock (64-bit word, New64) vs " + strongest + "the same two 64-bit CASes (bench/c/lockword.h), the same loop shape (issue 22: ≤ 1.1)", ours: ns("BenchmarkLock/ours"), base: ns("c_cas64_uncontended"), maxRatio: 1.1, zeroAllocs: true, showAllocs: true},
	{section: secLock, figure: "lock.Mutex Lock+Unlock vs robust pshared pthread mutex (issue 10: ≤ 0.35)", ours: ns("BenchmarkLock/ours"), base: ns("c_pthread_uncontended"), maxRatio: 0.35},
	{section: secLock, figure: "lock.Mutex Lock+Unlock vs sync.Mutex", ours: ns("BenchmarkLock/ours"), base: ns("BenchmarkLock/sync"), maxRatio: 1.5},
	{section: secLock, figure: "Segment Lock+Unlock (default options) vs bare lock.Mutex (issue 10: ≤ 1.5, 0 allocs)", ours: ns("BenchmarkSegmentLock/default"), base: ns("BenchmarkLock/ours"), maxRatio: 1.5, zeroAllocs: true, showAllocs: true},
	{section: secLock, figure: "Segment Lock+Unlock (default options) vs robust pshared pthread mutex (issue 10: ≤ 0.6)", ours: ns("BenchmarkSegmentLock/default"), base: ns("c_pthread_uncontended"), maxRatio: 0.6},
	{section: secLock, figure: "lock.Mutex Lock+Unlock vs flock(2) LOCK_EX+LOCK_UN", ours: ns("BenchmarkLock/ours"), base: ns("c_flock_uncontended")},
	{section: secLock, figure: "diagnostic: lock.Mutex over a 32-bit word (New: one call more, see NOTES) vs the same two 32-bit CASes in C", ours: ns("BenchmarkLock/ours32"), base: ns("c_cas_uncontended"), zeroAllocs: true, showAllocs: true},
	{section: secLock, figure: "diagnostic: lock.Mutex over a 32-bit word vs robust pshared pthread mutex", ours: ns("BenchmarkLock/ours32"), base: ns("c_pthread_uncontended")},
}, contentionRows(), []row{
	{section: secHandoff, figure: "spinning handoff: ping-pong round trip, lock.Mutex vs " + strongest + "spin-then-futex, the same algorithm and the same polling (issue 22: ≤ 1.0)", ours: roundtrip("go_pingpong"), base: roundtrip("c_lock_pingpong"), maxRatio: 1.0},
	{section: secHandoff, figure: "context switches per round trip (getrusage), lock.Mutex vs C spin-then-futex (issue 22: no more)", ours: metric{"go_pingpong_switches", "switches/roundtrip"}, base: metric{"c_lock_pingpong_switches", "switches/roundtrip"}, maxRatio: 1.0},
	{section: secHandoff, figure: "CPU time per round trip (both processes, getrusage), lock.Mutex vs C spin-then-futex (goal: no more CPU)", ours: roundtrip("go_pingpong_cpu"), base: roundtrip("c_lock_pingpong_cpu"), maxRatio: 1.0},
	{section: secHandoff, figure: "ping-pong round trip, lock.Mutex vs C always-sleeping futex (every handoff sleeps and wakes)", ours: roundtrip("go_pingpong"), base: roundtrip("c_futex_pingpong")},
	{section: secHandoff, figure: "CPU time per round trip, lock.Mutex vs C always-sleeping futex", ours: roundtrip("go_pingpong_cpu"), base: roundtrip("c_futex_pingpong_cpu")},
	{section: secHandoff, figure: "context switches per round trip, lock.Mutex vs C always-sleeping futex", ours: metric{"go_pingpong_switches", "switches/roundtrip"}, base: metric{"c_futex_pingpong_switches", "switches/roundtrip"}},
	{section: secHandoff, figure: "diagnostic: the sleeping ping-pong written in Go (raw futex calls) vs C", ours: roundtrip("go_futex_pingpong"), base: roundtrip("c_futex_pingpong")},
	{section: secHandoff, figure: "diagnostic: spin phase before sleeping behind a held lock (Lock → waiters bit set; both spins adapt the same way), lock.Mutex vs C", ours: nsTotal("go_spin_ns"), base: nsTotal("c_spin_ns")},
}, wakeRows(secHandoff, "sleeping waiter: Unlock → the waiter's Lock returns, median, lock.Mutex vs "+strongest+"the same algorithm (lockword.h)", "go_wake", "c_lock_wake", 1.2),
	wakeRows(secHandoff, "diagnostic: raw FUTEX_WAKE → FUTEX_WAIT returns, from Go (Syscall6, and nothing in the waiter process yields) vs C: what a Go waiter pays without keeping its P (the code before issue 22)", "go_futex_wake", "c_futex_wake", 0),
	[]row{
		{section: secRefresh, figure: "Segment Lock+Unlock, default RefreshInterval (1 h) vs refresh-on-use off (RefreshInterval < 0)", ours: ns("BenchmarkSegmentLock/default"), base: ns("BenchmarkSegmentLock/norefresh"), maxRatio: 1.1, showAllocs: true},
		{section: secRefresh, figure: "Segment Lock+Unlock, RefreshInterval 1 ms (a futimes every ms) vs refresh-on-use off", ours: ns("BenchmarkSegmentLock/1ms"), base: ns("BenchmarkSegmentLock/norefresh")},

		{section: secScale, figure: "`posixshm ls --dir DIR`, 10,000 objects vs `ls -l DIR`", ours: ms("go_ls_10000"), base: ms("ls_l_10000")},
		{section: secScale, figure: "big Segment: create, map, write all, close, unlink vs C (glibc shm_open, ftruncate, mmap, memset, munmap, shm_unlink)", ours: ms("BenchmarkSegmentBig"), base: ms("c_bigseg")},
		{section: secScale, figure: "same with the drop-in API (posixshm.Open, Truncate, mmap, write all, munmap, Unlink) vs C", ours: ms("BenchmarkDropinBig"), base: ms("c_bigseg")},
	}, notifyRows())

// Placements of the sleeping-waiter figures (benchproc wakeup, bench/c/
// wake.c): both processes pinned, every thread of the Go ones.
var placements = []struct{ suffix, desc string }{
	{"_same", "both on CPU 0"},
	{"_cross", "notifier on CPU 0, waiter on CPU 1"},
}

// wakeRows: one row per placement for a sleeping-waiter figure.
func wakeRows(sec, figure, ours, base string, maxRatio float64) []row {
	var rows []row
	for _, p := range placements {
		rows = append(rows, row{section: sec, figure: figure + " (" + p.desc + ")", ours: wakeup(ours + p.suffix), base: wakeup(base + p.suffix), maxRatio: maxRatio})
	}
	return rows
}

// switchRows: the waiter process's context switches per wake-up, ours
// bounded by maxOurs, one row per placement.
func switchRows(sec, figure, ours, base string, maxOurs float64) []row {
	var rows []row
	for _, p := range placements {
		rows = append(rows, row{section: sec, figure: figure + " (" + p.desc + ")", ours: metric{ours + p.suffix + "_switches", "switches/wake"}, base: metric{base + p.suffix + "_switches", "switches/wake"}, maxOurs: maxOurs})
	}
	return rows
}

// notifyRows: issues 13 and 22's targets.
func notifyRows() []row {
	calls := func(k string) metric { return metric{"calls:" + k + ":futex", "calls/op"} }
	items := func(k string) metric { return metric{k, "items/s"} }
	cond := "lock.Cond Signal → Wait returns (its Mutex locked again) vs " + strongest + "pthread_cond_signal → pthread_cond_wait (process-shared)"
	rows := wakeRows(secNotify, "sleeping waiter, 300 µs gaps, median: "+cond, "go_cond_wake", "c_cond_wake", 1.0)
	for _, g := range []struct {
		suffix, desc string
		goal         float64
	}{{"_100us", "100 µs", 1.3}, {"_1ms", "1 ms", 1.3}, {"_20ms", "20 ms (a sleep that long loses the P in any case)", 0}} {
		for _, p := range placements {
			rows = append(rows, row{section: secNotify, figure: "issue 22: the same at " + g.desc + " gaps (" + p.desc + ")", ours: wakeup("go_cond_wake" + p.suffix + g.suffix), base: wakeup("c_cond_wake" + p.suffix + g.suffix), maxRatio: g.goal})
		}
	}
	rows = append(rows, switchRows(secNotify, "issue 22: context switches per wake-up of the waiter process (getrusage, all threads, from its wait to its wake-up), 300 µs gaps, lock.Cond vs pthread_cond", "go_cond_wake", "c_cond_wake", 1.2)...)
	for _, w := range []string{"2", "4"} {
		rows = append(rows,
			row{section: secNotify, figure: "diagnostic: " + w + " waiters in the waiter process (goroutines; C: threads), not pinned, 1 ms gaps: lock.Cond vs pthread_cond", ours: wakeup("go_cond_wake_w" + w), base: wakeup("c_cond_wake_w" + w)},
			row{section: secNotify, figure: "diagnostic: context switches per wake-up with " + w + " waiters, lock.Cond vs pthread_cond (every P holds a sleeping waiter: see NOTES)", ours: metric{"go_cond_wake_w" + w + "_switches", "switches/wake"}, base: metric{"c_cond_wake_w" + w + "_switches", "switches/wake"}},
		)
	}
	rows = append(rows, wakeRows(secNotify, "issue 22: Segment.Wait (Notify → Wait returns, its lock held again) vs pthread_cond_signal → pthread_cond_wait", "go_segwait_wake", "c_cond_wake", 1.4)...)
	rows = append(rows, wakeRows(secNotify, "issue 22: Segment.WaitNotification (Notify → it returns) vs pthread_cond_signal → pthread_cond_wait", "go_segnotif_wake", "c_cond_wake", 1.4)...)
	rows = append(rows, wakeRows(secNotify, "issue 22: lock.Semaphore Release → a waiter's Acquire returns vs sem_post → sem_wait returns (process-shared unnamed semaphore)", "go_sem_wake", "c_sem_wake", 1.3)...)
	return append(rows,
		row{section: secNotify, figure: "notify with no waiter: lock.Cond Signal (issue 13: ≤ 10 ns) vs pthread_cond_signal with no waiter", ours: ns("BenchmarkNotify/nowaiter"), base: ns("c_cond_signal_nowaiter"), maxOurs: 10, zeroAllocs: true, showAllocs: true},
		row{section: secNotify, figure: "futex(2) calls per notify with no waiter (strace): lock.Cond Signal (issue 13: 0) vs pthread_cond_signal", ours: calls("go_notify_nowaiter"), base: calls("c_cond_signal_nowaiter"), zeroOurs: true},
		row{section: secNotify, figure: "lock.Cond Broadcast with no waiter vs pthread_cond_signal with no waiter", ours: ns("BenchmarkNotify/broadcast"), base: ns("c_cond_signal_nowaiter")},
		row{section: secNotify, figure: "lock.Semaphore Acquire+Release, uncontended vs " + strongest + "sem_wait+sem_post of a process-shared unnamed semaphore, the same loop shape", ours: ns("BenchmarkSemaphore"), base: ns("c_sem_uncontended"), maxRatio: 1.0, zeroAllocs: true, showAllocs: true},
		row{section: secNotify, figure: "throughput, 64-byte items, producer process → consumer process: queue of 256 in shared memory with lock.Mutex + lock.Cond vs a SOCK_SEQPACKET socketpair (items/s: a ratio above 1 is more items)", ours: items("go_prodcons"), base: items("c_seqpacket")},
	)
}

func concat(parts ...[]row) []row {
	var out []row
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// human formats a value given in unit: durations (ns or ms, alone or per
// something) with a scale; anything else as a number and its unit.
func human(v float64, unit string) string {
	if unit != "ns" && !strings.HasPrefix(unit, "ns/") && !strings.HasPrefix(unit, "ms/") {
		switch {
		case v >= 1e6:
			return fmt.Sprintf("%.3g M %s", v/1e6, unit)
		case v >= 1e4:
			return fmt.Sprintf("%.0fk %s", v/1e3, unit)
		case v == math.Trunc(v) || v >= 100:
			return fmt.Sprintf("%.0f %s", v, unit)
		}
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
	case n >= 1e5:
		return fmt.Sprintf("%.0f µs", n/1e3)
	case n >= 1e4:
		return fmt.Sprintf("%.1f µs", n/1e3)
	case n >= 1e3:
		return fmt.Sprintf("%.2f µs", n/1e3)
	case n >= 100:
		return fmt.Sprintf("%.0f ns", n)
	}
	return fmt.Sprintf("%.1f ns", n)
}

// short is human without a unit that is not a duration (for spreads).
func short(v float64, unit string) string {
	s := human(v, unit)
	if unit != "ns" && !strings.HasPrefix(unit, "ns/") && !strings.HasPrefix(unit, "ms/") {
		s = strings.TrimSuffix(s, " "+unit)
	}
	return s
}

func (r row) goal() string {
	var g []string
	switch {
	case r.maxRatio == 0:
	case r.faster:
		g = append(g, fmt.Sprintf("≥ %.0f× faster (≤ %.2g)", 1/r.maxRatio, r.maxRatio))
	default:
		g = append(g, fmt.Sprintf("≤ %.2g", r.maxRatio))
	}
	if r.maxOurs > 0 {
		g = append(g, "ours ≤ "+human(r.maxOurs, r.ours.unit))
	}
	if r.zeroOurs {
		g = append(g, "ours = 0")
	}
	if r.zeroAllocs {
		g = append(g, "0 allocs")
	}
	if len(g) == 0 {
		return "— (for scale)"
	}
	return strings.Join(g, ", ")
}

// side formats one side of a row: median, spread, and a flag when the
// samples are bimodal.
func side(res *results, m metric) (string, bool) {
	s := res.get(m.key, m.unit)
	if len(s) == 0 {
		return "n/a: " + res.why(m.key), false
	}
	med, _ := median(s)
	out := human(med, m.unit)
	if len(s) > 1 {
		lo, hi := minMax(s)
		out += fmt.Sprintf(" (%s–%s)", short(lo, m.unit), short(hi, m.unit))
	}
	bi := res.bimodal(m.key, m.unit)
	if bi {
		out += " ⚠ bimodal"
	}
	return out, bi
}

// ratios returns ours/base of every round when both sides have the same
// number of samples (taken in the same rounds, one after the other), or
// else the one ratio of the medians.
func ratios(res *results, ours, base metric) []float64 {
	o, b := res.get(ours.key, ours.unit), res.get(base.key, base.unit)
	if len(o) == 0 || len(b) == 0 {
		return nil
	}
	if len(o) != len(b) {
		mo, _ := median(o)
		mb, _ := median(b)
		if mb == 0 {
			return nil
		}
		return []float64{mo / mb}
	}
	var q []float64
	for i := range o {
		if b[i] != 0 {
			q = append(q, o[i]/b[i])
		}
	}
	return q
}

func fmtRatio(q float64) string {
	if q < 0.1 {
		return fmt.Sprintf("%.3f (%.0f× faster)", q, 1/q)
	}
	return fmt.Sprintf("%.2f", q)
}

// cells returns ours, baseline, ratio and met? for the row.
func (r row) cells(res *results) (ours, base, ratio, met string) {
	ours, biO := side(res, r.ours)
	base, biB := side(res, r.base)
	allocs, okA := res.median(r.ours.key, "allocs/op")
	if r.showAllocs && okA && len(res.get(r.ours.key, r.ours.unit)) > 0 {
		ours += fmt.Sprintf(", %.0f allocs", allocs)
	}
	o, okO := res.median(r.ours.key, r.ours.unit)
	q := ratios(res, r.ours, r.base)
	qm, okQ := median(q)
	if !okO {
		return ours, base, "—", "n/a"
	}
	ratio = "—"
	if okQ {
		ratio = fmtRatio(qm)
		if len(q) > 1 {
			lo, hi := minMax(q)
			ratio += fmt.Sprintf(" (%.2f–%.2f)", lo, hi)
		}
	}
	if r.maxRatio == 0 && r.maxOurs == 0 && !r.zeroOurs && !r.zeroAllocs {
		return ours, base, ratio, "—"
	}
	ok := true
	straddles := false
	if r.maxRatio > 0 {
		if !okQ {
			return ours, base, ratio, "n/a"
		}
		ok = qm <= r.maxRatio
		lo, hi := minMax(q)
		straddles = lo <= r.maxRatio && hi > r.maxRatio
	}
	if r.maxOurs > 0 {
		ok = ok && o <= r.maxOurs
		lo, hi := minMax(res.get(r.ours.key, r.ours.unit))
		straddles = straddles || (lo <= r.maxOurs && hi > r.maxOurs)
	}
	if r.zeroOurs {
		lo, hi := minMax(res.get(r.ours.key, r.ours.unit))
		ok = ok && o == 0
		straddles = straddles || (lo == 0 && hi > 0)
	}
	if r.zeroAllocs {
		ok = ok && okA && allocs == 0
	}
	met = "**no**"
	if ok {
		met = "yes"
	}
	if straddles {
		met += " (not in every round)"
	}
	if biO || biB {
		met += " ⚠"
	}
	return ours, base, ratio, met
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// report is what the report shows besides the results of its run.
type report struct {
	notes []byte    // bench/NOTES.md
	runs  []byte    // the table of consecutive runs (renderRuns), if any
	pics  []picture // the pictures written next to it
}

func render(w *strings.Builder, res *results, m machine, rep report) {
	fmt.Fprintf(w, "# Benchmarks\n\n")
	fmt.Fprintf(w, "Generated by `bench/run` (to reproduce: `bench/run`; it writes this file). ")
	fmt.Fprintf(w, "Each figure is taken in several rounds; in each round the Go side (a `go test -bench` binary, bench/cmd/benchproc for multi-process figures, or cmd/posixshm) and its C baselines run one after the other, so that changes of load hit both sides of a ratio alike. ")
	fmt.Fprintf(w, "A side shows the median of its rounds and their spread (min–max); the ratio is the median of the rounds' own ratios, with their spread. ")
	fmt.Fprintf(w, "A side whose samples spread more than %.1f× (max/min) comes from two speeds: bench/run reruns its section (a few times at most), and if it still spreads, the table says **⚠ bimodal** and its median is not to be trusted alone. ", bimodalRatio)
	fmt.Fprintf(w, "Absolute numbers depend on the machine and its load; compare the ratios, which are taken within one run.\n\n")
	fmt.Fprintf(w, "Baselines: \"strongest C\" is the fastest fair C we know for the same job (the same algorithm as ours, or hardware-accelerated SHA-256); \"what OpenBSD's libc does\" is the C a program on OpenBSD gets today. Goals are set against the strongest.\n\n")
	fmt.Fprintf(w, "Machine: %s, %s cores, Linux %s, %s, %s.", m.cpu, m.cores, m.kernel, m.goVersion, m.date)
	if m.extra != "" {
		fmt.Fprintf(w, " %s", m.extra)
	}
	fmt.Fprintf(w, "\n\n")
	fmt.Fprintf(w, "| what it measures | ours | baseline | ours/baseline | goal | met? |\n|---|---|---|---|---|---|\n")
	section := ""
	for _, r := range rows {
		if r.section != section {
			section = r.section
			fmt.Fprintf(w, "| **%s** | | | | | |\n", section)
		}
		o, b, q, met := r.cells(res)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", cell(r.figure), cell(o), cell(b), q, r.goal(), met)
	}
	if len(rep.runs) > 0 {
		fmt.Fprintf(w, "\n## Consecutive runs\n\nThe goals' ratios in each of the consecutive runs of bench/run that ended with the one above (\"yes\": met; \"not in every round\": some rounds of that run missed it). A claim holds when it is met in every run; the spread says how far the runs are apart.\n\n%s", rep.runs)
	}
	renderContention(w, res)
	renderLatency(w, res)
	renderPlacement(w, res)
	for _, p := range rep.pics {
		fmt.Fprintf(w, "\n![%s](%s)\n", p.alt, p.path)
	}
	renderSyscalls(w, res)
	renderCalls(w, res)
	if len(rep.notes) > 0 {
		fmt.Fprintf(w, "\n%s", strings.TrimRight(string(rep.notes), "\n")+"\n")
	}
	renderSamples(w, res)
}

// The locks of the contention table and picture, and their keys: key +
// "_Pp" is the figure for P processes.
var contenders = []struct{ name, key string }{
	{"lock.Mutex", "go_incr"},
	{"same algorithm in C", "c_incr_cas64"},
	{"robust pthread mutex", "c_incr_pthread"},
	{"flock(2)", "c_incr_flock"},
}

var contentionProcs = []int{1, 2, 4, 8}

// renderContention: per number of processes and lock, the throughput and
// how the lock changed hands.
func renderContention(w *strings.Builder, res *results) {
	var lines []string
	for _, p := range contentionProcs {
		for _, c := range contenders {
			k := fmt.Sprintf("%s_%dp", c.key, p)
			nsInc, ok := res.median(k, "ns/increment")
			if !ok {
				continue
			}
			cells := []string{fmt.Sprint(p), c.name, human(nsInc, "ns/increment")}
			for _, f := range []metric{{k + "_handoffs", "handoffs"}, {k + "_streak_mean", "increments"}, {k + "_streak_max", "increments"}} {
				v, ok := res.median(f.key, f.unit)
				if !ok {
					cells = append(cells, "—")
					continue
				}
				cells = append(cells, short(v, f.unit))
			}
			waits := res.get(k+"_wait_max", "ns")
			if v, ok := median(waits); ok {
				_, hi := minMax(waits)
				cells = append(cells, human(v, "ns")+" (max "+human(hi, "ns")+")")
			} else {
				cells = append(cells, "—")
			}
			lines = append(lines, "| "+strings.Join(cells, " | ")+" |")
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\nHow the lock changes hands (section d; median of the rounds). Every process increments the counter M times in a loop; under the lock each increment also updates a record on the counter's cache line: a handoff is a change of the process holding the lock, a streak is a run of increments by one process, and a process's wait is the time from the moment another process took the lock from it to its own next acquisition (one clock read per handoff; the cost of the records is in the table above). A barging lock lets the releasing process take the lock again at once: few handoffs, long streaks, long waits, and a throughput that mostly says how rarely the lock changed hands.\n\n")
	fmt.Fprintf(w, "| processes | lock | per increment | handoffs | mean streak | longest streak | longest wait of any process |\n|---|---|---|---|---|---|---|\n%s\n", strings.Join(lines, "\n"))
}

// The distributions of the latency table and picture.
var distributions = []struct{ key, unit, name string }{
	{"go_pingpong", "ns/roundtrip", "ping-pong round trip: lock.Mutex"},
	{"c_lock_pingpong", "ns/roundtrip", "ping-pong round trip: C spin-then-futex (same algorithm)"},
	{"c_futex_pingpong", "ns/roundtrip", "ping-pong round trip: C always-sleeping futex"},
	{"go_futex_pingpong", "ns/roundtrip", "ping-pong round trip: Go always-sleeping futex (raw calls)"},
	{"go_wake_cross", "ns/wake", "sleeping waiter woken, other CPU: lock.Mutex"},
	{"c_lock_wake_cross", "ns/wake", "sleeping waiter woken, other CPU: C same algorithm"},
	{"c_futex_wake_cross", "ns/wake", "sleeping waiter woken, other CPU: raw futex"},
	{"go_wake_same", "ns/wake", "sleeping waiter woken, same CPU: lock.Mutex"},
	{"c_lock_wake_same", "ns/wake", "sleeping waiter woken, same CPU: C same algorithm"},
	{"go_cond_wake_cross", "ns/wake", "notify → sleeping waiter, other CPU: lock.Cond"},
	{"c_cond_wake_cross", "ns/wake", "notify → sleeping waiter, other CPU: pthread_cond (process-shared)"},
	{"go_cond_wake_same", "ns/wake", "notify → sleeping waiter, same CPU: lock.Cond"},
	{"c_cond_wake_same", "ns/wake", "notify → sleeping waiter, same CPU: pthread_cond (process-shared)"},
}

// quantile returns quantile q (percent) of a distribution: the median over
// rounds of each round's quantile.
func quantile(res *results, key, unit string, q float64) (float64, bool) {
	return res.median(fmt.Sprintf("%s@p%g", key, q), unit)
}

// distribution returns the quantiles of key that were measured, as
// (value, percent) in the order of the percents.
func distribution(res *results, key, unit string) [][2]float64 {
	var pts [][2]float64
	for _, id := range res.order {
		k, u, _ := strings.Cut(id, " ")
		q, ok := strings.CutPrefix(k, key+"@p")
		if !ok || u != unit {
			continue
		}
		pc, err := strconv.ParseFloat(q, 64)
		if err != nil {
			continue
		}
		v, _ := median(res.samples[id])
		pts = append(pts, [2]float64{v, pc})
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i][1] < pts[j][1] })
	return pts
}

// renderPlacement: where each sleeping-waiter figure woke its waiter, as
// the waiter recorded it (sched_getcpu after every wake-up): the share of
// wake-ups on the notifier's CPU, with the waiter process's context
// switches per wake-up.
func renderPlacement(w *strings.Builder, res *results) {
	var lines []string
	for _, id := range res.order {
		key, unit, _ := strings.Cut(id, " ")
		base, ok := strings.CutSuffix(key, "_samecpu")
		if !ok || unit != "share" {
			continue
		}
		share, _ := res.median(key, unit)
		sw := "—"
		if v, ok := res.median(base+"_switches", "switches/wake"); ok {
			sw = fmt.Sprintf("%.2f", v)
		}
		lines = append(lines, fmt.Sprintf("| %s | %.0f%% | %s |", base, 100*share, sw))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\nPlacement of the sleeping waiters (sections e and h; median of the rounds). Each side pins its processes (every thread of a Go process) as the figure's name says: _same both on CPU 0, _cross the notifier on CPU 0 and the waiter on CPU 1, _wN not pinned. After every wake-up the waiter records its CPU (sched_getcpu) and the process's context switches since it began to wait (getrusage, all threads).\n\n")
	fmt.Fprintf(w, "| figure | wake-ups on the notifier's CPU | context switches per wake-up |\n|---|---|---|\n%s\n", strings.Join(lines, "\n"))
}

func renderLatency(w *strings.Builder, res *results) {
	qs := []float64{10, 50, 90, 99, 100}
	var lines []string
	for _, d := range distributions {
		cells := []string{d.name}
		found := false
		for _, q := range qs {
			v, ok := quantile(res, d.key, d.unit, q)
			if !ok {
				cells = append(cells, "—")
				continue
			}
			found = true
			cells = append(cells, human(v, d.unit))
		}
		if found {
			lines = append(lines, "| "+strings.Join(cells, " | ")+" |")
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\nLatency distributions (sections e and h; each quantile is the median of the rounds' quantiles). The ping-pongs time one round trip in 8 (two clock reads each); the sleeping waiters time every wake-up.\n\n")
	fmt.Fprintf(w, "| distribution | p10 | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n%s\n", strings.Join(lines, "\n"))
}

func renderSyscalls(w *strings.Builder, res *results) {
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
		fmt.Fprintf(w, "\nSystem calls on this machine (C, median): each extra call in an open costs about this much; a ratio against a C baseline that makes fewer calls grows with it.\n\n| system call | time |\n|---|---|\n%s\n", strings.Join(sys, "\n"))
	}
}

// renderCalls prints the system calls per open+close that bench/run
// counted with strace, if it could.
func renderCalls(w *strings.Builder, res *results) {
	calls := []string{"openat", "fstat", "geteuid", "fcntl", "close", "epoll_ctl"}
	var lines []string
	for _, impl := range []struct{ key, what string }{
		{"c_openbsd", "C, OpenBSD algorithm"},
		{"c_samecalls_openbsd", "C, the same calls as `Dir.Open`"},
		{"go_openbsd", "`Dir.Open` + `Close`"},
		{"c_glibc", "glibc `shm_open` + `close`"},
		{"c_samecalls_linux", "C, the same calls as `posixshm.Open`"},
		{"go_linux", "`posixshm.Open` + `Close`"},
		{"c_samecalls_fd_openbsd", "C, the same calls as `Dir.OpenFd`"},
		{"go_fd_openbsd", "`Dir.OpenFd` + `close`"},
		{"c_samecalls_fd_linux", "C, the same calls as `posixshm.OpenFd`"},
		{"go_fd_linux", "`posixshm.OpenFd` + `close`"},
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

// renderSamples lists every figure with its spread; distributions are in
// their own table.
func renderSamples(w *strings.Builder, res *results) {
	fmt.Fprintf(w, "\n## All samples\n\nmedian, min–max and number of samples of every figure of this run (⚠: spread over %.1f×).\n\n", bimodalRatio)
	fmt.Fprintf(w, "| figure | unit | median | min–max | n |\n|---|---|---|---|---|\n")
	for _, id := range res.order {
		key, unit, _ := strings.Cut(id, " ")
		if unit == "B/op" || strings.Contains(key, "@") {
			continue // allocs/op says enough; quantiles are in their table
		}
		if _, ok := res.samples[key+" ms/op"]; ok && unit == "ns/op" {
			continue // a one-shot benchmark reporting ms/op itself
		}
		s := res.samples[id]
		lo, hi := minMax(s)
		med, _ := median(s)
		flag := ""
		if timing(unit) && res.bimodal(key, unit) {
			flag = " ⚠"
		}
		fmt.Fprintf(w, "| %s | %s | %.4g | %.4g–%.4g%s | %d |\n", key, unit, med, lo, hi, flag, len(s))
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
