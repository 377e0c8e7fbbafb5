package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestLinuxDev: the device numbers of /proc/PID/maps, encoded as stat(2)
// reports them.
func TestLinuxDev(t *testing.T) {
	for _, d := range [][2]uint32{{0, 0}, {0, 0x1a}, {8, 1}, {0xfd, 1}, {0x103, 0xa}, {0xfff, 0xff}, {0x1000, 0x100}, {0xfffff, 0xfffff}} {
		if got, want := linuxDev(uint64(d[0]), uint64(d[1])), unix.Mkdev(d[0], d[1]); got != want {
			t.Errorf("linuxDev(%#x, %#x) = %#x, want %#x", d[0], d[1], got, want)
		}
	}
}
