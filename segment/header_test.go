package segment_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"pgregory.net/rapid"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/segment"
)

var segSentinels = []error{
	segment.ErrNotSegment, segment.ErrVersion, segment.ErrTruncated,
	segment.ErrSizeMismatch, segment.ErrNotInitialized,
}

// sentinelOf returns the one segment sentinel err wraps, failing if it
// wraps none or several.
func sentinelOf(t interface {
	Helper()
	Fatalf(string, ...any)
}, err error) error {
	t.Helper()
	var found error
	for _, s := range segSentinels {
		if errors.Is(err, s) {
			if found != nil {
				t.Fatalf("%v wraps both %v and %v", err, found, s)
			}
			found = s
		}
	}
	if found == nil {
		t.Fatalf("%v wraps no segment sentinel", err)
	}
	return found
}

// validSegment returns the bytes of a valid segment file with 64 data bytes.
func validSegment(t *testing.T) []byte {
	d := segDir(t)
	s := mustCreate(t, d, "template", 64, nil)
	b, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func put32(b []byte, off int, v uint32) []byte {
	binary.NativeEndian.PutUint32(b[off:], v)
	return b
}

func put64(b []byte, off int, v uint64) []byte {
	binary.NativeEndian.PutUint64(b[off:], v)
	return b
}

// segStat returns a file's times, for checking that nothing touched it.
func segStat(t *testing.T, path string) (atime, mtime int64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Atim.Nano(), st.Mtim.Nano()
}

// TestOpen_Refused writes broken segment files on disk and
// checks that opening and reading them gives the documented sentinel, an
// error naming the file, and leaves the file exactly as it was.
func TestOpen_Refused(t *testing.T) {
	valid := validSegment(t)
	elf, err := os.ReadFile(os.Args[0])
	if err != nil || len(elf) < 4096 {
		t.Fatalf("reading the test binary: %v", err)
	}
	random := make([]byte, 4096)
	rand.NewChaCha8([32]byte{1}).Read(random)
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	other := func(v uint32) uint32 { return v>>24 | v>>8&0xff00 | v<<8&0xff0000 | v<<24 }

	cases := []struct {
		name string
		file []byte
		want error
	}{
		{"empty", nil, segment.ErrNotInitialized},
		{"short", valid[:100], segment.ErrTruncated},
		{"one byte", []byte{0x89}, segment.ErrTruncated},
		{"zeros", make([]byte, 4096), segment.ErrNotInitialized},
		{"elf", elf[:4096], segment.ErrNotSegment},
		{"random", random, segment.ErrNotSegment},
		{"text", []byte(strings.Repeat("POSIXSHM segment, honest\n", 10)), segment.ErrNotSegment},
		{"magic bit flipped", mod(func(b []byte) []byte { b[3] ^= 0x20; return b }), segment.ErrNotSegment},
		{"version 2", mod(func(b []byte) []byte { return put32(b, 8, 2) }), segment.ErrVersion},
		{"version 0", mod(func(b []byte) []byte { return put32(b, 8, 0) }), segment.ErrVersion},
		{"other byte order", mod(func(b []byte) []byte { return put32(b, 8, other(1)) }), segment.ErrVersion},
		{"header size 64", mod(func(b []byte) []byte { return put32(b, 12, 64) }), segment.ErrSizeMismatch},
		{"data offset unaligned", mod(func(b []byte) []byte { return put64(b, 16, 100) }), segment.ErrSizeMismatch},
		{"data offset in header", mod(func(b []byte) []byte { return put64(b, 16, 64) }), segment.ErrSizeMismatch},
		{"data offset huge", mod(func(b []byte) []byte { return put64(b, 16, 1<<63) }), segment.ErrSizeMismatch},
		{"data size huge", mod(func(b []byte) []byte { return put64(b, 24, 1<<64-64) }), segment.ErrSizeMismatch},
		{"data size larger than file", mod(func(b []byte) []byte { return put64(b, 24, 4096) }), segment.ErrTruncated},
		{"data size smaller than file", mod(func(b []byte) []byte { return put64(b, 24, 0) }), segment.ErrSizeMismatch},
		{"file cut", valid[:150], segment.ErrTruncated},
		{"file cut to header", valid[:128], segment.ErrTruncated},
		{"file extended", append(bytes.Clone(valid), 0), segment.ErrSizeMismatch},
	}
	const initTimeout = 30 * time.Millisecond
	opts := &segment.Options{InitTimeout: initTimeout}
	d := segDir(t)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "bad " + c.name
			path := segPath(t, d, name)
			if err := os.WriteFile(path, c.file, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			check := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s accepted the file", what)
				}
				if got := sentinelOf(t, err); got != c.want {
					t.Fatalf("%s: %v, want %v", what, err, c.want)
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("%s: error %q does not name the file", what, err)
				}
				var pe *fs.PathError
				if !errors.As(err, &pe) || pe.Op != "segment" {
					t.Errorf("%s: error %#v is not a *fs.PathError with Op segment", what, err)
				}
				atime, mtime := segStat(t, path)
				if mtime != old.UnixNano() {
					t.Errorf("%s changed the modification time", what)
				}
				if runtime.GOOS == "linux" && atime != old.UnixNano() {
					t.Errorf("%s changed the access time", what)
				}
				got, _ := os.ReadFile(path)
				if !bytes.Equal(got, c.file) {
					t.Fatalf("%s modified the file", what)
				}
				os.Chtimes(path, old, old) // reading it may have moved the access time
			}

			start := time.Now()
			_, err := segment.Open(name, in(d, opts))
			check("Open", err)
			if c.want == segment.ErrNotInitialized && time.Since(start) < initTimeout {
				t.Errorf("gave up after %v, before InitTimeout", time.Since(start))
			}
			if err == nil || !strings.HasPrefix(err.Error(), "segment "+name+": ") {
				t.Errorf("error %q does not start with the op and name", err)
			}
			_, err = segment.OpenOrCreate(name, 64, in(d, opts))
			check("OpenOrCreate", err)

			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = segment.ReadHeader(f)
			check("ReadHeader", err)
		})
	}
}

