package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// TestTruncatedMessages: a segment's file truncated under lock and wait
// gives one message that names the file and the problem once. On main the
// library's error, which already reads "<op> NAME: FILE: ...", was put
// behind the command's own "lock NAME: ", giving "lock /w: lock /w: ..."
// for a waiter, "lock /w: unlock: unlock /w: ..." for the holder, and
// "wait /w: wait /w: ..." for posixshm wait.
func TestTruncatedMessages(t *testing.T) {
	dir := t.TempDir()
	d := posixshm.Dir(dir)
	path, err := d.Path("/w")
	if err != nil {
		t.Fatal(err)
	}
	create := func() {
		t.Helper()
		os.Remove(path)
		s, err := segment.Create("/w", 64, &segment.Options{Layout: d})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	// word reads the 32-bit word at off in the header, as the file has it.
	word := func(off int) uint32 {
		b := make([]byte, 4)
		f, err := os.Open(path)
		if err != nil {
			return 0
		}
		defer f.Close()
		if _, err := f.ReadAt(b, int64(off)); err != nil {
			return 0
		}
		return binary.NativeEndian.Uint32(b)
	}
	// whenSet truncates the file once one of bits is set in the word at
	// off: a process waits there. (A hang detector, not a time limit: it
	// truncates anyway after a minute, and says so.)
	whenSet := func(off int, bits uint32) {
		for end := time.Now().Add(time.Minute); word(off)&bits == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				t.Errorf("no waiter showed in the word at %d after a minute", off)
				break
			}
		}
		if err := os.Truncate(path, 0); err != nil {
			t.Error(err)
		}
	}
	check := func(what string, code int, stderr string) {
		t.Helper()
		t.Logf("%s: status %d: %s", what, code, stderr)
		if code != exitFail {
			t.Errorf("%s: status %d, want %d", what, code, exitFail)
		}
		if !strings.Contains(stderr, path) || !strings.Contains(stderr, "truncated") {
			t.Errorf("%s: %q does not name the file and the problem", what, stderr)
		}
		for _, twice := range []string{"lock /w: lock /w", "unlock: unlock", "wait /w: wait /w"} {
			if strings.Contains(stderr, twice) {
				t.Errorf("%s: %q says %q", what, stderr, twice)
			}
		}
	}
	runCmd := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, errb.String()
	}

	// The holder's CMD truncates the file: its Unlock fails.
	create()
	code, msg := runCmd("lock", "--dir", dir, "/w", "truncate", "-s", "0", path)
	check("holder", code, msg)

	// A waiter for the lock, the file truncated under it.
	create()
	s, err := segment.Open("/w", &segment.Options{Layout: d})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(); err != nil {
		t.Fatal(err)
	}
	// The lock word's waiters bit (futex(2) sleepers) or its starving bit
	// (set by any waiter after a millisecond, polling ones included: no
	// futex under openbsdsim).
	go whenSet(64, 1<<30|1<<31)
	code, msg = runCmd("lock", "--dir", dir, "/w", "true")
	s.Close()
	check("waiter", code, msg)

	// posixshm wait, the file truncated under it.
	create()
	go whenSet(128, 1<<31) // the notify word's waiters bit
	code, msg = runCmd("wait", "--dir", dir, "/w")
	check("wait", code, msg)
}
