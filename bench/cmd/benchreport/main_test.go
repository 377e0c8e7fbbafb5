package main

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func parsed(t *testing.T, text string) *results {
	t.Helper()
	res := newResults()
	if err := res.parse(strings.NewReader(text)); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestParse(t *testing.T) {
	res := parsed(t, `goos: linux
BenchmarkPath/append/8-2   	12862684	        91.51 ns/op	       0 B/op	       0 allocs/op
c_path_openssl_8 80.67 ns/op
go_pingpong@p50 300 ns/roundtrip
c_path_openssl_8 70 ns/op
cs_x n/a perf does not work here
some tool chatter here
`)
	if got := res.get("BenchmarkPath/append/8", "ns/op"); len(got) != 1 || got[0] != 91.51 {
		t.Errorf("Go benchmark ns/op: %v", got)
	}
	if got := res.get("BenchmarkPath/append/8", "allocs/op"); len(got) != 1 || got[0] != 0 {
		t.Errorf("Go benchmark allocs/op: %v", got)
	}
	if got := res.get("c_path_openssl_8", "ns/op"); len(got) != 2 || got[0] != 80.67 || got[1] != 70 {
		t.Errorf("two rounds of a C figure, in order: %v", got)
	}
	if m, _ := res.median("c_path_openssl_8", "ns/op"); m < 75.33 || m > 75.34 {
		t.Errorf("median of two: %v", m)
	}
	if v, ok := quantile(res, "go_pingpong", "ns/roundtrip", 50); !ok || v != 300 {
		t.Errorf("quantile: %v %v", v, ok)
	}
	if res.why("cs_x") != "perf does not work here" {
		t.Errorf("n/a reason: %q", res.why("cs_x"))
	}
}

func TestUnstable(t *testing.T) {
	res := parsed(t, `a 10 ns/op
a 14 ns/op
b 10 ns/op
b 12.9 ns/op
n 10 handoffs
n 100 handoffs
a@p50 10 ns/op
a@p50 100 ns/op
c 5 ns/increment
c 9 ns/increment
`)
	got := res.unstable(regexp.MustCompile(`^(a|b|n)`))
	if len(got) != 1 || got[0] != "a ns/op" {
		t.Errorf("unstable = %q, want only \"a ns/op\" (b spreads 1.29×, n is a count, a@p50 a quantile, c not asked)", got)
	}
	if !res.bimodal("c", "ns/increment") || res.bimodal("b", "ns/op") {
		t.Error("bimodal: c (1.8×) must be, b (1.29×) must not")
	}
}

func TestRowCells(t *testing.T) {
	res := parsed(t, `o 10 ns/op
b 10 ns/op
o 11 ns/op
b 10 ns/op
o 9 ns/op
b 10 ns/op
o 8 allocs/op
o 8 allocs/op
o 8 allocs/op
lone 5 ns/op
w 4000000 ns
w 6000000 ns
w 4500000 ns
z 0 calls/op
z 0 calls/op
z0 0 calls/op
z0 0 calls/op
nz 0 calls/op
nz 1 calls/op
`)
	for _, c := range []struct {
		r                 row
		ratio, met, inOur string
	}{
		// Paired ratios 1.0, 1.1, 0.9: median 1.0, spread shown.
		{row{ours: ns("o"), base: ns("b"), maxRatio: 1.0}, "1.00 (0.90–1.10)", "yes (not in every round)", "10.0 ns (9.0 ns–11.0 ns)"},
		{row{ours: ns("o"), base: ns("b"), maxRatio: 0.95}, "1.00 (0.90–1.10)", "**no** (not in every round)", ""},
		{row{ours: ns("o"), base: ns("b"), maxRatio: 2, zeroAllocs: true}, "", "**no**", ""},
		{row{ours: ns("o"), base: ns("b"), maxRatio: 2}, "", "yes", ""},
		// Sample counts differ: the ratio of the medians, no spread.
		{row{ours: ns("o"), base: ns("lone")}, "2.00", "—", ""},
		{row{ours: ns("missing"), base: ns("b"), maxRatio: 1}, "—", "n/a", "n/a: not measured"},
		// Ours must be 0 (issue 13's system calls): the ratio has no
		// meaning when the baseline is 0 too.
		{row{ours: metric{"z", "calls/op"}, base: metric{"z0", "calls/op"}, zeroOurs: true}, "—", "yes", "0 calls/op"},
		{row{ours: metric{"nz", "calls/op"}, base: metric{"z0", "calls/op"}, zeroOurs: true}, "", "**no** (not in every round)", ""},
		// A goal on ours alone (issue 10's longest wait).
		{row{ours: nsTotal("w"), base: nsTotal("w"), maxOurs: 5e6}, "", "yes (not in every round) ⚠", "4.5 ms (4.0 ms–6.0 ms) ⚠ bimodal"},
	} {
		ours, _, ratio, met := c.r.cells(res)
		if c.ratio != "" && ratio != c.ratio {
			t.Errorf("%+v: ratio %q, want %q", c.r, ratio, c.ratio)
		}
		if met != c.met {
			t.Errorf("%+v: met %q, want %q", c.r, met, c.met)
		}
		if c.inOur != "" && !strings.HasPrefix(ours, c.inOur) {
			t.Errorf("%+v: ours %q, want it to start with %q", c.r, ours, c.inOur)
		}
	}
}

func TestHuman(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{7.57, "ns/op", "7.6 ns"},
		{1234, "ns/op", "1.23 µs"},
		{25e6, "ns", "25.0 ms"},
		{1974, "ms/op", "1.97 s"},
		{5900, "handoffs", "5900 handoffs"},
		{440000, "increments", "440k increments"},
		{2.5e6, "increments", "2.5 M increments"},
		{0.18, "switches/roundtrip", "0.18 switches/roundtrip"},
	} {
		if got := human(c.v, c.unit); got != c.want {
			t.Errorf("human(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}

// sample is a plausible results file of two rounds with every kind of
// figure the pictures and tables use.
func sample() string {
	var b strings.Builder
	for r := range 2 {
		f := float64(r + 1)
		for _, p := range contentionProcs {
			for i, c := range contenders {
				base := []float64{7, 6, 25, 1300}[i]
				k := c.key + "_" + strconv.Itoa(p) + "p"
				b.WriteString(k + " " + strconv.FormatFloat(base*(1+0.1*f)*float64(p+1)/2, 'f', 2, 64) + " ns/increment\n")
				b.WriteString(k + "_handoffs " + strconv.Itoa(100*p) + " handoffs\n")
				b.WriteString(k + "_streak_mean 300 increments\n")
				b.WriteString(k + "_streak_max 400000 increments\n")
				b.WriteString(k + "_wait_max 3000000 ns\n")
			}
		}
		for i, d := range distributions {
			for _, q := range []float64{0, 1, 10, 50, 90, 99, 99.9, 100} {
				v := float64(100*(i+1)) * (1 + q/10) * f
				b.WriteString(d.key + "@p" + strconv.FormatFloat(q, 'g', -1, 64) + " " + strconv.FormatFloat(v, 'f', 1, 64) + " " + d.unit + "\n")
			}
		}
		b.WriteString("go_pingpong " + strconv.FormatFloat(300*f, 'f', 1, 64) + " ns/roundtrip\n")
		b.WriteString("c_lock_pingpong 250 ns/roundtrip\n")
	}
	return b.String()
}

func TestRender(t *testing.T) {
	res := parsed(t, sample()+"x 1 ns/op\nx 2 ns/op\n")
	var b strings.Builder
	render(&b, res, machine{cpu: "CPU"}, report{notes: []byte("## Notes\n"), runs: []byte("| runs |\n"), pics: []picture{{"out/contention.svg", "alt text"}}})
	out := b.String()
	for _, want := range []string{
		"| **" + secPath + "** |", "| **" + secHandoff + "** |",
		"| 2 | lock.Mutex | 12.1 ns | 200 | 300 | 400k | 3.0 ms (max 3.0 ms) |", // 7 ns × (1.1 or 1.2) × 1.5
		"ping-pong round trip: lock.Mutex |",
		"## Consecutive runs", "| runs |",
		"![alt text](out/contention.svg)",
		"## Notes",
		"| x | ns/op | 1.5 | 1–2 ⚠ | 2 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out, "go_pingpong@p50 |") {
		t.Error("quantiles belong in the latency table, not in All samples")
	}
}

// svgPoints checks that an SVG is well-formed XML and returns every
// coordinate it draws at, by attribute name.
func svgPoints(t *testing.T, text string) (w, h float64, xs, ys []float64, texts []string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(text))
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("bad number %q", s)
		}
		return v
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			for _, a := range e.Attr {
				switch {
				case e.Name.Local == "svg" && a.Name.Local == "width":
					w = num(a.Value)
				case e.Name.Local == "svg" && a.Name.Local == "height":
					h = num(a.Value)
				case a.Name.Local == "x" || a.Name.Local == "x1" || a.Name.Local == "x2" || a.Name.Local == "cx":
					xs = append(xs, num(a.Value))
				case a.Name.Local == "y" || a.Name.Local == "y1" || a.Name.Local == "y2" || a.Name.Local == "cy":
					ys = append(ys, num(a.Value))
				case a.Name.Local == "points":
					for _, p := range strings.Fields(a.Value) {
						x, y, _ := strings.Cut(p, ",")
						xs, ys = append(xs, num(x)), append(ys, num(y))
					}
				}
			}
		case xml.CharData:
			if s := strings.TrimSpace(string(e)); s != "" {
				texts = append(texts, s)
			}
		}
	}
	return w, h, xs, ys, texts
}

