//go:build linux && !openbsdsim

package main

import "testing"

func TestCondWake(t *testing.T) {
	for cmd, key := range map[string]string{"condwake": "go_cond_wake", "condwake-futex": "go_futex_condwake"} {
		f := figures(t, cmd, "-n", "20")
		checkDistribution(t, f, key)
		if m := f[key]; m < f[key+"@p0"] || m > f[key+"@p100"] {
			t.Errorf("%s: median %v outside [%v, %v]", cmd, m, f[key+"@p0"], f[key+"@p100"])
		}
	}
}

// TestProdcons: the consumer checks every item's number (a lost, repeated
// or reordered item fails the run); the figure is a rate.
func TestProdcons(t *testing.T) {
	f := figures(t, "prodcons", "-n", "20000")
	if len(f) != 1 || f["go_prodcons"] <= 0 {
		t.Errorf("prodcons printed %v, want go_prodcons > 0", f)
	}
}
