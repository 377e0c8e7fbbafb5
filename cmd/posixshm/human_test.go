package main

import "testing"

// TestHumanSize: sizes read as ls -h (GNU coreutils: numfmt --to=iec
// --round=up gives the same) shows them.
func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 832: "832", 1023: "1023", 1024: "1.0K", 1025: "1.1K", 4928: "4.9K",
		10239: "10K", 10240: "10K", 10241: "11K", 1048575: "1.0M", 1048576: "1.0M",
		2097984: "2.1M", 1044480: "1020K", 25275695104: "24G",
		1 << 60: "1.0E", 1<<63 - 1: "8.0E",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
