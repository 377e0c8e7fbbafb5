package segment

import (
	"runtime/debug"
	"sync/atomic"
	"testing"
)

// BenchmarkTxParts times what a transaction pays for beside the lock, to
// explain BenchmarkTx (bench/gobench): a call guarded against faults as
// Snapshot, Write and Commit are (faultGuard), and the atomic store that
// publishes an entry or empties the log (sequentially consistent in Go: an
// XCHG on amd64, where C's release store is a plain MOV).
func BenchmarkTxParts(b *testing.B) {
	var w uint32
	s := &Segment{}
	b.Run("guard", func(b *testing.B) {
		for b.Loop() {
			guardedIncrement(s, &w)
		}
	})
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			atomic.StoreUint32(&w, 1)
		}
	})
}

//go:noinline
func guardedIncrement(s *Segment, w *uint32) (err error) {
	g := faultGuard{old: debug.SetPanicOnFault(true)}
	defer g.end(s, "op", &err)
	*w++
	g.done = true
	return nil
}
