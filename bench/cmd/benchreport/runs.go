package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// renderRuns is the table of several runs of bench/run, one results file
// each: for every row with a goal, its ratio (the median of the run's
// rounds) in each run, whether every run met the goal, and how far the
// runs are apart. A claim that holds in every run, with its spread, is
// what the README may quote.
func renderRuns(all []*results, names []string) string {
	var w strings.Builder
	fmt.Fprintf(&w, "| what it measures | goal |")
	for i, n := range names {
		fmt.Fprintf(&w, " run %d (%s) |", i+1, filepath.Base(n))
	}
	fmt.Fprintf(&w, " met in every run? | spread (max/min) |\n|---|---|%s---|---|\n", strings.Repeat("---|", len(names)))
	section := ""
	for _, r := range rows {
		if r.maxRatio == 0 && r.maxOurs == 0 {
			continue
		}
		if r.section != section {
			section = r.section
			fmt.Fprintf(&w, "| **%s** | |%s | |\n", section, strings.Repeat(" |", len(names)))
		}
		fmt.Fprintf(&w, "| %s | %s |", cell(r.figure), r.goal())
		every, measured := true, 0
		var vals []float64
		for _, res := range all {
			_, _, ratio, met := r.cells(res)
			v, ok := runValue(res, r)
			if !ok {
				fmt.Fprintf(&w, " n/a |")
				every = false
				continue
			}
			measured++
			vals = append(vals, v)
			shown := ratio
			if r.maxRatio == 0 {
				shown = human(v, r.ours.unit)
			}
			fmt.Fprintf(&w, " %s: %s |", shown, met)
			every = every && strings.HasPrefix(met, "yes")
		}
		lo, hi := minMax(vals)
		spread := "—"
		if measured > 1 && lo > 0 {
			spread = fmt.Sprintf("%.2f", hi/lo)
		}
		yes := "**no**"
		if every && measured == len(all) {
			yes = "yes"
		}
		fmt.Fprintf(&w, " %s | %s |\n", yes, spread)
	}
	return w.String()
}

// runValue is what a run says about a row's goal: the median ratio, or
// ours alone for a goal on ours.
func runValue(res *results, r row) (float64, bool) {
	if r.maxRatio == 0 {
		return res.median(r.ours.key, r.ours.unit)
	}
	return median(ratios(res, r.ours, r.base))
}
