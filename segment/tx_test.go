package segment_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/segment"
)

// logHead reads the undo log's head word (0: empty) from the file.
func logHead(t *testing.T, s *segment.Segment) uint32 {
	t.Helper()
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	off := binary.NativeEndian.Uint64(raw[200:])
	if off == 0 {
		t.Fatal("no undo log")
	}
	return binary.NativeEndian.Uint32(raw[off:])
}

// wantErr fails unless err is an *fs.PathError with op that wraps want.
func wantErr(t *testing.T, what string, err error, op string, want error) {
	t.Helper()
	var pe *fs.PathError
	if !errors.Is(err, want) || !errors.As(err, &pe) || pe.Op != op {
		t.Fatalf("%s: %v, want a *fs.PathError with Op %q wrapping %v", what, err, op, want)
	}
}

func TestTx_CommitAbort(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "tx", 256, &segment.Options{TxLog: 1024})
	b := s.Bytes()
	tx, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Write(8, []byte("committed")); err != nil {
		t.Fatal(err)
	}
	if h := logHead(t, s); h != 1 {
		t.Fatalf("head after one snapshot = %d, want 1", h)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if h := logHead(t, s); h != 0 || string(b[8:17]) != "committed" {
		t.Fatalf("after Commit: head %d, data %q", h, b[8:17])
	}
	before := bytes.Clone(b)

	tx, err = s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	// Overlapping writes, a snapshot and a change by hand, a range inside
	// the last one (no new entry), a write of nothing.
	for _, w := range []struct {
		off int
		s   string
	}{{0, "aaaaaaaaaaaa"}, {4, "bbbbbbbbbbbbbbbbbbbbbbb"}, {250, "cccccc"}, {6, "dd"}, {0, "eeeee"}, {9, ""}} {
		if err := tx.Write(w.off, []byte(w.s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Snapshot(100, 50); err != nil {
		t.Fatal(err)
	}
	copy(b[100:150], bytes.Repeat([]byte{0xff}, 50))
	if bytes.Equal(b, before) {
		t.Fatal("nothing changed")
	}
	if err := tx.Abort(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, before) || logHead(t, s) != 0 {
		t.Fatalf("after Abort: head %d, data\n%q\nwant\n%q", logHead(t, s), b, before)
	}
	// Both released the lock.
	if ok, err := s.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock after Abort: %v, %v", ok, err)
	}
	s.Unlock()
}

func TestTx_Errors(t *testing.T) {
	d := segDir(t)
	plain := mustCreate(t, d, "plain", 64, nil)
	if tx, err := plain.Begin(); tx != nil || !errors.Is(err, segment.ErrNoTxLog) {
		t.Fatalf("Begin without a log: %v, %v", tx, err)
	}
	if ok, _ := plain.TryLock(); !ok {
		t.Fatal("Begin without a log took the lock")
	}
	plain.Unlock()

	// 64 bytes of log: one entry of up to 48 bytes.
	s := mustCreate(t, d, "small", 100, &segment.Options{TxLog: 64})
	b := s.Bytes()
	copy(b, "0123456789")
	tx, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int{{-1, 1}, {100, 1}, {0, 101}, {99, 2}, {1, -1}, {math.MaxInt / 2, math.MaxInt / 2}, {50, math.MaxInt}} {
		wantErr(t, "Snapshot out of range", tx.Snapshot(r[0], r[1]), "snapshot", segment.ErrTxRange)
	}
	// The error says where, without an overflowing sum.
	if err := tx.Snapshot(1, math.MaxInt); err == nil || strings.Contains(err.Error(), "-") {
		t.Errorf("Snapshot(1, MaxInt): %v", err)
	}
	wantErr(t, "Write out of range", tx.Write(99, []byte("xx")), "write", segment.ErrTxRange)
	if b[99] != 0 {
		t.Fatal("a refused Write wrote")
	}
	if err := tx.Write(0, bytes.Repeat([]byte{'w'}, 48)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Write past the log", tx.Write(60, []byte{1}), "write", segment.ErrTxLogFull)
	if b[60] != 0 {
		t.Fatal("a Write that did not fit the log wrote")
	}
	if err := tx.Write(10, []byte("inside the first range")); err != nil {
		t.Fatalf("Write inside the range already recorded: %v", err)
	}
	if err := tx.Abort(); err != nil {
		t.Fatal(err)
	}
	if string(b[:10]) != "0123456789" || b[10] != 0 {
		t.Fatalf("Abort after a full log left %q", b[:12])
	}
	wantErr(t, "Commit after Abort", tx.Commit(), "commit", segment.ErrTxDone)
	wantErr(t, "Abort after Abort", tx.Abort(), "abort", segment.ErrTxDone)
	wantErr(t, "Snapshot after Abort", tx.Snapshot(0, 1), "snapshot", segment.ErrTxDone)
	if ok, _ := s.TryLock(); !ok {
		t.Fatal("the lock is held after Abort")
	}
	s.Unlock()

	// A transaction left open by Unlock: the next one cannot add to it
	// until Abort rolled it back.
	tx, _ = s.Begin()
	tx.Write(0, []byte("left open"))
	s.Unlock()
	tx, err = s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Snapshot after a transaction left open", tx.Snapshot(20, 1), "snapshot", segment.ErrTxAbandoned)
	if err := tx.Abort(); err != nil {
		t.Fatal(err)
	}
	if string(b[:10]) != "0123456789" {
		t.Fatalf("Abort of a transaction left open left %q", b[:10])
	}
	tx, _ = s.Begin()
	if err := tx.Write(0, []byte("again")); err != nil {
		t.Fatal(err)
	}
	tx.Commit()

	// Close in the middle.
	tx, _ = s.Begin()
	s.Close()
	wantErr(t, "Snapshot after Close", tx.Snapshot(0, 1), "snapshot", fs.ErrClosed)
	if _, err := s.Begin(); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Begin after Close: %v", err)
	}
}

// TestTx_Goroutines: goroutines of one process, on one Segment and on two
// of the same file, exclude each other in Begin, and their transfers keep
// the total.
func TestTx_Goroutines(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "g", 8*16, &segment.Options{TxLog: 1024})
	s2, err := segment.Open("g", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ne := binary.NativeEndian
	for i := range 16 {
		ne.PutUint64(s.Bytes()[8*i:], 1000)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		seg := []*segment.Segment{s, s2}[g%2]
		wg.Go(func() {
			for i := range 2000 {
				tx, err := seg.Begin()
				if err != nil {
					t.Error(err)
					return
				}
				from, to := 8*((i+g)%16), 8*((i*7+g+1)%16)
				b := seg.Bytes()
				x := ne.Uint64(b[from:])
				tx.Snapshot(from, 8)
				tx.Snapshot(to, 8)
				ne.PutUint64(b[from:], x-1)
				ne.PutUint64(b[to:], ne.Uint64(b[to:])+1)
				if i%3 == 0 {
					err = tx.Abort()
				} else {
					err = tx.Commit()
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var sum uint64
	for i := range 16 {
		sum += ne.Uint64(s.Bytes()[8*i:])
	}
	if sum != 16*1000 {
		t.Fatalf("sum %d, want %d", sum, 16*1000)
	}
}

// TestTx_Truncated: a file truncated under the log and the data makes
// Snapshot, Write, Commit and Abort fail with ErrTruncated, not fault.
func TestTx_Truncated(t *testing.T) {
	d := segDir(t)
	// 1000 slots put the log and the data past the header's page, which
	// the truncation keeps (the lock word lives there).
	s := mustCreate(t, d, "trunc", 8192, &segment.Options{TxLog: 4096, Slots: 1000})
	tx, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Write(0, []byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(s.Path(), 4096); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Snapshot", tx.Snapshot(8, 8), "snapshot", segment.ErrTruncated)
	wantErr(t, "Write", tx.Write(8, []byte("x")), "write", segment.ErrTruncated)
	wantErr(t, "Abort", tx.Abort(), "abort", segment.ErrTruncated)
	tx, err = s.Begin() // Abort released the lock
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Snapshot", tx.Snapshot(8, 8), "snapshot", segment.ErrTruncated)
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit with nothing logged: %v", err) // touches no log
	}
}

// TestTx_ReadHeader: the log's place is in the header.
func TestTx_ReadHeader(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "/rh", 10, &segment.Options{TxLog: 100, Slots: 1})
	f, err := os.Open(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer segment.CloseFile(f)
	h, err := segment.ReadHeader(f)
	// Table 256..264, name 264..267, log at 320: a control line and 128
	// bytes of entries (100 rounded up), data at 512.
	if err != nil || h.TxLogOffset != 320 || h.TxLogSize != 192 || h.DataOffset != 512 || h.Name != "/rh" {
		t.Fatalf("ReadHeader: %+v, %v", h, err)
	}
	if _, err := segment.Create("/big", 1, in(d, &segment.Options{TxLog: segment.MaxTxLog + 1})); err == nil {
		t.Fatal("Create accepted a log larger than MaxTxLog")
	}
	if _, err := segment.Create("/neg", 1, in(d, &segment.Options{TxLog: -1})); err == nil {
		t.Fatal("Create accepted a negative log")
	}
}

// errorsIsOwnerDead is errors.Is(err, lock.ErrOwnerDead), for tests that
// take RollbackError apart.
func errorsIsOwnerDead(err error) bool { return errors.Is(err, lock.ErrOwnerDead) }

// TestTx_AfterUnlock: a transaction whose lock was released under it
// (Segment.Unlock in the middle, a misuse) writes nothing more: Snapshot,
// Write, Commit and Abort fail with lock.ErrNotHeld and leave the log and
// the data alone, for they could be another holder's by now. The next
// transaction then rolls the one left open back, as documented.
func TestTx_AfterUnlock(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "unlocked", 64, &segment.Options{TxLog: 256})
	b := s.Bytes()
	copy(b, "original")
	tx, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Write(0, []byte("CHANGED!")); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(); err != nil {
		t.Fatal(err)
	}
	head := logHead(t, s)
	wantErr(t, "Snapshot after Unlock", tx.Snapshot(16, 8), "snapshot", lock.ErrNotHeld)
	wantErr(t, "Write after Unlock", tx.Write(16, []byte("x")), "write", lock.ErrNotHeld)
	if logHead(t, s) != head || b[16] != 0 {
		t.Fatal("Snapshot or Write without the lock wrote")
	}
	wantErr(t, "Abort after Unlock", tx.Abort(), "abort", lock.ErrNotHeld)
	if logHead(t, s) != head || string(b[:8]) != "CHANGED!" {
		t.Fatalf("Abort without the lock rolled back: %q", b[:8])
	}
	wantErr(t, "Commit after Unlock", tx.Commit(), "commit", lock.ErrNotHeld)
	if logHead(t, s) != head {
		t.Fatal("Commit without the lock emptied the log")
	}
	tx, err = s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Snapshot after a transaction left open", tx.Snapshot(0, 8), "snapshot", segment.ErrTxAbandoned)
	if err := tx.Abort(); err != nil || string(b[:8]) != "original" || logHead(t, s) != 0 {
		t.Fatalf("Abort of the transaction left open: %v, %q", err, b[:8])
	}
}
