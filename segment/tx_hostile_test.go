package segment_test

// Recovery of a dead holder's undo log that another writer scribbled on,
// or whose file was truncated: the next locker gets the lock and an error
// naming the file, never a fault, a hang or a write outside the data
// region.

import (
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// dieHolding runs a helper process that opens the segment name of d,
// begins a transaction, writes b at off and is killed holding the lock.
func dieHolding(t *testing.T, d posixshm.Dir, name string, off int, b string) {
	t.Helper()
	err := txHelper(d, "die", name, strconv.Itoa(off), b).Run()
	if !killedBy9(err) {
		t.Fatalf("helper: %v, want killed by SIGKILL", err)
	}
}

// TestTx_RecoverHostileLog: a holder dies in a transaction, and another
// writer scribbles on its log before the next Lock. The next Lock and
// Begin get the lock with a RollbackError whose Log wraps ErrCorrupt and
// names the file; no byte outside the data region changes but the log's
// head (and the lock's own words), and the data is left as it is.
func TestTx_RecoverHostileLog(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	ne := binary.NativeEndian
	const size = 128
	cases := []struct {
		name   string
		scrawl func(log []byte) // the log: control line, then entries
	}{
		{"head past the log", func(l []byte) { ne.PutUint32(l, 1<<31) }},
		{"head at the last byte", func(l []byte) { ne.PutUint32(l, uint32(len(l)-64)) }},
		{"head not a multiple of 8", func(l []byte) { ne.PutUint32(l, 5) }},
		{"offset past the data", func(l []byte) { ne.PutUint64(l[64:], size) }},
		{"offset huge", func(l []byte) { ne.PutUint64(l[64:], 1<<63) }},
		{"offset negative as int", func(l []byte) { ne.PutUint64(l[64:], 1<<64-8) }},
		{"range across the data's end", func(l []byte) { ne.PutUint64(l[64:], size-4) }},
		{"length huge", func(l []byte) { ne.PutUint32(l[64+8:], 1<<32-1) }},
		{"length past the log", func(l []byte) { ne.PutUint32(l[64+8:], uint32(len(l)-64)) }},
		{"link to itself", func(l []byte) { ne.PutUint32(l[64+12:], 1) }},
		{"link forward", func(l []byte) {
			ne.PutUint32(l, 1+24) // a second entry at 24, linking to 48
			ne.PutUint64(l[64+24:], 0)
			ne.PutUint32(l[64+24+8:], 8)
			ne.PutUint32(l[64+24+12:], 1+48)
		}},
	}
	for i, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			d := segDir(t)
			name := "hostile" + strconv.Itoa(i)
			s := mustCreate(t, d, name, size, txOpts(d))
			copy(s.Bytes(), "original")
			dieHolding(t, d, name, 0, "CHANGED!")
			f, err := os.OpenFile(s.Path(), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := segment.ReadHeader(f)
			if err != nil {
				t.Fatal(err)
			}
			log := make([]byte, h.TxLogSize)
			if _, err := f.ReadAt(log, h.TxLogOffset); err != nil {
				t.Fatal(err)
			}
			if ne.Uint32(log) != 1 {
				t.Fatalf("the dead holder's log head is %d, want 1 (one entry at 0)", ne.Uint32(log))
			}
			c.scrawl(log)
			if _, err := f.WriteAt(log, h.TxLogOffset); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			var tx *segment.Tx
			if i%2 == 0 {
				err = s.Lock()
			} else {
				tx, err = s.Begin()
			}
			var re *segment.RollbackError
			if !errors.As(err, &re) || !errorsIsOwnerDead(err) || !errors.Is(err, segment.ErrCorrupt) ||
				re.Entries != 0 || re.Bytes != 0 || !strings.Contains(err.Error(), s.Path()) {
				t.Fatalf("recovery: %v, want a RollbackError wrapping ErrCorrupt, naming %s, with 0 entries and bytes rolled back (%+v)", err, s.Path(), re)
			}
			after, err := os.ReadFile(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			if got := string(s.Bytes()[:8]); got != "CHANGED!" {
				t.Fatalf("data %q after a log that was not replayed", got)
			}
			// Only the header's first 256 bytes (the lock's and the
			// stamps' words) and the log's head may differ.
			for j := 256; j < len(before); j++ {
				if before[j] != after[j] && (int64(j) < h.TxLogOffset || int64(j) >= h.TxLogOffset+4) {
					t.Fatalf("recovery changed byte %d (data at %d, log at %d)", j, h.DataOffset, h.TxLogOffset)
				}
			}
			if ne.Uint32(after[h.TxLogOffset:]) != 0 {
				t.Fatal("the log is not empty after the recovery")
			}
			if tx == nil {
				s.Unlock()
				tx, err = s.Begin()
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Write(0, []byte("repaired")); err != nil {
				t.Fatal(err)
			}
			if err := tx.Abort(); err != nil {
				t.Fatal(err)
			}
			if got := string(s.Bytes()[:8]); got != "CHANGED!" {
				t.Fatalf("data %q after Abort", got)
			}
		})
	}
}

// TestTx_RecoverTruncated: the file of a dead holder's transaction is
// truncated before the recovery, or during it: the next Lock gets the
// lock with a RollbackError whose Log wraps ErrTruncated and names the
// file, not a SIGBUS; and a Commit whose log was cut away fails with
// ErrTruncated and releases the lock.
func TestTx_RecoverTruncated(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, during := range []bool{false, true} {
		t.Run("during="+strconv.FormatBool(during), func(t *testing.T) {
			d := segDir(t)
			// 1000 slots put the log and the data past the header's page,
			// which the truncation keeps (the lock word lives there).
			opts := txOpts(d)
			opts.Slots = 1000
			s := mustCreate(t, d, "trunc", 8192, opts)
			dieHolding(t, d, "trunc", 8, "sixteen bytes!!!")
			if during {
				defer segment.SetTxHook(func(step string) {
					if step == "recover: entry restored" {
						if err := os.Truncate(s.Path(), 4096); err != nil {
							t.Error(err)
						}
					}
				})()
			} else if err := os.Truncate(s.Path(), 4096); err != nil {
				t.Fatal(err)
			}
			err := s.Lock()
			var re *segment.RollbackError
			if !errors.As(err, &re) || !errorsIsOwnerDead(err) || !errors.Is(err, segment.ErrTruncated) ||
				!strings.Contains(err.Error(), s.Path()) {
				t.Fatalf("Lock: %v, want a RollbackError wrapping ErrTruncated, naming %s", err, s.Path())
			}
			if err := s.Unlock(); err != nil {
				t.Fatal(err)
			}
		})
	}
	d := segDir(t)
	s := mustCreate(t, d, "commit", 8192, &segment.Options{TxLog: 4096, Slots: 1000})
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
	wantErr(t, "Commit", tx.Commit(), "commit", segment.ErrTruncated)
	if ok, err := s.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock after a Commit that failed: %v, %v; want the lock free", ok, err)
	}
	s.Unlock()
}
