package posixshm

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestHashState_Padded checks the fast SHA-256 of names (hashState.fromState,
// the digest read from crypto/sha256's state after the padded message) at
// and around every block boundary, and that this toolchain lets AppendPath
// use it: if crypto/sha256 stops revealing its state in the expected form,
// the results stay right (sum256 falls back to Sum256) but paths cost about
// a fifth more, and this test says so. Under the race detector AppendPath
// uses Sum256 (see padded), and fromState is still checked here.
func TestHashState_Padded(t *testing.T) {
	if !padded && !raceEnabled {
		t.Fatal("crypto/sha256's marshaled state is not what fromState expects: AppendPath falls back to the slower sha256.Sum256; update hashState")
	}
	for n := range 300 {
		name := strings.Repeat(string(rune('a'+n%26)), n)
		want := sha256.Sum256([]byte(name))
		var st hashState
		if !st.fromState(name) || *st.digest() != want {
			t.Fatalf("fromState of a %d-byte name: %x, want %x", n, st.digest()[:], want)
		}
		st = hashState{}
		st.sum256(name)
		if *st.digest() != want {
			t.Fatalf("sum256 of a %d-byte name: %x, want %x", n, st.digest()[:], want)
		}
		got := string(appendHashed([]byte("x:"), "/d", name, ShmSuffix))
		if w := "x:/d/" + hex.EncodeToString(want[:]) + ShmSuffix; got != w {
			t.Fatalf("appendHashed of a %d-byte name: %q, want %q", n, got, w)
		}
	}
}

// TestHexPair checks the digit table against encoding/hex for every byte.
func TestHexPair(t *testing.T) {
	for c := range 256 {
		p := hexPair(byte(c))
		got := string([]byte{byte(p), byte(p >> 8)})
		if want := hex.EncodeToString([]byte{byte(c)}); got != want || p>>16 != 0 {
			t.Fatalf("hexPair(%#x) = %#x (%q), want %q", c, p, got, want)
		}
	}
}
