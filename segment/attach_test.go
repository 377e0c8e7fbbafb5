package segment_test

import (
	"errors"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// joinPIDs formats PIDs as formatUsers does: sorted, comma-separated.
func joinPIDs(pids []int) string {
	p := slices.Clone(pids)
	slices.Sort(p)
	s := ""
	for i, pid := range p {
		if i > 0 {
			s += ","
		}
		s += strconv.Itoa(pid)
	}
	return s
}

// attached checks s.Attached against the PIDs and overflow count wanted.
func attached(t *testing.T, s *segment.Segment, overflow int, pids ...int) {
	t.Helper()
	u, err := s.Attached()
	if err != nil {
		t.Fatal(err)
	}
	if joinPIDs(u.PIDs) != joinPIDs(pids) || u.Overflow != overflow {
		t.Fatalf("Attached = %+v, want PIDs %v and %d overflow", u, pids, overflow)
	}
}

// readHeader reads the header of the file at path. It closes the file only
// when the test ends: with POSIX record locks, closing it would drop this
// process's attachments to it (see TestRecordLockTrap).
func readHeader(t *testing.T, path string) segment.Header {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	h, err := segment.ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestAttached_Processes attaches real processes, kills some with SIGKILL,
// closes others, and checks what the table records and what Attached and
// Users report: the kernel's record locks decide, not the table.
func TestAttached_Processes(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	s := mustCreate(t, d, "att", 64, &segment.Options{Slots: 4})
	me := os.Getpid()
	var p [8]*server
	for i := 1; i <= 3; i++ {
		p[i] = startServer(t, d, 0, false, false)
		p[i].do("open att")
	}
	attached(t, s, 0, me, p[1].pid, p[2].pid, p[3].pid)
	h := readHeader(t, s.Path())
	for i, sl := range h.Table {
		if !sl.Attached || sl.Generation != 1 {
			t.Fatalf("slot %d = %+v after the first attachments", i, sl)
		}
	}
	slotOf := func(h segment.Header, pid int) int {
		return slices.IndexFunc(h.Table, func(sl segment.Slot) bool { return sl.Attached && sl.PID == pid })
	}
	dead, closed := slotOf(h, p[2].pid), slotOf(h, p[1].pid)

	// Killed: the table still says attached, the kernel knows better.
	p[2].kill()
	attached(t, s, 0, me, p[1].pid, p[3].pid)
	if h := readHeader(t, s.Path()); h.Table[dead] != (segment.Slot{PID: p[2].pid, Attached: true, Generation: 1}) {
		t.Fatalf("killed process's slot = %+v", h.Table[dead])
	}
	// Closed: the slot is marked free.
	p[1].do("close")
	attached(t, s, 0, me, p[3].pid)
	if h := readHeader(t, s.Path()); h.Table[closed] != (segment.Slot{Generation: 1}) {
		t.Fatalf("closed process's slot = %+v", h.Table[closed])
	}
	// A process that is not attached sees the same.
	p[5] = startServer(t, d, 0, false, false)
	if got := p[5].do("fileusers " + s.Path()); got != "pids="+joinPIDs([]int{me, p[3].pid})+" overflow=0" {
		t.Fatalf("Users from another process: %s", got)
	}

	// Newcomers take the free slot first, then the dead one, each with
	// the next generation.
	p[4] = startServer(t, d, 0, false, false)
	p[4].do("open att")
	p[6] = startServer(t, d, 0, false, false)
	p[6].do("open att")
	h = readHeader(t, s.Path())
	if got := h.Table[closed]; got != (segment.Slot{PID: p[4].pid, Attached: true, Generation: 2}) {
		t.Fatalf("free slot reused as %+v", got)
	}
	if got := h.Table[dead]; got != (segment.Slot{PID: p[6].pid, Attached: true, Generation: 2}) {
		t.Fatalf("dead slot reclaimed as %+v", got)
	}
	attached(t, s, 0, me, p[3].pid, p[4].pid, p[6].pid)

	// Every slot is live: the next process attaches without one.
	p[7] = startServer(t, d, 0, false, false)
	p[7].do("open att")
	attached(t, s, 1, me, p[3].pid, p[4].pid, p[6].pid)
	if got := p[7].do("users"); got != "pids="+joinPIDs([]int{me, p[3].pid, p[4].pid, p[6].pid})+" overflow=1" {
		t.Fatalf("the overflow attachment sees %s", got)
	}
	if h := readHeader(t, s.Path()); h.Overflow != 1 {
		t.Fatalf("overflow count %d, want 1", h.Overflow)
	}
	p[7].kill()
	attached(t, s, 0, me, p[3].pid, p[4].pid, p[6].pid)
	if h := readHeader(t, s.Path()); h.Overflow != 1 {
		t.Fatalf("overflow count %d after the overflow attachment died, want 1 (it counts attachments ever made)", h.Overflow)
	}
	info, err := s.Stat()
	if err != nil || joinPIDs(info.Users.PIDs) != joinPIDs([]int{me, p[3].pid, p[4].pid, p[6].pid}) {
		t.Fatalf("Stat: %+v, %v", info.Users, err)
	}
}

// TestAttached_SharedInProcess: Segments of one file in one process share
// one attachment, and opening and closing more of them does not pile up
// descriptors.
func TestAttached_SharedInProcess(t *testing.T) {
	d := segDir(t)
	me := os.Getpid()
	s := mustCreate(t, d, "shared", 64, nil)
	o1, err := segment.Open("shared", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	o2, err := segment.OpenOrCreate("shared", 64, in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	attached(t, o2, 0, me)
	if h := readHeader(t, s.Path()); h.Table[0].PID != me || h.Table[1].Attached {
		t.Fatalf("table %+v: want one slot for this process", h.Table[:2])
	}
	if _, err := segment.OpenOrCreate("shared", 65, in(d, nil)); !errors.Is(err, segment.ErrSizeMismatch) {
		t.Fatalf("joining with another size: %v", err)
	}
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return -1
		}
		return len(ents)
	}
	before := fds()
	for range 50 {
		o, err := segment.Open("shared", in(d, nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if after := fds(); after > before {
		t.Fatalf("descriptors: %d before 50 opens and closes, %d after", before, after)
	}
	s.Close()
	o1.Close()
	attached(t, o2, 0, me)
	if err := o2.Close(); err != nil {
		t.Fatal(err)
	}
	if h := readHeader(t, s.Path()); h.Table[0] != (segment.Slot{Generation: 1}) {
		t.Fatalf("slot after the last Close: %+v", h.Table[0])
	}
}

// TestAttached_PIDFallback runs the PID-judged liveness of objects without
// record locks (macOS, FreeBSD) with real processes on Linux.
func TestAttached_PIDFallback(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	defer segment.SetNoRecordLocks()()
	d := segDir(t)
	s := mustCreate(t, d, "bypid", 64, &segment.Options{Slots: 2})
	me := os.Getpid()
	a := startServer(t, d, 0, false, true)
	a.do("open bypid")
	attached(t, s, 0, me, a.pid)
	a.kill() // and reaped: kill(pid, 0) finds it gone
	attached(t, s, 0, me)
	b := startServer(t, d, 0, false, true)
	b.do("open bypid")
	if h := readHeader(t, s.Path()); h.Table[1] != (segment.Slot{PID: b.pid, Attached: true, Generation: 2}) {
		t.Fatalf("dead process's slot reclaimed as %+v", h.Table[1])
	}
	c := startServer(t, d, 0, false, true)
	c.do("open bypid")
	// Overflow attachments cannot be checked without record locks: the
	// count of those ever made stands.
	attached(t, s, 1, me, b.pid)
	c.kill()
	attached(t, s, 1, me, b.pid)
	b.do("close")
	attached(t, s, 1, me)
	if _, err := segment.Create("nope", 64, in(d, &segment.Options{RemoveWhenUnused: true})); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("RemoveWhenUnused without record locks: %v, want ENOTSUP", err)
	}
	if _, err := os.Stat(segPath(t, d, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused Create left a file: %v", err)
	}
}

// TestAttached_CorruptTable: a table entry no attachment writes makes
// Attached and Stat fail clearly, never report "unused".
func TestAttached_CorruptTable(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "corrupt", 64, nil)
	f, err := os.OpenFile(s.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() }) // after s.Close: see TestRecordLockTrap
	if _, err := f.WriteAt([]byte{0, 0, 0, 0x80, 0, 0, 0, 0}, 256+8*7); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attached(); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("Attached: %v, want ErrCorrupt", err)
	}
	if _, err := s.Stat(); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("Stat: %v, want ErrCorrupt", err)
	}
	if _, err := segment.Users(f); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("Users: %v, want ErrCorrupt", err)
	}
}

