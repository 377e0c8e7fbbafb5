//go:build linux && !openbsdsim

package main

import (
	"bufio"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary be its own children: runChildren re-executes
// os.Executable() with a child role as the first argument.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		if _, ok := roles[os.Args[1]]; ok || os.Args[1] == "child-wakeup" {
			if err := run(os.Args[1:], os.Stdout); err != nil {
				os.Stderr.WriteString("benchproc child: " + err.Error() + "\n")
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

// figures runs benchproc with args and returns its "key value unit" lines
// as key → value, checking each unit against units (key → unit).
func figures(t *testing.T, args ...string) map[string]float64 {
	t.Helper()
	var out strings.Builder
	if err := run(append(args, "-dir", t.TempDir()), &out); err != nil {
		t.Fatalf("benchproc %v: %v", args, err)
	}
	got := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			t.Fatalf("benchproc %v: bad line %q", args, sc.Text())
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			t.Fatalf("benchproc %v: bad value in %q", args, sc.Text())
		}
		got[f[0]] = v
	}
	return got
}

func TestIncrementsRecords(t *testing.T) {
	const p, m = 3, 5000
	f := figures(t, "increments", "-p", strconv.Itoa(p), "-m", strconv.Itoa(m))
	for _, k := range []string{"go_incr_3p", "go_incr_3p_handoffs", "go_incr_3p_streak_mean", "go_incr_3p_streak_max", "go_incr_3p_wait_max"} {
		if _, ok := f[k]; !ok {
			t.Fatalf("no %s in %v", k, f)
		}
	}
	h, mean, longest := f["go_incr_3p_handoffs"], f["go_incr_3p_streak_mean"], f["go_incr_3p_streak_max"]
	// Every process held the lock, so it changed hands at least p-1 times;
	// the streaks add up to all increments; none is longer than one
	// process's increments, nor shorter than the mean.
	if h < p-1 {
		t.Errorf("handoffs %v, want at least %d", h, p-1)
	}
	// The mean is printed to 0.1: each streak may be 0.05 off.
	if total, slack := mean*(h+1), 0.05*(h+1)+1; total < p*m-slack || total > p*m+slack {
		t.Errorf("mean streak %v × %v streaks = %v, want %d increments", mean, h+1, total, p*m)
	}
	if longest > m || longest < mean {
		t.Errorf("longest streak %v, want between the mean %v and %d", longest, mean, m)
	}
	if f["go_incr_3p_wait_max"] <= 0 || f["go_incr_3p"] <= 0 {
		t.Errorf("longest wait %v ns, %v ns/increment: want > 0", f["go_incr_3p_wait_max"], f["go_incr_3p"])
	}
	plain := figures(t, "increments", "-p", "2", "-m", "1000", "-plain")
	if len(plain) != 1 || plain["go_incr_2p_plain"] <= 0 {
		t.Errorf("-plain printed %v, want go_incr_2p_plain only", plain)
	}
}

// checkDistribution checks the quantile lines of key: every quantile
// present, in order, and the median between the extremes.
func checkDistribution(t *testing.T, f map[string]float64, key string) {
	t.Helper()
	prev := -1.0
	for _, q := range quantiles {
		k := key + "@p" + strconv.FormatFloat(q, 'g', -1, 64)
		v, ok := f[k]
		if !ok {
			t.Fatalf("no %s", k)
		}
		if v < prev || v <= 0 {
			t.Errorf("%s = %v after %v: quantiles must be positive and non-decreasing", k, v, prev)
		}
		prev = v
	}
}

func TestPingpong(t *testing.T) {
	for _, c := range []struct{ cmd, key string }{{"pingpong", "go_pingpong"}, {"pingpong-futex", "go_futex_pingpong"}} {
		f := figures(t, c.cmd, "-n", "400")
		if f[c.key] <= 0 || f[c.key+"_cpu"] <= 0 {
			t.Errorf("%s: %v ns/roundtrip, %v ns CPU/roundtrip: want > 0", c.cmd, f[c.key], f[c.key+"_cpu"])
		}
		if _, ok := f[c.key+"_switches"]; !ok {
			t.Errorf("%s: no %s_switches", c.cmd, c.key)
		}
		checkDistribution(t, f, c.key)
	}
}

// TestWakeup: every kind of sleeping waiter, pinned and not, one and two
// waiters: a full distribution, the median inside it, and the placement
// and switch figures.
func TestWakeup(t *testing.T) {
	cpus := "0,0"
	if runtime.NumCPU() > 1 {
		cpus = "0,1"
	}
	for _, c := range []struct{ kind, w, cpus string }{
		{"mutex", "1", cpus}, {"futex", "1", cpus}, {"cond", "1", cpus}, {"cond", "2", "-1,-1"},
		{"segwait", "1", cpus}, {"segnotif", "2", cpus}, {"sem", "1", cpus},
	} {
		key := "k_" + c.kind
		f := figures(t, "wakeup", "-kind", c.kind, "-n", "20", "-w", c.w, "-cpus", c.cpus, "-gap", "100us", "-key", key)
		checkDistribution(t, f, key)
		if m := f[key]; m < f[key+"@p0"] || m > f[key+"@p100"] {
			t.Errorf("%s: median %v outside [%v, %v]", c.kind, m, f[key+"@p0"], f[key+"@p100"])
		}
		if s := f[key+"_samecpu"]; s < 0 || s > 1 || (c.cpus == "0,1" && s != 0) {
			t.Errorf("%s, CPUs %s: %v of the wake-ups on the notifier's CPU", c.kind, c.cpus, s)
		}
		if sw := f[key+"_switches"]; sw < 0.5 {
			t.Errorf("%s: %v context switches per wake-up: a waiter that slept switched at least once", c.kind, sw)
		}
	}
}

