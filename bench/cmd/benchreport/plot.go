package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// A picture is an SVG file written next to the report, and how the report
// shows it.
type picture struct{ path, alt string }

// writePictures draws the pictures that have data into dir and returns
// them with paths relative to the directory of the report out.
func writePictures(res *results, dir, out string) ([]picture, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var pics []picture
	for _, p := range []struct {
		file, alt string
		draw      func(*results) (string, bool)
	}{
		{"contention.svg", "cost per increment against the number of processes, for lock.Mutex, the same algorithm in C, the robust pthread mutex and flock", contentionSVG},
		{"latency.svg", "distributions of ping-pong round trips and of wake-ups of a sleeping waiter, lock.Mutex against C spin-then-futex and the sleeping futex", latencySVG},
	} {
		svg, ok := p.draw(res)
		if !ok {
			continue
		}
		path := filepath.Join(dir, p.file)
		if err := os.WriteFile(path, []byte(svg), 0o644); err != nil {
			return nil, err
		}
		rel := path
		if out != "-" {
			if r, err := filepath.Rel(filepath.Dir(out), path); err == nil {
				rel = r
			}
		}
		pics = append(pics, picture{filepath.ToSlash(rel), p.alt})
	}
	return pics, nil
}

// Colours (Okabe–Ito, distinguishable with the common colour blindnesses);
// ours is always the first, drawn thicker.
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00"}

// An axis maps values to pixels, linearly or on a log scale.
type axis struct {
	log      bool
	min, max float64 // values
	p0, p1   float64 // pixels
}

func (a axis) pos(v float64) float64 {
	if a.log {
		return a.p0 + (math.Log10(v)-math.Log10(a.min))/(math.Log10(a.max)-math.Log10(a.min))*(a.p1-a.p0)
	}
	return a.p0 + (v-a.min)/(a.max-a.min)*(a.p1-a.p0)
}

// logRange widens [lo, hi] to whole decades.
func logRange(lo, hi float64) (float64, float64) {
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	return lo, hi
}

// logTicks returns the ticks of a log axis: 1, 2 and 5 times the decades
// when it spans few decades, the decades alone otherwise.
func logTicks(lo, hi float64) (major, minor []float64) {
	decades := math.Log10(hi / lo)
	for d := lo; d <= hi*1.0001; d *= 10 {
		major = append(major, d)
		for _, m := range []float64{2, 5} {
			if d*m < hi {
				if decades <= 3 {
					major = append(major, d*m)
				} else {
					minor = append(minor, d*m)
				}
			}
		}
	}
	return major, minor
}

// svg builds a document.
type svg struct {
	b    strings.Builder
	w, h float64
}

func newSVG(w, h float64, title string) *svg {
	s := &svg{w: w, h: h}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="Helvetica, Arial, sans-serif" font-size="13">`+"\n", w, h, w, h)
	fmt.Fprintf(&s.b, "<title>%s</title>\n", html.EscapeString(title))
	fmt.Fprintf(&s.b, `<rect width="%g" height="%g" fill="#ffffff"/>`+"\n", w, h)
	return s
}

func (s *svg) text(x, y float64, anchor, style, t string) {
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="%s" %s>%s</text>`+"\n", x, y, anchor, style, html.EscapeString(t))
}

func (s *svg) line(x1, y1, x2, y2 float64, style string) {
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" %s/>`+"\n", x1, y1, x2, y2, style)
}

func (s *svg) polyline(pts [][2]float64, style string) {
	var p []string
	for _, pt := range pts {
		p = append(p, fmt.Sprintf("%.1f,%.1f", pt[0], pt[1]))
	}
	fmt.Fprintf(&s.b, `<polyline points="%s" fill="none" %s/>`+"\n", strings.Join(p, " "), style)
}

func (s *svg) String() string { return s.b.String() + "</svg>\n" }

// A plot is one panel: a frame with axes, grid and labels.
type plot struct {
	x, y           axis
	xLabel, yLabel string
	xTick, yTick   func(float64) string
	xTicks, yTicks []float64
	xMinor, yMinor []float64
}

const gridStyle = `stroke="#e3e3e3" stroke-width="1"`

