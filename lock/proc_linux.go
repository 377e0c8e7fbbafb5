//go:build linux && !openbsdsim

package lock

import (
	"bytes"
	"os"
	"strconv"
)

// procStat returns the state letter and start time (clock ticks after
// boot) of a process from /proc/PID/stat; ok is false if unavailable.
func procStat(pid int) (state byte, start uint64, ok bool) {
	return readStat("/proc/" + strconv.Itoa(pid) + "/stat")
}

// selfStart is this process's start time. /proc/self resolves in the PID
// namespace of the /proc mount, so it names this process even where
// /proc/PID would not (a PID namespace without its own /proc).
func selfStart() (start uint64, ok bool) {
	_, start, ok = readStat("/proc/self/stat")
	return start, ok
}

func readStat(path string) (state byte, start uint64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	return parseStat(b)
}

// parseStat parses a /proc/PID/stat line. The command name (field 2) is in
// parentheses and may itself contain spaces and ')', so fields are counted
// from the last ')'.
func parseStat(b []byte) (state byte, start uint64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, false
	}
	start, err := strconv.ParseUint(string(f[19]), 10, 64) // field 22
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], start, true
}