func TestReadHeader(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "rh", 1000, nil)
	if err := s.Lock(); err != nil {
		t.Fatal(err)
	}
	defer s.Unlock()
	f, err := os.Open(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := segment.ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Stat()
	if h.Version != 1 || h.HeaderSize != 128 || h.DataOffset != 128 || h.DataSize != 1000 ||
		!h.Created.Equal(info.Created) || !h.Refreshed.Equal(info.Refreshed) ||
		h.LockHolder != os.Getpid() || lock.HolderPID(h.LockWord) != os.Getpid() {
		t.Fatalf("ReadHeader = %+v, Stat = %+v", h, info)
	}
	if runtime.GOOS == "linux" && h.LockStamp == 0 {
		t.Error("no holder start time recorded in the lock word's stamp")
	}
}

// TestHeader_Layout pins the byte layout the doc comment of HeaderSize
// documents: other programs may read it.
func TestHeader_Layout(t *testing.T) {
	h := segment.Header{
		Version: 1, HeaderSize: 128, DataOffset: 192, DataSize: 5,
		Created: time.Unix(0, 11), Refreshed: time.Unix(0, 22),
		LockWord: 0x01020304, LockStamp: 0x05060708,
	}
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ne := binary.NativeEndian
	if len(b) != segment.HeaderSize || string(b[:8]) != "\x89SHM\r\n\x1a\n" ||
		ne.Uint32(b[8:]) != 1 || ne.Uint32(b[12:]) != 128 || ne.Uint64(b[16:]) != 192 ||
		ne.Uint64(b[24:]) != 5 || ne.Uint64(b[32:]) != 11 || ne.Uint64(b[40:]) != 22 ||
		ne.Uint32(b[64:]) != 0x01020304 || ne.Uint32(b[68:]) != 0x05060708 {
		t.Fatalf("layout:\n% x", b)
	}
	for _, r := range [][2]int{{48, 64}, {72, 128}} {
		if !bytes.Equal(b[r[0]:r[1]], make([]byte, r[1]-r[0])) {
			t.Errorf("reserved bytes %d..%d not zero", r[0], r[1])
		}
	}
	if _, err := (segment.Header{Version: 2, HeaderSize: 128, DataOffset: 128}).MarshalBinary(); !errors.Is(err, segment.ErrVersion) {
		t.Errorf("encoding version 2: %v", err)
	}
	if _, err := (segment.Header{Version: 1, HeaderSize: 128, DataOffset: 130}).MarshalBinary(); !errors.Is(err, segment.ErrSizeMismatch) {
		t.Errorf("encoding offset 130: %v", err)
	}
}

