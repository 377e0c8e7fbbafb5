//go:build linux && !openbsdsim

package lock

import (
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	tail := " 1 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n"
	for _, tc := range []struct {
		line  string
		state byte
		ok    bool
	}{
		{"42 (sleep) S" + tail, 'S', true},
		{"42 (a) b) Z (c) Z" + tail, 'Z', true}, // comm may contain ") Z ("
		{"42 (x y) R" + tail, 'R', true},
		{"42 (sleep) S 1 2 3", 0, false},
		{"garbage", 0, false},
		{"", 0, false},
	} {
		state, start, ok := parseStat([]byte(tc.line))
		if ok != tc.ok || state != tc.state || (ok && start != 987654) {
			t.Errorf("parseStat(%q) = %c, %d, %v", tc.line, state, start, ok)
		}
	}
	if state, _, ok := procStat(os.Getpid()); !ok || state == 'Z' {
		t.Errorf("procStat(self) = %c, %v", state, ok)
	}
	_, s1, ok1 := procStat(os.Getpid())
	s2, ok2 := selfStart()
	if !ok1 || !ok2 || s1 != s2 {
		t.Errorf("start time: /proc/PID %d %v, /proc/self %d %v", s1, ok1, s2, ok2)
	}
	if got := defaultIdentity().Self(); got.Tag != uint32(os.Getpid()) || got.Stamp != stampOf(s1) {
		t.Errorf("default identity %+v, want pid %d stamp %d", got, os.Getpid(), stampOf(s1))
	}
}
