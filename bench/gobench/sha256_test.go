//go:build linux

package gobench

import (
	"crypto/sha256"
	"strconv"
	"testing"
)

var sinkSum [sha256.Size]byte

// BenchmarkSHA256: Go's SHA-256, the other half of bench/c/path.c's
// OpenSSL figures. "block": Write of 64 bytes to a running hash, the
// implementation itself per block (SHA extensions where the CPU has them,
// as OpenSSL's); "sum/N": the one-shot Sum256 of the N-byte names of
// posixshm's BenchmarkPath, padding and output included.
func BenchmarkSHA256(b *testing.B) {
	b.Run("block", func(b *testing.B) {
		h := sha256.New()
		block := make([]byte, 64)
		for i := range block {
			block[i] = 'a'
		}
		b.ReportAllocs()
		for b.Loop() {
			h.Write(block)
		}
		h.Sum(sinkSum[:0])
	})
	for _, n := range []int{8, 32, 255} {
		// "/" then letters: the bytes posixshm's BenchmarkPath and
		// bench/c/path.c hash.
		name := make([]byte, n)
		for i := range name {
			name[i] = byte('a' + i%26)
		}
		name[0] = '/'
		b.Run("sum/"+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkSum = sha256.Sum256(name)
			}
		})
	}
}
