package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// Helper programs for the tests: processes that use an object until they
// are killed.

// shmholdMain is the program "shmhold DIR NAME READY [create]": it opens
// the segment NAME (OpenBSD's layout in DIR; "-" for this system's
// convention), creating it with "create", writes its PID to the file
// READY, and stays attached until it is killed.
func shmholdMain() int {
	a := os.Args[1:]
	if len(a) != 3 && !(len(a) == 4 && a[3] == "create") {
		fmt.Fprintln(os.Stderr, "usage: shmhold DIR NAME READY [create]")
		return 2
	}
	opts := &segment.Options{}
	if a[0] != "-" {
		opts.Layout = posixshm.Dir(a[0])
	}
	var s *segment.Segment
	var err error
	if len(a) == 4 {
		s, err = segment.Create(a[1], 64, opts)
	} else {
		s, err = segment.Open(a[1], opts)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shmhold:", err)
		return 1
	}
	defer s.Close()
	return ready(a[2])
}

// plainholdMain is the program "plainhold open|map FILE READY": it opens
// FILE and either holds it open or maps it and closes the descriptor,
// writes its PID to the file READY, and waits to be killed.
func plainholdMain() int {
	a := os.Args[1:]
	if len(a) != 3 || a[0] != "open" && a[0] != "map" {
		fmt.Fprintln(os.Stderr, "usage: plainhold open|map FILE READY")
		return 2
	}
	f, err := os.OpenFile(a[1], os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plainhold:", err)
		return 1
	}
	if a[0] == "map" {
		st, err := f.Stat()
		if err == nil {
			_, err = unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "plainhold:", err)
			return 1
		}
		f.Close() // the mapping alone keeps it in use
	}
	return ready(a[2])
}

// ready writes this process's PID to the file name, atomically, and
// sleeps until killed.
func ready(name string) int {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintln(os.Getpid())), 0o644); err != nil || os.Rename(tmp, name) != nil {
		fmt.Fprintln(os.Stderr, "cannot write", name)
		return 1
	}
	time.Sleep(time.Hour)
	return 0
}

// cmdAgeSeg is "ageseg DAYS FILE...": it sets the created-at and
// refreshed-at stamps in the headers of the segments FILE, and their files'
// access and modification times, DAYS days into the past, as if nobody had
// used them since.
func cmdAgeSeg(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: ageseg DAYS FILE...")
	}
	d, err := strconv.ParseFloat(args[0], 64)
	ts.Check(err)
	t := time.Now().Add(-time.Duration(d * 24 * float64(time.Hour)))
	for _, name := range args[1:] {
		ts.Check(ageSegment(ts.MkAbs(name), t))
	}
}

// ageSegment sets the segment file's header stamps and times to t.
func ageSegment(path string, t time.Time) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := segment.ReadHeader(f); err != nil {
		return err
	}
	// Version 2's created-at and refreshed-at, at offsets 32 and 40.
	var b [16]byte
	binary.NativeEndian.PutUint64(b[0:], uint64(t.UnixNano()))
	binary.NativeEndian.PutUint64(b[8:], uint64(t.UnixNano()))
	if _, err := f.WriteAt(b[:], 32); err != nil {
		return err
	}
	if h, err := segment.ReadHeader(f); err != nil || !h.Refreshed.Equal(time.Unix(0, t.UnixNano())) {
		return fmt.Errorf("%s: header not aged: %+v, %v", path, h, err)
	}
	return os.Chtimes(path, t, t)
}

// cmdGcEntry is "gcentry FILE ACTION REASON [FIELD=VALUE...]": stdout must
// be gc's JSON output, and its entry for FILE must have that action and
// reason, and each FIELD (a dotted path, as jsonhas takes) that VALUE
// (FIELD alone: present).
func cmdGcEntry(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: gcentry FILE ACTION REASON [FIELD=VALUE...]")
	}
	var entries []json.RawMessage
	ts.Check(json.Unmarshal([]byte(ts.ReadFile("stdout")), &entries))
	path := ts.MkAbs(args[0])
	for _, raw := range entries {
		var e gcEntry
		ts.Check(json.Unmarshal(raw, &e))
		if e.Path != path {
			continue
		}
		if e.Action != args[1] || e.Reason != args[2] {
			ts.Fatalf("%s: %s (%s: %s), want %s (%s)", args[0], e.Action, e.Reason, e.Detail, args[1], args[2])
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		var v any
		ts.Check(dec.Decode(&v))
		for _, a := range args[3:] {
			field, want, hasWant := strings.Cut(a, "=")
			got, ok := jsonAt(v, field)
			if !ok {
				ts.Fatalf("%s: no %s in %s", args[0], field, raw)
			}
			if hasWant && fmt.Sprint(got) != want {
				ts.Fatalf("%s: %s = %v, want %s", args[0], field, got, want)
			}
		}
		return
	}
	ts.Fatalf("no entry for %s in gc's output", args[0])
}