// TestUsers_ReadOnly: Users changes nothing: not the bytes, not the times.
func TestUsers_ReadOnly(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "ro", 64, nil)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	age(t, s, old)
	before, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	age(t, s, old)
	f, err := os.Open(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() }) // after s.Close: see TestRecordLockTrap
	u, err := segment.Users(f)
	if err != nil || joinPIDs(u.PIDs) != strconv.Itoa(os.Getpid()) || u.Overflow != 0 {
		t.Fatalf("Users = %+v, %v", u, err)
	}
	atime, mtime := segStat(t, s.Path())
	if mtime != old.UnixNano() || runtime.GOOS == "linux" && atime != old.UnixNano() {
		t.Fatalf("Users changed the times: atime %v, mtime %v", time.Unix(0, atime), time.Unix(0, mtime))
	}
	after, _ := os.ReadFile(s.Path())
	if string(after) != string(before) {
		t.Fatal("Users changed the file")
	}
	// A file that is not a segment.
	p := segPath(t, d, "plain")
	os.WriteFile(p, []byte("plain text, not a segment"), 0o600)
	g, _ := os.Open(p)
	defer g.Close()
	if _, err := segment.Users(g); !errors.Is(err, segment.ErrNotSegment) {
		t.Fatalf("Users of a plain file: %v", err)
	}
}

// TestRecordLockTrap shows the trap the package documentation warns of:
// with POSIX record locks (OpenBSD; -tags openbsdsim on Linux), closing a
// descriptor of the segment's file that the user opened himself drops
// this process's attachment lock; Linux's open file description locks do
// not have it.
func TestRecordLockTrap(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	s := mustCreate(t, d, "trap", 64, nil)
	me := strconv.Itoa(os.Getpid())
	other := startServer(t, d, 0, false, false)
	if got := other.do("fileusers " + s.Path()); got != "pids="+me+" overflow=0" {
		t.Fatalf("before: %s", got)
	}
	f, err := posixshm.Dir(d).Open("trap", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	got := other.do("fileusers " + s.Path())
	if segment.OFDLocks {
		if got != "pids="+me+" overflow=0" {
			t.Fatalf("open file description locks: after closing a descriptor of our own: %s", got)
		}
		return
	}
	if got != "pids= overflow=0" {
		t.Fatalf("POSIX locks: after closing a descriptor of our own, %s; the trap is gone?", got)
	}
}
