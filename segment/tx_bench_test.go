package segment

import (
	"sync/atomic"
	"testing"
)

// BenchmarkTxParts times what a transaction pays for beside the lock, to
// explain BenchmarkTx (bench/gobench): a call protected by noFault (each of
// Snapshot, Write, Commit and Abort makes one), and the atomic store that
// publishes an entry or empties the log (sequentially consistent in Go: an
// XCHG on amd64, where C's release store is a plain MOV).
func BenchmarkTxParts(b *testing.B) {
	var w uint32
	b.Run("nofault", func(b *testing.B) {
		for b.Loop() {
			noFault(func() { w++ })
		}
	})
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			atomic.StoreUint32(&w, 1)
		}
	})
}