func (p plot) draw(s *svg) {
	top, bottom := p.y.p1, p.y.p0
	left, right := p.x.p0, p.x.p1
	for _, v := range p.yMinor {
		s.line(left, p.y.pos(v), right, p.y.pos(v), `stroke="#f2f2f2" stroke-width="1"`)
	}
	for _, v := range p.xMinor {
		s.line(p.x.pos(v), top, p.x.pos(v), bottom, `stroke="#f2f2f2" stroke-width="1"`)
	}
	for _, v := range p.yTicks {
		y := p.y.pos(v)
		s.line(left, y, right, y, gridStyle)
		s.text(left-8, y+4, "end", `fill="#444"`, p.yTick(v))
	}
	for _, v := range p.xTicks {
		x := p.x.pos(v)
		s.line(x, top, x, bottom, gridStyle)
		s.text(x, bottom+18, "middle", `fill="#444"`, p.xTick(v))
	}
	s.line(left, bottom, right, bottom, `stroke="#888" stroke-width="1"`)
	s.line(left, top, left, bottom, `stroke="#888" stroke-width="1"`)
	s.text((left+right)/2, bottom+40, "middle", `fill="#222"`, p.xLabel)
	fmt.Fprintf(&s.b, `<text transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle" fill="#222">%s</text>`+"\n",
		left-62, (top+bottom)/2, html.EscapeString(p.yLabel))
}

// seriesStyle is the colour and line width of series i: ours (the first)
// drawn thicker.
func seriesStyle(i int) (colour string, width float64) {
	if i == 0 {
		return palette[0], 3.5
	}
	return palette[i%len(palette)], 2
}

// legend draws the labels of series 0, 1... in a column from (x, y).
func legend(s *svg, x, y float64, labels []string) {
	for i, l := range labels {
		yy := y + float64(i)*20
		col, width := seriesStyle(i)
		s.line(x, yy-4, x+22, yy-4, fmt.Sprintf(`stroke="%s" stroke-width="%g"`, col, width))
		s.text(x+28, yy, "start", `fill="#222"`, l)
	}
}

func durationTick(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%g ms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%g µs", v/1e3)
	}
	return fmt.Sprintf("%g ns", v)
}

