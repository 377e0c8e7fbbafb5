package segment_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/posixshm/posixshm/segment"
)

// txSteps are the steps of a transaction and its rollback (the test
// hook's names), and the caller's changes between the calls.
var txSteps = []string{"snapshot: entry header written", "snapshot: old bytes written", "snapshot: published",
	"write: half written", "between the caller's changes", "commit: about to empty the log", "commit: log emptied",
	"abort: entry restored", "abort: log emptied"}

// cut is the panic that stops a transaction at a chosen point, as a crash
// would: every store before it has happened, none after.
type cut struct{}

// TestTx_CutAnywhere: any interleaving of Snapshot, Write and changes by
// hand, stopped at any point (any step of Snapshot, Write and Commit, or
// between the caller's changes), with garbage written over the log past
// what was published (a torn entry), rolls back to the bytes before the
// transaction; the rollback itself, stopped at any of its steps and run
// again, too. Stopped after Commit's store that empties the log, the
// transaction's bytes stay.
func TestTx_CutAnywhere(t *testing.T) {
	const size = 512
	d := segDir(t)
	s, err := segment.Create("cut", size, in(d, &segment.Options{TxLog: 1024}))
	if err != nil {
		t.Fatal(err)
	}
	// A second descriptor of the file (CloseFile keeps the attachment's
	// record locks).
	f, err := os.OpenFile(s.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer segment.CloseFile(f)
	defer s.Close()
	h, err := segment.ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	logOff, logEnd := h.TxLogOffset, h.TxLogOffset+h.TxLogSize
	ne := binary.NativeEndian
	b := s.Bytes()

	hit := map[string]int{} // where the cases stopped
	property := func(rt *rapid.T, stopName string) {
		before := rapid.SliceOfN(rapid.Byte(), size, size).Draw(rt, "before")
		copy(b, before)
		model := bytes.Clone(before) // what the transaction writes
		// Stop at the stopAt-th step, or at the stopAt-th step named
		// stopName.
		stopAt := rapid.IntRange(1, 30).Draw(rt, "stop at")
		if stopName != "" {
			stopAt = rapid.IntRange(1, 3).Draw(rt, "stop at")
		}
		commit := rapid.Bool().Draw(rt, "commit")
		if strings.HasPrefix(stopName, "commit") {
			commit, stopAt = true, 1 // Commit has one of each
		}
		steps, stopped := 0, ""
		step := func(name string) {
			if stopName != "" && name != stopName {
				return
			}
			if steps++; steps == stopAt {
				stopped = name
				panic(cut{})
			}
		}
		undo := segment.SetTxHook(step)
		tx, err := s.Begin()
		if err != nil {
			undo()
			rt.Fatal(err)
		}
		// Whatever fails, leave the lock free for the next case.
		defer func() {
			undo()
			tx.Abort()
		}()
		var recorded [][2]int // ranges the caller may change by hand
		func() {
			defer func() {
				if r := recover(); r != nil && r != (cut{}) {
					panic(r)
				}
			}()
			for range rapid.IntRange(0, 12).Draw(rt, "ops") {
				off := rapid.IntRange(0, size-1).Draw(rt, "off")
				n := rapid.IntRange(0, min(size-off, 40)).Draw(rt, "n")
				switch rapid.IntRange(0, 2).Draw(rt, "op") {
				case 0:
					if err := tx.Snapshot(off, n); err != nil {
						rt.Fatal(err)
					}
					recorded = append(recorded, [2]int{off, n})
				case 1:
					w := rapid.SliceOfN(rapid.Byte(), n, n).Draw(rt, "w")
					if err := tx.Write(off, w); err != nil {
						rt.Fatal(err)
					}
					copy(model[off:], w)
					recorded = append(recorded, [2]int{off, n})
				case 2: // a change by hand, inside a range recorded before
					if len(recorded) == 0 {
						continue
					}
					r := recorded[rapid.IntRange(0, len(recorded)-1).Draw(rt, "range")]
					for i := r[0]; i < r[0]+r[1]; i++ {
						if rapid.Bool().Draw(rt, "change") {
							b[i]++
							model[i]++
						}
					}
				}
				step("between the caller's changes")
			}
			if commit {
				if err := tx.Commit(); err != nil {
					rt.Fatal(err)
				}
			}
		}()
		txStopped := stopped
		hit[txStopped]++
		if stopped == "" && commit {
			if !bytes.Equal(b, model) {
				rt.Fatal("Commit did not keep the transaction's bytes")
			}
			return // committed, lock released
		}
		if stopped == "commit: log emptied" && !bytes.Equal(b, model) {
			rt.Fatal("stopped after the commit point, the transaction's bytes are not all there")
		}
		// A torn entry: garbage past the newest published entry.
		raw := make([]byte, logEnd-logOff)
		if _, err := f.ReadAt(raw, logOff); err != nil {
			rt.Fatal(err)
		}
		end := 64 // the entry area's start
		if head := ne.Uint32(raw); head != 0 {
			p := 64 + int(head) - 1
			end = p + 16 + (int(ne.Uint32(raw[p+8:]))+7)&^7
		}
		if end < len(raw) {
			garbage := rapid.SliceOfN(rapid.Byte(), 0, len(raw)-end).Draw(rt, "garbage")
			if _, err := f.WriteAt(garbage, logOff+int64(end)); err != nil {
				rt.Fatal(err)
			}
		}
		// Roll back, stopped at some step and then again to the end.
		steps, stopAt, stopName = 0, rapid.IntRange(1, 8).Draw(rt, "stop rollback at"), ""
		func() {
			defer func() {
				if r := recover(); r != nil && r != (cut{}) {
					panic(r)
				}
			}()
			tx.Abort()
		}()
		stopAt = -1
		tx.Abort() // finishes a rollback the stop interrupted (ErrTxDone if none did)
		hit[stopped]++
		want := before
		if txStopped == "commit: log emptied" {
			want = model
		}
		if !bytes.Equal(b, want) {
			rt.Fatalf("stopped at %q, the rollback at %q, rolled back to\n% x\nwant\n% x", txStopped, stopped, b, want)
		}
		if _, err := f.ReadAt(raw[:4], logOff); err != nil || ne.Uint32(raw) != 0 {
			rt.Fatal("the log is not empty after the rollback")
		}
		if ok, _ := s.TryLock(); !ok {
			rt.Fatal("the lock is held after Abort")
		}
		s.Unlock()
	}
	// Each step in turn, so that every one is hit, and any step.
	for _, name := range append([]string{""}, txSteps...) {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) { property(rt, name) })
		})
	}
	t.Logf("stopped at: %v", hit)
	for _, step := range txSteps {
		if hit[step] == 0 {
			t.Errorf("no case stopped at %q", step)
		}
	}
}