func genHeader() *rapid.Generator[segment.Header] {
	return rapid.Custom(func(t *rapid.T) segment.Header {
		nanos := func(label string) time.Time {
			if n := rapid.Int64().Draw(t, label); n != 0 {
				return time.Unix(0, n)
			}
			return time.Time{}
		}
		word := rapid.Uint32().Draw(t, "word")
		return segment.Header{
			Version:    1,
			HeaderSize: 128,
			DataOffset: 128 + 64*rapid.Int64Range(0, 1<<20).Draw(t, "lines"),
			DataSize:   rapid.Int64Range(0, 1<<50).Draw(t, "size"),
			Created:    nanos("created"),
			Refreshed:  nanos("refreshed"),
			LockWord:   word,
			LockHolder: lock.HolderPID(word),
			LockStamp:  rapid.Uint32().Draw(t, "stamp"),
		}
	})
}

func sameHeader(a, b segment.Header) bool {
	return a.Created.Equal(b.Created) && a.Refreshed.Equal(b.Refreshed) &&
		a.Version == b.Version && a.HeaderSize == b.HeaderSize && a.DataOffset == b.DataOffset &&
		a.DataSize == b.DataSize && a.LockWord == b.LockWord && a.LockHolder == b.LockHolder &&
		a.LockStamp == b.LockStamp
}

// TestHeader_RoundTrip: decode(encode(x)) == x.
func TestHeader_RoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genHeader().Draw(t, "h")
		b, err := h.AppendBinary([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		b = b[len("prefix"):]
		got, err := segment.ParseHeader(b, h.DataOffset+h.DataSize)
		if err != nil || !sameHeader(got, h) {
			t.Fatalf("ParseHeader(encode(%+v)) = %+v, %v", h, got, err)
		}
		var u segment.Header
		if err := u.UnmarshalBinary(b); err != nil || !sameHeader(u, h) {
			t.Fatalf("UnmarshalBinary = %+v, %v", u, err)
		}
	})
}

// TestParseHeader_AnyBytes: arbitrary input gives exactly one sentinel or
// a header that survives re-encoding.
func TestParseHeader_AnyBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var b []byte
		if rapid.Bool().Draw(t, "from valid") {
			h := genHeader().Draw(t, "h")
			b, _ = h.MarshalBinary()
			for range rapid.IntRange(0, 4).Draw(t, "flips") {
				i := rapid.IntRange(0, len(b)-1).Draw(t, "i")
				b[i] ^= byte(rapid.IntRange(1, 255).Draw(t, "x"))
			}
			b = b[:rapid.IntRange(0, len(b)).Draw(t, "len")]
		} else {
			b = rapid.SliceOf(rapid.Byte()).Draw(t, "b")
		}
		size := rapid.OneOf(rapid.Int64(), rapid.Just(int64(len(b)))).Draw(t, "size")
		h, err := segment.ParseHeader(b, size)
		if err != nil {
			sentinelOf(t, err)
			return
		}
		enc, err := h.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encoding a parsed header: %v", err)
		}
		if h2, err := segment.ParseHeader(enc, size); err != nil || !sameHeader(h, h2) {
			t.Fatalf("re-parse: %+v, %v; want %+v", h2, err, h)
		}
	})
}
