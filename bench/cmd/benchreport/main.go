// Command benchreport turns the raw output of bench/run into BENCHMARKS.md:
// the medians and spreads of every figure, the comparison table with its
// goals, the contention and latency tables, the pictures (SVG), the
// machine, and the hand-written notes in bench/NOTES.md.
//
// Input lines (any mix, from files named on the command line):
//
//	BenchmarkX/y-2   1000   123.4 ns/op   0 B/op   0 allocs/op   (go test -bench)
//	key value unit                                               (bench/c, benchproc, bench/run)
//	key@pQ value unit                                            (quantile Q of a distribution)
//	key n/a reason...                                            (a figure that could not be measured)
//
// Usage:
//
//	benchreport -o BENCHMARKS.md -notes bench/NOTES.md -svg DIR -cpu MODEL ... results...
//	benchreport -unstable REGEXP results...   print the timing figures matching REGEXP whose
//	                                          samples are bimodal (bench/run reruns their section)
//	benchreport -runs results1 results2...    one table of every goal's ratio across runs
//	                                          (-runtable FILE shows it in the report)
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

// machine describes where the figures were taken.
type machine struct {
	cpu, cores, kernel, goVersion, date, extra string
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	out := fs.String("o", "BENCHMARKS.md", "output file (- for stdout)")
	notes := fs.String("notes", "", "markdown appended after the tables")
	svgDir := fs.String("svg", "", "write the pictures into this `directory` and show them (relative to the output file)")
	unstable := fs.String("unstable", "", "only print the timing figures matching this `regexp` whose samples are bimodal")
	runs := fs.Bool("runs", false, "each file is one run: print the goals' ratios of every run")
	runTable := fs.String("runtable", "", "a `file` made by -runs, shown after the main table")
	var m machine
	fs.StringVar(&m.cpu, "cpu", "unknown", "CPU model")
	fs.StringVar(&m.cores, "cores", "?", "number of cores")
	fs.StringVar(&m.kernel, "kernel", "?", "kernel release")
	fs.StringVar(&m.goVersion, "go", "?", "Go version")
	fs.StringVar(&m.date, "date", "?", "date of the run")
	fs.StringVar(&m.extra, "extra", "", "more about the machine (load, ...)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runs {
		var all []*results
		for _, name := range fs.Args() {
			res, err := load(name)
			if err != nil {
				return err
			}
			all = append(all, res)
		}
		return writeOut(*out, stdout, renderRuns(all, fs.Args()))
	}
	res := newResults()
	for _, name := range fs.Args() {
		r, err := load(name)
		if err != nil {
			return err
		}
		res.merge(r)
	}
	if *unstable != "" {
		re, err := regexp.Compile(*unstable)
		if err != nil {
			return err
		}
		for _, id := range res.unstable(re) {
			fmt.Fprintln(stdout, id)
		}
		return nil
	}
	var notesText []byte
	if *notes != "" {
		var err error
		if notesText, err = os.ReadFile(*notes); err != nil {
			return err
		}
	}
	var runsText []byte
	if *runTable != "" {
		var err error
		if runsText, err = os.ReadFile(*runTable); err != nil {
			return err
		}
	}
	var pics []picture
	if *svgDir != "" {
		var err error
		if pics, err = writePictures(res, *svgDir, *out); err != nil {
			return err
		}
	}
	var b strings.Builder
	render(&b, res, m, report{notes: notesText, runs: runsText, pics: pics})
	return writeOut(*out, stdout, b.String())
}

func writeOut(name string, stdout io.Writer, text string) error {
	if name == "-" {
		_, err := io.WriteString(stdout, text)
		return err
	}
	return os.WriteFile(name, []byte(text), 0o644)
}

func load(name string) (*results, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res := newResults()
	if err := res.parse(f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return res, nil
}

// results holds every sample by metric ("key unit"), in the order of the
// rounds, and the reasons for figures that could not be measured.
type results struct {
	samples map[string][]float64
	na      map[string]string
	order   []string
}

func newResults() *results {
	return &results{samples: map[string][]float64{}, na: map[string]string{}}
}

var procSuffix = regexp.MustCompile(`-\d+$`)

func (r *results) add(key, unit string, v float64) {
	id := key + " " + unit
	if _, ok := r.samples[id]; !ok {
		r.order = append(r.order, id)
	}
	r.samples[id] = append(r.samples[id], v)
}

func (r *results) merge(o *results) {
	for _, id := range o.order {
		key, unit, _ := strings.Cut(id, " ")
		for _, v := range o.samples[id] {
			r.add(key, unit, v)
		}
	}
	for k, v := range o.na {
		r.na[k] = v
	}
}

func (r *results) parse(rd io.Reader) error {
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0:
		case strings.HasPrefix(f[0], "Benchmark") && len(f) >= 4:
			// name iterations (value unit)...
			key := procSuffix.ReplaceAllString(f[0], "")
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					break
				}
				r.add(key, f[i+1], v)
			}
		case len(f) >= 2 && f[1] == "n/a":
			r.na[f[0]] = strings.Join(f[2:], " ")
		case len(f) == 3:
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				continue // not a figure: some tool's chatter
			}
			r.add(f[0], f[2], v)
		}
	}
	return sc.Err()
}

// get returns the samples of key in unit, in the order they were taken.
func (r *results) get(key, unit string) []float64 { return r.samples[key+" "+unit] }

// median returns the median of the samples of key in unit.
func (r *results) median(key, unit string) (float64, bool) {
	return median(r.get(key, unit))
}

func median(s []float64) (float64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	s = append([]float64(nil), s...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

func minMax(s []float64) (lo, hi float64) {
	for i, v := range s {
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi
}

// bimodalRatio is the spread (max/min of a figure's samples) above which
// bench/run reruns the figure's section and the report flags it: the
// samples then come from two speeds, and their median from whichever
// happened more often.
const bimodalRatio = 1.3

// bimodal reports whether the samples of key in unit spread more than
// bimodalRatio.
func (r *results) bimodal(key, unit string) bool {
	lo, hi := minMax(r.get(key, unit))
	return lo > 0 && hi/lo > bimodalRatio
}

// timing reports whether unit is a time per something, the figures whose
// spread decides a rerun (counts, such as handoffs or streaks, vary by
// nature).
func timing(unit string) bool {
	return strings.HasPrefix(unit, "ns/") || strings.HasPrefix(unit, "ms/")
}

// unstable returns the timing figures ("key unit") whose key matches re and
// whose samples are bimodal, distributions' quantiles excepted.
func (r *results) unstable(re *regexp.Regexp) []string {
	var out []string
	for _, id := range r.order {
		key, unit, _ := strings.Cut(id, " ")
		if timing(unit) && !strings.Contains(key, "@") && re.MatchString(key) && r.bimodal(key, unit) {
			out = append(out, id)
		}
	}
	return out
}

// why tells why key has no value.
func (r *results) why(key string) string {
	if reason, ok := r.na[key]; ok {
		return reason
	}
	return "not measured (no output; see bench/run's log)"
}
