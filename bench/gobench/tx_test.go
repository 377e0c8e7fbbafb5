//go:build linux

package gobench

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// txSegment creates a segment with an undo log for the transaction
// benchmarks: 1000 accounts of 8 bytes.
func txSegment(b *testing.B, name string) *segment.Segment {
	d := posixshm.Dir(benchDir(b))
	name = fmt.Sprintf("/bench-tx-%s-%d", name, os.Getpid())
	s, err := segment.Create(name, 8*1000, &segment.Options{Layout: d, TxLog: 4096, RefreshInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close(); d.Unlink(name) })
	return s
}

// BenchmarkTx: what a transaction adds to the lock. lock: bare
// Segment.Lock+Unlock; tx8: Begin, one 8-byte Snapshot and its change,
// Commit; transfer16-lock and transfer16-tx: one transfer between 16
// accounts (15 debits, one credit) under Lock alone and in a transaction
// (a Snapshot of each account before its change). bench/run reports the
// ratios tx8/lock and transfer16-tx/transfer16-lock; the C pairing is
// BenchmarkTxC.
func BenchmarkTx(b *testing.B) {
	ne := binary.NativeEndian
	b.Run("lock", func(b *testing.B) {
		s := txSegment(b, "lock")
		d := s.Bytes()
		for b.Loop() {
			if err := s.Lock(); err != nil {
				b.Fatal(err)
			}
			ne.PutUint64(d[64:], ne.Uint64(d[64:])+1)
			if err := s.Unlock(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tx8", func(b *testing.B) {
		s := txSegment(b, "tx8")
		d := s.Bytes()
		b.ReportAllocs()
		for b.Loop() {
			tx, err := s.Begin()
			if err != nil {
				b.Fatal(err)
			}
			if err := tx.Snapshot(64, 8); err != nil {
				b.Fatal(err)
			}
			ne.PutUint64(d[64:], ne.Uint64(d[64:])+1)
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	})
	accounts := func(i int) [16]int {
		var a [16]int
		for k := range a {
			a[k] = 8 * ((i*16 + k*61) % 1000)
		}
		return a
	}
	b.Run("transfer16-lock", func(b *testing.B) {
		s := txSegment(b, "t16l")
		d := s.Bytes()
		i := 0
		for b.Loop() {
			acc := accounts(i)
			i++
			if err := s.Lock(); err != nil {
				b.Fatal(err)
			}
			for _, a := range acc[1:] {
				ne.PutUint64(d[a:], ne.Uint64(d[a:])-1)
			}
			ne.PutUint64(d[acc[0]:], ne.Uint64(d[acc[0]:])+15)
			if err := s.Unlock(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("transfer16-tx", func(b *testing.B) {
		s := txSegment(b, "t16t")
		d := s.Bytes()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			acc := accounts(i)
			i++
			tx, err := s.Begin()
			if err != nil {
				b.Fatal(err)
			}
			for _, a := range acc[1:] {
				if err := tx.Snapshot(a, 8); err != nil {
					b.Fatal(err)
				}
				ne.PutUint64(d[a:], ne.Uint64(d[a:])-1)
			}
			if err := tx.Snapshot(acc[0], 8); err != nil {
				b.Fatal(err)
			}
			ne.PutUint64(d[acc[0]:], ne.Uint64(d[acc[0]:])+15)
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTxC: BenchmarkTx's four measures in C (bench/c/txundo.c): a
// robust process-shared pthread mutex, and the same undo log written by
// hand with release stores. It builds the program with gcc (skipped
// without it) and reports, as ns/op, what the program measured over b.N
// operations. Run it in the same invocation as BenchmarkTx for ratios:
//
//	go test -run '^$' -bench 'BenchmarkTx' ./bench/gobench
func BenchmarkTxC(b *testing.B) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		b.Skip("no gcc")
	}
	bin := filepath.Join(b.TempDir(), "txundo")
	if out, err := exec.Command(gcc, "-O2", "-pthread", "-o", bin, "../c/txundo.c").CombinedOutput(); err != nil {
		b.Fatalf("gcc: %v\n%s", err, out)
	}
	for _, what := range []string{"lock", "tx8", "transfer16-lock", "transfer16-tx"} {
		arg := map[string]string{"transfer16-lock": "t16_lock", "transfer16-tx": "t16_tx"}[what]
		if arg == "" {
			arg = what
		}
		b.Run(what, func(b *testing.B) {
			out, err := exec.Command(bin, strconv.Itoa(max(b.N, 1)), arg).Output()
			if err != nil {
				b.Fatalf("txundo: %v", err)
			}
			f := strings.Fields(string(out)) // c_tx_<what> <ns> ns
			ns, err := strconv.ParseFloat(f[1], 64)
			if len(f) != 3 || err != nil {
				b.Fatalf("txundo said %q", out)
			}
			b.ReportMetric(ns, "ns/op")
		})
	}
}
