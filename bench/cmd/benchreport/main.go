// Command benchreport turns the raw output of bench/run into BENCHMARKS.md:
// the medians of every figure, one comparison table with targets, the
// machine, and the hand-written notes in bench/NOTES.md.
//
// Input lines (any mix, from files named on the command line):
//
//	BenchmarkX/y-2   1000   123.4 ns/op   0 B/op   0 allocs/op   (go test -bench)
//	key value unit                                               (bench/c, benchproc, bench/run)
//	key n/a reason...                                            (a figure that could not be measured)
//
// Usage:
//
//	benchreport -o BENCHMARKS.md -notes bench/NOTES.md -cpu MODEL -cores N -kernel R -go V -date D results...
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
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

// machine describes where the figures were taken.
type machine struct {
	cpu, cores, kernel, goVersion, date, extra string
}

func run(args []string) error {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	out := fs.String("o", "BENCHMARKS.md", "output file (- for stdout)")
	notes := fs.String("notes", "", "markdown appended after the table")
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
	res := newResults()
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = res.parse(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	var notesText []byte
	if *notes != "" {
		var err error
		if notesText, err = os.ReadFile(*notes); err != nil {
			return err
		}
	}
	var b strings.Builder
	render(&b, res, m, notesText)
	if *out == "-" {
		_, err := io.WriteString(os.Stdout, b.String())
		return err
	}
	return os.WriteFile(*out, []byte(b.String()), 0o644)
}

// results holds every sample by metric ("key unit") and the reasons for
// figures that could not be measured.
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

// median returns the median of the samples of key in unit.
func (r *results) median(key, unit string) (float64, bool) {
	s := r.samples[key+" "+unit]
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

// why tells why key has no value.
func (r *results) why(key string) string {
	if reason, ok := r.na[key]; ok {
		return reason
	}
	return "not measured (no output; see bench/run's log)"
}
