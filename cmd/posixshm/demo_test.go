package main

import (
	"strings"
	"testing"
	"time"
)

// TestCountingPhase: demo's time runs from the earliest first increment
// to the latest last one, as the workers report them, and nothing else.
func TestCountingPhase(t *testing.T) {
	w := func(s string) []string { return strings.Fields(s) }
	got, err := countingPhase([][]string{w("done 1000 5000"), w("done 1500 7000"), w("done 900 2000")})
	if err != nil || got != 6100*time.Nanosecond {
		t.Errorf("countingPhase = %v, %v; want 6.1µs", got, err)
	}
	for _, bad := range []string{"done", "done 5 x", "done 9 3", "done 1 2 3"} {
		if _, err := countingPhase([][]string{w(bad)}); err == nil {
			t.Errorf("countingPhase(%q): no error", bad)
		}
	}
}
