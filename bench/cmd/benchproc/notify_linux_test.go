//go:build linux && !openbsdsim

package main

import "testing"

// TestProdcons: the consumer checks every item's number (a lost, repeated
// or reordered item fails the run); the figure is a rate.
func TestProdcons(t *testing.T) {
	f := figures(t, "prodcons", "-n", "20000")
	if len(f) != 1 || f["go_prodcons"] <= 0 {
		t.Errorf("prodcons printed %v, want go_prodcons > 0", f)
	}
}