func TestSpinBudget(t *testing.T) {
	f := figures(t, "spinbudget", "-n", "20")
	// lock spins at least 4 pause loops and 16 Goscheds before it sleeps:
	// more than 100 ns anywhere, less than its 20 ms stale check.
	if v := f["go_spin_ns"]; v < 100 || v > 20e6 {
		t.Errorf("go_spin_ns = %v, want a spin phase between 100 ns and 20 ms", v)
	}
}

// TestMonotonic checks that the clock benchproc stamps with is
// CLOCK_MONOTONIC, the clock bench/c reads: stamps are compared between
// processes, and between Go and C.
func TestMonotonic(t *testing.T) {
	for range 100 {
		a := monotonic()
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			t.Fatal(err)
		}
		b := uint64(ts.Nano())
		c := monotonic()
		if a > b || b > c {
			t.Fatalf("monotonic() %d, %d around CLOCK_MONOTONIC %d: not the same clock", a, c, b)
		}
	}
}

// cHeader returns the text of a C header of bench/c.
func cHeader(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestQuantilesMatchC(t *testing.T) {
	h := cHeader(t, "../../c/bench.h")
	m := regexp.MustCompile(`(?s)quantiles\[\] = \{(.*?)\}`).FindStringSubmatch(h)
	if m == nil {
		t.Fatal("bench/c/bench.h: no quantiles array")
	}
	var c []float64
	for _, s := range strings.Split(m[1], ",") {
		if s = strings.TrimSpace(s); s != "" {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("bench/c/bench.h quantiles: %v", err)
			}
			c = append(c, v)
		}
	}
	if len(c) != len(quantiles) {
		t.Fatalf("bench/c/bench.h has %d quantiles, benchproc %d", len(c), len(quantiles))
	}
	for i := range c {
		if c[i] != quantiles[i] {
			t.Fatalf("quantile %d: C %v, Go %v", i, c[i], quantiles[i])
		}
	}
}

// TestLockwordMatchesLock checks that bench/c/lockword.h, the "same
// algorithm in C" baseline, is tuned like package lock: if lock's
// contention tuning changes, the baseline must follow, or the handoff rows
// compare different algorithms.
func TestLockwordMatchesLock(t *testing.T) {
	h := cHeader(t, "../../c/lockword.h")
	consts := goConsts(t, "../../../lock/wait.go")
	for _, c := range []struct{ cName, goName string }{
		{"LW_MIN_SPIN_NS", "minSpin"},
		{"LW_MAX_SPIN_NS", "maxSpin"},
		{"LW_SPIN_CHECK", "spinCheck"},
		{"LW_STARVE_NS", "starveAfter"},
		{"LW_MIN_WAIT_NS", "minFutexWait"},
		{"LW_SLEEP_NORMAL", "sleepNormal"},
		{"LW_SLEEP_STARVING", "sleepStarving"},
	} {
		m := regexp.MustCompile(`#define ` + c.cName + ` +(\d+)L?\b`).FindStringSubmatch(h)
		if m == nil {
			t.Fatalf("bench/c/lockword.h: no #define %s", c.cName)
		}
		g, ok := consts[c.goName]
		if !ok {
			t.Fatalf("lock: no constant %s: lock's contention tuning changed; update bench/c/lockword.h to mirror it, and this test", c.goName)
		}
		if m[1] != g {
			t.Errorf("bench/c/lockword.h %s = %s, lock %s = %s", c.cName, m[1], c.goName, g)
		}
	}
}

// goConsts returns the integer constants of a Go file, by name: literals,
// and durations written as time.Unit or N * time.Unit (in nanoseconds).
func goConsts(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]int64{"Nanosecond": 1, "Microsecond": 1e3, "Millisecond": 1e6, "Second": 1e9}
	var eval func(e ast.Expr) (int64, bool)
	eval = func(e ast.Expr) (int64, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind != token.INT {
				return 0, false
			}
			v, ok := constant.Int64Val(constant.MakeFromLiteral(e.Value, e.Kind, 0))
			return v, ok
		case *ast.SelectorExpr:
			if x, ok := e.X.(*ast.Ident); ok && x.Name == "time" {
				v, ok := units[e.Sel.Name]
				return v, ok
			}
		case *ast.BinaryExpr:
			a, ok1 := eval(e.X)
			b, ok2 := eval(e.Y)
			if ok1 && ok2 && e.Op == token.MUL {
				return a * b, true
			}
		}
		return 0, false
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if i < len(vs.Values) {
				if v, ok := eval(vs.Values[i]); ok {
					out[name.Name] = strconv.FormatInt(v, 10)
				}
			}
		}
		return true
	})
	return out
}