// contentionSVG: ns per increment (log) against processes, one line per
// lock, with the spread of the rounds as whiskers.
func contentionSVG(res *results) (string, bool) {
	type point struct{ p, med, lo, hi float64 }
	var series [][]point
	var names []string
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range contenders {
		var pts []point
		for _, p := range contentionProcs {
			s := res.get(fmt.Sprintf("%s_%dp", c.key, p), "ns/increment")
			m, ok := median(s)
			if !ok || m <= 0 {
				continue
			}
			l, h := minMax(s)
			pts = append(pts, point{float64(p), m, l, h})
			lo, hi = math.Min(lo, l), math.Max(hi, h)
		}
		if len(pts) > 0 {
			series = append(series, pts)
			names = append(names, c.name)
		}
	}
	if len(series) == 0 {
		return "", false
	}
	const w, h = 760.0, 460.0
	s := newSVG(w, h, "Cost per increment under contention")
	s.text(24, 30, "start", `font-size="17" font-weight="bold" fill="#111"`, "Cost per increment under contention")
	s.text(24, 50, "start", `fill="#555"`, "P processes each increment one shared counter under the lock; wall time ÷ all increments. Lower is better.")
	ymin, ymax := logRange(lo, hi)
	major, minor := logTicks(ymin, ymax)
	p := plot{
		x:      axis{log: true, min: 0.8, max: 10, p0: 100, p1: 500},
		y:      axis{log: true, min: ymin, max: ymax, p0: h - 70, p1: 80},
		xLabel: "processes", yLabel: "time per increment (log scale)",
		xTick: func(v float64) string { return fmt.Sprint(v) }, yTick: durationTick,
		xTicks: []float64{1, 2, 4, 8}, yTicks: major, yMinor: minor,
	}
	p.draw(s)
	var entries []string
	for i, pts := range series {
		col, width := seriesStyle(i)
		// Each lock's points a few pixels aside from the others', so
		// that whiskers at the same number of processes do not hide
		// each other.
		dodge := (float64(i) - float64(len(series)-1)/2) * 7
		var line [][2]float64
		for _, pt := range pts {
			x := p.x.pos(pt.p) + dodge
			line = append(line, [2]float64{x, p.y.pos(pt.med)})
			if pt.hi > pt.lo {
				s.line(x, p.y.pos(pt.lo), x, p.y.pos(pt.hi), fmt.Sprintf(`stroke="%s" stroke-width="1.5" opacity="0.7"`, col))
			}
		}
		s.polyline(line, fmt.Sprintf(`stroke="%s" stroke-width="%g" stroke-linejoin="round"`, col, width))
		for _, pt := range line {
			fmt.Fprintf(&s.b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s" stroke="#fff" stroke-width="1"/>`+"\n", pt[0], pt[1], col)
		}
		entries = append(entries, names[i])
	}
	legend(s, 530, 100, entries)
	s.text(530, 100+float64(len(entries))*20+12, "start", `fill="#666" font-size="12"`, "dot: median of the rounds;")
	s.text(530, 100+float64(len(entries))*20+28, "start", `fill="#666" font-size="12"`, "bar: their min–max")
	return s.String(), true
}

// latencySVG: two panels of cumulative distributions (log time axis): the
// ping-pong round trip, and the wake-up of a sleeping waiter.
func latencySVG(res *results) (string, bool) {
	panels := []struct {
		title, unit string
		keys        []string
		names       []string
	}{
		{"Ping-pong round trip (two handoffs)", "ns/roundtrip",
			[]string{"go_pingpong", "c_lock_pingpong", "c_futex_pingpong"},
			[]string{"lock.Mutex", "C spin-then-futex (same algorithm)", "C always-sleeping futex"}},
		{"Wake-up of a sleeping waiter on the other CPU", "ns/wake",
			[]string{"go_wake_cross", "c_lock_wake_cross", "c_futex_wake_cross"},
			[]string{"lock.Mutex", "C same algorithm", "C raw futex"}},
	}
	const w, h = 980.0, 500.0
	s := newSVG(w, h, "Handoff and wake-up latency")
	s.text(24, 30, "start", `font-size="17" font-weight="bold" fill="#111"`, "Handoff and wake-up latency: how often each latency is not exceeded")
	s.text(24, 50, "start", `fill="#555"`, "Each line is a cumulative distribution (median of the rounds' quantiles). Further left is faster; a line that rises late has a slow tail.")
	drawn := false
	for i, pn := range panels {
		type curve struct {
			pts  [][2]float64 // value, percent
			name string
		}
		var curves []curve
		lo, hi := math.Inf(1), math.Inf(-1)
		for j, k := range pn.keys {
			var pts [][2]float64
			for _, pt := range distribution(res, k, pn.unit) {
				if pt[0] <= 0 {
					continue
				}
				pts = append(pts, pt)
				lo, hi = math.Min(lo, pt[0]), math.Max(hi, pt[0])
			}
			if len(pts) > 1 {
				curves = append(curves, curve{pts, pn.names[j]})
			}
		}
		if len(curves) == 0 {
			continue
		}
		drawn = true
		x0 := 100 + float64(i)*(w/2)
		xmin, xmax := logRange(lo, hi)
		major, minor := logTicks(xmin, xmax)
		p := plot{
			x:      axis{log: true, min: xmin, max: xmax, p0: x0, p1: x0 + w/2 - 140},
			y:      axis{min: 0, max: 100, p0: h - 150, p1: 90},
			xLabel: "latency (log scale)", yLabel: "% of samples at or below",
			xTick: durationTick, yTick: func(v float64) string { return fmt.Sprintf("%g%%", v) },
			xTicks: major, xMinor: minor, yTicks: []float64{0, 25, 50, 75, 100},
		}
		s.text(x0, 80, "start", `font-size="14" font-weight="bold" fill="#222"`, pn.title)
		p.draw(s)
		var entries []string
		for j, c := range curves {
			col, width := seriesStyle(j)
			var line [][2]float64
			for _, pt := range c.pts {
				line = append(line, [2]float64{p.x.pos(pt[0]), p.y.pos(pt[1])})
			}
			s.polyline(line, fmt.Sprintf(`stroke="%s" stroke-width="%g" stroke-linejoin="round"`, col, width))
			entries = append(entries, c.name)
		}
		legend(s, x0, h-80, entries)
	}
	return s.String(), drawn
}