// TestTx_HostileLog: whatever another writer leaves in the undo log, Abort
// replays only entries that fit the log and the data region, or none with
// ErrCorrupt; it never panics or faults, and leaves the log empty.
func TestTx_HostileLog(t *testing.T) {
	d := segDir(t)
	s, err := segment.Create("hostile", 256, in(d, &segment.Options{TxLog: 256}))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(s.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer segment.CloseFile(f)
	defer s.Close()
	h, err := segment.ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	ne := binary.NativeEndian
	corrupt := 0
	rapid.Check(t, func(rt *rapid.T) {
		tx, err := s.Begin()
		if err != nil {
			rt.Fatal(err)
		}
		log := rapid.SliceOfN(rapid.Byte(), int(h.TxLogSize), int(h.TxLogSize)).Draw(rt, "log")
		// Entries that are nearly right, as well as noise.
		for range rapid.IntRange(0, 4).Draw(rt, "entries") {
			p := 64 + 8*rapid.IntRange(0, (len(log)-64-16)/8).Draw(rt, "at")
			ne.PutUint64(log[p:], rapid.Uint64Range(0, 300).Draw(rt, "off"))
			ne.PutUint32(log[p+8:], rapid.Uint32Range(0, 300).Draw(rt, "n"))
			ne.PutUint32(log[p+12:], rapid.Uint32Range(0, 300).Draw(rt, "link"))
		}
		ne.PutUint32(log, rapid.OneOf(rapid.Uint32Range(0, 300), rapid.Uint32()).Draw(rt, "head"))
		if _, err := f.WriteAt(log, h.TxLogOffset); err != nil {
			rt.Fatal(err)
		}
		switch err := tx.Abort(); {
		case errors.Is(err, segment.ErrCorrupt):
			corrupt++
		case err != nil:
			rt.Fatalf("Abort: %v", err)
		}
		var head [4]byte
		if _, err := f.ReadAt(head[:], h.TxLogOffset); err != nil || ne.Uint32(head[:]) != 0 {
			rt.Fatal("the log is not empty after Abort")
		}
	})
	if corrupt == 0 {
		t.Error("no case was refused as corrupt")
	}
}
