//go:build !linux || openbsdsim

package lock

import (
	"os"
	"testing"
)

// Without /proc (OpenBSD, and the openbsdsim build on Linux) there is no
// start time: the default identity is the PID alone, and a zombie or a
// reused PID cannot be told from its first owner (doc.go says so).
func TestProcStat_Unavailable(t *testing.T) {
	if _, _, ok := procStat(os.Getpid()); ok {
		t.Error("procStat(self) ok on a build without /proc glue")
	}
	if _, ok := selfStart(); ok {
		t.Error("selfStart ok on a build without /proc glue")
	}
	if got := defaultIdentity().Self(); got.Tag != uint32(os.Getpid()) || got.Stamp != 0 {
		t.Errorf("default identity %+v, want pid %d stamp 0", got, os.Getpid())
	}
}