func TestPictures(t *testing.T) {
	dir := t.TempDir()
	res := parsed(t, sample())
	pics, err := writePictures(res, filepath.Join(dir, "out"), filepath.Join(dir, "BENCHMARKS.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pics) != 2 || pics[0].path != "out/contention.svg" || pics[1].path != "out/latency.svg" {
		t.Fatalf("pictures %+v, want out/contention.svg and out/latency.svg", pics)
	}
	for _, p := range pics {
		b, err := os.ReadFile(filepath.Join(dir, p.path))
		if err != nil {
			t.Fatal(err)
		}
		w, h, xs, ys, texts := svgPoints(t, string(b))
		if w == 0 || h == 0 || len(xs) == 0 {
			t.Fatalf("%s: size %vx%v, %d coordinates", p.path, w, h, len(xs))
		}
		for _, x := range xs {
			if x < 0 || x > w {
				t.Errorf("%s: x = %v outside the picture (width %v)", p.path, x, w)
			}
		}
		for _, y := range ys {
			if y < 0 || y > h {
				t.Errorf("%s: y = %v outside the picture (height %v)", p.path, y, h)
			}
		}
		all := strings.Join(texts, "\n")
		for _, want := range []string{"lock.Mutex"} {
			if !strings.Contains(all, want) {
				t.Errorf("%s: no label %q", p.path, want)
			}
		}
	}
	// No data, no picture.
	pics, err = writePictures(newResults(), filepath.Join(dir, "none"), "-")
	if err != nil || len(pics) != 0 {
		t.Errorf("pictures of nothing: %v, %v", pics, err)
	}
}

func TestRuns(t *testing.T) {
	runA := parsed(t, "BenchmarkLock/ours 5 ns/op\nBenchmarkLock/ours 0 allocs/op\nc_cas64_uncontended 5 ns/op\n")
	runB := parsed(t, "BenchmarkLock/ours 6 ns/op\nBenchmarkLock/ours 0 allocs/op\nc_cas64_uncontended 5 ns/op\n")
	out := renderRuns([]*results{runA, runA}, []string{"r1.txt", "r2.txt"})
	same := "| lock.Mutex Lock+Unlock (64-bit word, New64) vs strongest C: the same two 64-bit CASes (bench/c/lockword.h), the same loop shape (issue 22: ≤ 1.1) | ≤ 1.1, 0 allocs | 1.00: yes | 1.00: yes | yes | 1.00 |"
	if !strings.Contains(out, same) {
		t.Errorf("runs table lacks\n%s\nin\n%s", same, out)
	}
	out = renderRuns([]*results{runA, runB}, []string{"r1.txt", "r2.txt"})
	if !strings.Contains(out, "| 1.00: yes | 1.20: **no** | **no** | 1.20 |") {
		t.Errorf("a goal missed in one run must say so:\n%s", out)
	}
}
