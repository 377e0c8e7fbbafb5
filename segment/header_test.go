package segment_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
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
	segment.ErrSizeMismatch, segment.ErrNotInitialized, segment.ErrCorrupt,
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

// validSegment returns the bytes of a valid segment file called
// "template", with 64 data bytes after its name, at 832.
func validSegment(t *testing.T) []byte { return validSegmentWith(t, nil) }

// validSegmentWith is validSegment with options (a transaction log moves
// the data).
func validSegmentWith(t *testing.T, opts *segment.Options) []byte {
	d := segDir(t)
	s := mustCreate(t, d, "template", 64, opts)
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

	// A version 1 segment as earlier releases wrote it: a 128-byte header
	// and 64 data bytes.
	v1 := make([]byte, 192)
	copy(v1, "\x89SHM\r\n\x1a\n")
	put32(v1, 8, 1)
	put32(v1, 12, 128)
	put64(v1, 16, 128)
	put64(v1, 24, 64)
	slot := func(i int, w uint64) func(b []byte) []byte {
		return func(b []byte) []byte { return put64(b, 256+8*i, w) }
	}
	// A version 2 segment as the previous release wrote it: no name, no
	// log, the data right after the table.
	v2h := segment.Header{Version: 2, HeaderSize: 256, TableOffset: 256, Slots: 64, DataOffset: 768, DataSize: 64}
	v2, err := v2h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	v2 = append(v2, make([]byte, 768+64-len(v2))...)
	mod2 := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(v2)) }
	// With an undo log of 64+256 bytes at 832: the data at 1152.
	withLog := validSegmentWith(t, &segment.Options{TxLog: 256})
	modLog := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(withLog)) }

	cases := []struct {
		name string
		file []byte
		want error
		msg  string // the error says this too
	}{
		{"empty", nil, segment.ErrNotInitialized, ""},
		{"short", valid[:100], segment.ErrTruncated, ""},
		{"one byte", []byte{0x89}, segment.ErrTruncated, ""},
		{"zeros", make([]byte, 4096), segment.ErrNotInitialized, ""},
		{"elf", elf[:4096], segment.ErrNotSegment, ""},
		{"random", random, segment.ErrNotSegment, ""},
		{"text", []byte(strings.Repeat("POSIXSHM segment, honest\n", 10)), segment.ErrNotSegment, ""},
		{"magic bit flipped", mod(func(b []byte) []byte { b[3] ^= 0x20; return b }), segment.ErrNotSegment, ""},
		{"version 1", v1, segment.ErrVersion, "version 1, written by an earlier release"},
		{"version 1 says the fix", v1, segment.ErrVersion, "create it again"},
		{"version 1 padded", append(bytes.Clone(v1), make([]byte, 4096)...), segment.ErrVersion, "version 1"},
		{"version 4", mod(func(b []byte) []byte { return put32(b, 8, 4) }), segment.ErrVersion, "version 4"},
		{"version 0", mod(func(b []byte) []byte { return put32(b, 8, 0) }), segment.ErrVersion, ""},
		{"other byte order", mod(func(b []byte) []byte { return put32(b, 8, other(3)) }), segment.ErrVersion, "other byte order"},
		{"version 2 in the other byte order", mod2(func(b []byte) []byte { return put32(b, 8, other(2)) }), segment.ErrVersion, "other byte order"},
		{"header size 128", mod(func(b []byte) []byte { return put32(b, 12, 128) }), segment.ErrSizeMismatch, ""},
		{"table offset 512", mod(func(b []byte) []byte { return put32(b, 48, 512) }), segment.ErrSizeMismatch, "table"},
		{"no slots", mod(func(b []byte) []byte { return put32(b, 52, 0) }), segment.ErrSizeMismatch, "slot count"},
		{"too many slots", mod(func(b []byte) []byte { return put32(b, 52, segment.MaxSlots+1) }), segment.ErrSizeMismatch, "slot count"},
		{"slots 1<<31", mod(func(b []byte) []byte { return put32(b, 52, 1<<31) }), segment.ErrSizeMismatch, "slot count"},
		{"table runs into data", mod2(func(b []byte) []byte { return put32(b, 52, 65) }), segment.ErrSizeMismatch, "data offset"},
		{"table runs into name", mod(func(b []byte) []byte { return put32(b, 52, 65) }), segment.ErrSizeMismatch, "name at 768"},
		{"unknown flag", mod(func(b []byte) []byte { return put32(b, 56, 4) }), segment.ErrVersion, "flags 0x4"},
		{"version 2 with the name flag", mod2(func(b []byte) []byte { return put32(b, 56, 2) }), segment.ErrVersion, "flags 0x2"},
		{"name offset moved", mod(func(b []byte) []byte { return put32(b, 192, 776) }), segment.ErrSizeMismatch, "name at 776"},
		{"name offset zero", mod(func(b []byte) []byte { return put32(b, 192, 0) }), segment.ErrSizeMismatch, "name at 0"},
		{"name too long", mod(func(b []byte) []byte { return put32(b, 196, segment.MaxName+1) }), segment.ErrSizeMismatch, "longer than 4096"},
		{"name length 1<<32-1", mod(func(b []byte) []byte { return put32(b, 196, 1<<32-1) }), segment.ErrSizeMismatch, "longer than 4096"},
		{"name runs into data", mod(func(b []byte) []byte { return put32(b, 196, 65) }), segment.ErrSizeMismatch, "after the name"},
		{"name with NUL", mod(func(b []byte) []byte { return put32(b, 196, 9) }), segment.ErrCorrupt, "NUL"},
		{"name NUL inside", mod(func(b []byte) []byte { b[770] = 0; return b }), segment.ErrCorrupt, "NUL byte at 2"},
		{"name truncated flag, short name", mod(func(b []byte) []byte { return put32(b, 56, 2) }), segment.ErrCorrupt, "truncated"},
		{"log without size", mod(func(b []byte) []byte { return put64(b, 200, 832) }), segment.ErrSizeMismatch, "both"},
		{"log without offset", modLog(func(b []byte) []byte { return put64(b, 200, 0) }), segment.ErrSizeMismatch, "both"},
		{"log offset unaligned", modLog(func(b []byte) []byte { return put64(b, 200, 840) }), segment.ErrSizeMismatch, "undo log at 840"},
		{"log offset past the name", modLog(func(b []byte) []byte { return put64(b, 200, 896) }), segment.ErrSizeMismatch, "undo log at 896"},
		{"log offset in table", modLog(func(b []byte) []byte { return put64(b, 200, 512) }), segment.ErrSizeMismatch, "undo log at 512"},
		{"log size odd", modLog(func(b []byte) []byte { return put64(b, 208, 330) }), segment.ErrSizeMismatch, "not a multiple of 64"},
		{"log size one line", modLog(func(b []byte) []byte { return put64(b, 208, 64) }), segment.ErrSizeMismatch, "from 128"},
		{"log size huge", modLog(func(b []byte) []byte { return put64(b, 208, 1<<63) }), segment.ErrSizeMismatch, "not a multiple of 64"},
		{"log runs into data", modLog(func(b []byte) []byte { return put64(b, 208, 384) }), segment.ErrSizeMismatch, "after the undo log"},
		{"log file cut", withLog[:1000], segment.ErrTruncated, ""},
		{"data offset unaligned", mod(func(b []byte) []byte { return put64(b, 16, 800) }), segment.ErrSizeMismatch, ""},
		{"data offset in header", mod(func(b []byte) []byte { return put64(b, 16, 128) }), segment.ErrSizeMismatch, ""},
		{"data offset in table", mod(func(b []byte) []byte { return put64(b, 16, 704) }), segment.ErrSizeMismatch, ""},
		{"data offset in name", mod(func(b []byte) []byte { return put64(b, 16, 768) }), segment.ErrSizeMismatch, "after the name"},
		{"data offset huge", mod(func(b []byte) []byte { return put64(b, 16, 1<<63) }), segment.ErrSizeMismatch, ""},
		{"data size huge", mod(func(b []byte) []byte { return put64(b, 24, 1<<64-64) }), segment.ErrSizeMismatch, ""},
		{"data size larger than file", mod(func(b []byte) []byte { return put64(b, 24, 4096) }), segment.ErrTruncated, ""},
		{"data size smaller than file", mod(func(b []byte) []byte { return put64(b, 24, 0) }), segment.ErrSizeMismatch, ""},
		{"file cut", valid[:150], segment.ErrTruncated, ""},
		{"file cut to header", valid[:256], segment.ErrTruncated, ""},
		{"file cut in table", valid[:500], segment.ErrTruncated, ""},
		{"file cut in name", valid[:770], segment.ErrTruncated, ""},
		{"file extended", append(bytes.Clone(valid), 0), segment.ErrSizeMismatch, ""},
		{"slot reserved bit", mod(slot(3, 1<<31|1<<30|77)), segment.ErrCorrupt, "slot 3"},
		{"slot attached without pid", mod(slot(63, 5<<32|1<<30)), segment.ErrCorrupt, "slot 63"},
		{"slot free with a pid", mod(slot(0, 5<<32|77)), segment.ErrCorrupt, "slot 0"},
		{"slot all ones", mod(slot(10, 1<<64-1)), segment.ErrCorrupt, "slot 10"},
	}
	// An empty file is waited for (InitTimeout, kept short); a sized one
	// without a creation lock (zeros) is not: it gets a long InitTimeout,
	// so that not waiting shows as returning long before it, whatever the
	// load (a short one made a slow but waitless Open look like a wait).
	const initTimeout = 30 * time.Millisecond
	const longTimeout = time.Minute
	opts := &segment.Options{InitTimeout: initTimeout}
	d := segDir(t)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := opts
			if c.name == "zeros" {
				opts = &segment.Options{InitTimeout: longTimeout}
			}
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
				if !strings.Contains(err.Error(), c.msg) {
					t.Errorf("%s: error %q does not say %q", what, err, c.msg)
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
			// An empty file may be a creator's that has not taken its
			// creation lock yet: Open waits. A sized one without the lock
			// (zeros) has no live creator: Open does not wait.
			if took := time.Since(start); c.name == "empty" && took < initTimeout {
				t.Errorf("gave up after %v, before InitTimeout", took)
			} else if c.name == "zeros" && (took >= longTimeout || !strings.Contains(err.Error(), "creator died")) {
				t.Errorf("waited %v for a creator that holds no creation lock, then said %v", took, err)
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
			_, err = segment.Users(f)
			check("Users", err)
		})
	}
}

func TestReadHeader(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "rh", 1000, &segment.Options{Slots: 5, RemoveWhenUnused: true})
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
	if h.Version != 3 || h.HeaderSize != 256 || h.TableOffset != 256 || h.Slots != 5 || !h.RemoveWhenUnused ||
		h.DataOffset != 320 || h.DataSize != 1000 || h.Overflow != 0 || h.Name != "rh" || !h.HasName() ||
		h.NameTruncated || h.NameOffset != 296 || h.TxLogOffset != 0 || h.TxLogSize != 0 ||
		!h.Created.Equal(info.Created) || !h.Refreshed.Equal(info.Refreshed) ||
		h.LockHolder != os.Getpid() || lock.HolderPID(h.LockWord) != 1 || h.LockStamp != 1 {
		t.Fatalf("ReadHeader = %+v, Stat = %+v", h, info)
	}
	want := []segment.Slot{{PID: os.Getpid(), Attached: true, Generation: 1}, {}, {}, {}, {}}
	if !slices.Equal(h.Table, want) {
		t.Fatalf("Table = %+v, want %+v", h.Table, want)
	}
}

// TestHeader_Layout pins the byte layout the doc comments of HeaderSize
// and Slot document: other programs may read it.
func TestHeader_Layout(t *testing.T) {
	h := segment.Header{
		Version: 2, HeaderSize: 256, TableOffset: 256, Slots: 3, DataOffset: 320, DataSize: 5,
		Created: time.Unix(0, 11), Refreshed: time.Unix(0, 22), RemoveWhenUnused: true, Overflow: 9,
		LockWord: 0x01020304, LockStamp: 0x05060708, Notify: 0x0a0b0c0d, Notifications: 0x11121314,
		Table: []segment.Slot{{}, {PID: 4242, Attached: true, Generation: 7}, {Generation: 1<<32 - 1}},
	}
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ne := binary.NativeEndian
	if len(b) != 256+3*8 || string(b[:8]) != "\x89SHM\r\n\x1a\n" ||
		ne.Uint32(b[8:]) != 2 || ne.Uint32(b[12:]) != 256 || ne.Uint64(b[16:]) != 320 ||
		ne.Uint64(b[24:]) != 5 || ne.Uint64(b[32:]) != 11 || ne.Uint64(b[40:]) != 22 ||
		ne.Uint32(b[48:]) != 256 || ne.Uint32(b[52:]) != 3 || ne.Uint32(b[56:]) != 1 || ne.Uint32(b[60:]) != 9 ||
		ne.Uint32(b[64:]) != 0x01020304 || ne.Uint32(b[68:]) != 0x05060708 || ne.Uint32(b[128:]) != 0x0a0b0c0d ||
		ne.Uint32(b[132:]) != 0x11121314 ||
		ne.Uint64(b[256:]) != 0 || ne.Uint64(b[264:]) != 7<<32|1<<30|4242 || ne.Uint64(b[272:]) != 0xffffffff<<32 {
		t.Fatalf("layout:\n% x", b)
	}
	for _, r := range [][2]int{{72, 128}, {136, 256}} {
		if !bytes.Equal(b[r[0]:r[1]], make([]byte, r[1]-r[0])) {
			t.Errorf("reserved bytes %d..%d not zero", r[0], r[1])
		}
	}
	for _, c := range []struct {
		h    segment.Header
		want error
	}{
		{segment.Header{Version: 1, HeaderSize: 256, TableOffset: 256, Slots: 1, DataOffset: 320}, segment.ErrVersion},
		{segment.Header{Version: 2, HeaderSize: 256, TableOffset: 256, Slots: 1, DataOffset: 330}, segment.ErrSizeMismatch},
		{segment.Header{Version: 2, HeaderSize: 256, TableOffset: 256, Slots: 0, DataOffset: 320}, segment.ErrSizeMismatch},
		{segment.Header{Version: 2, HeaderSize: 256, TableOffset: 256, Slots: 9, DataOffset: 320}, segment.ErrSizeMismatch},
		{segment.Header{Version: 2, HeaderSize: 256, TableOffset: 256, Slots: 2, DataOffset: 320, Table: []segment.Slot{{}}}, segment.ErrSizeMismatch},
		{segment.Header{Version: 2, HeaderSize: 256, TableOffset: 256, Slots: 1, DataOffset: 320, Table: []segment.Slot{{PID: 5}}}, segment.ErrCorrupt},
		{segment.Header{Version: 2, HeaderSize: 256, TableOffset: 256, Slots: 1, DataOffset: 320, Table: []segment.Slot{{Attached: true}}}, segment.ErrCorrupt},
		{segment.Header{Version: 2, HeaderSize: 256, TableOffset: 256, Slots: 1, DataOffset: 320, Table: []segment.Slot{{PID: 1 << 30, Attached: true}}}, segment.ErrCorrupt},
	} {
		if _, err := c.h.MarshalBinary(); !errors.Is(err, c.want) {
			t.Errorf("encoding %+v: %v, want %v", c.h, err, c.want)
		}
	}
}

// TestHeader_LayoutV3 pins the fields version 3 adds: the name after the
// table and the undo log after it, each placed by line 3 of the header.
func TestHeader_LayoutV3(t *testing.T) {
	h := segment.Header{
		Version: 3, HeaderSize: 256, TableOffset: 256, Slots: 3, DataOffset: 320 + 64 + 192, DataSize: 5,
		Name: "/tmp/name", NameOffset: 280, TxLogOffset: 320, TxLogSize: 64 + 192,
		Table: []segment.Slot{{}, {PID: 4242, Attached: true, Generation: 7}, {}},
	}
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ne := binary.NativeEndian
	if len(b) != 280+9 || ne.Uint32(b[8:]) != 3 || ne.Uint64(b[16:]) != 576 || ne.Uint32(b[56:]) != 0 ||
		ne.Uint32(b[192:]) != 280 || ne.Uint32(b[196:]) != 9 || ne.Uint64(b[200:]) != 320 || ne.Uint64(b[208:]) != 256 ||
		string(b[280:]) != "/tmp/name" {
		t.Fatalf("layout:\n% x", b)
	}
	for _, r := range [][2]int{{72, 128}, {136, 192}, {216, 256}} {
		if !bytes.Equal(b[r[0]:r[1]], make([]byte, r[1]-r[0])) {
			t.Errorf("reserved bytes %d..%d not zero", r[0], r[1])
		}
	}
	cut := h
	cut.Name, cut.NameTruncated = strings.Repeat("x", segment.MaxName), true
	cut.TxLogOffset, cut.TxLogSize, cut.DataOffset = 0, 0, (280+segment.MaxName+63)/64*64
	if b, err := cut.MarshalBinary(); err != nil || ne.Uint32(b[56:]) != 2 || ne.Uint32(b[196:]) != segment.MaxName {
		t.Fatalf("truncated name: flags %#x, length %d, %v", ne.Uint32(b[56:]), ne.Uint32(b[196:]), err)
	}
	v3 := func(f func(h *segment.Header)) segment.Header {
		c := h
		f(&c)
		return c
	}
	for _, c := range []struct {
		h    segment.Header
		want error
	}{
		{v3(func(h *segment.Header) { h.Version = 4 }), segment.ErrVersion},
		{v3(func(h *segment.Header) { h.NameOffset = 288 }), segment.ErrSizeMismatch},
		{v3(func(h *segment.Header) { h.Name = "a\x00b" }), segment.ErrCorrupt},
		{v3(func(h *segment.Header) { h.NameTruncated = true }), segment.ErrCorrupt},
		{v3(func(h *segment.Header) { h.Name = strings.Repeat("x", segment.MaxName+1) }), segment.ErrCorrupt},
		{v3(func(h *segment.Header) { h.TxLogOffset = 384 }), segment.ErrSizeMismatch},
		{v3(func(h *segment.Header) { h.TxLogSize = 64 }), segment.ErrSizeMismatch},
		{v3(func(h *segment.Header) { h.TxLogSize = 300 }), segment.ErrSizeMismatch},
		{v3(func(h *segment.Header) { h.TxLogOffset = 0 }), segment.ErrSizeMismatch},
		{v3(func(h *segment.Header) { h.TxLogSize = 0 }), segment.ErrSizeMismatch},
		{v3(func(h *segment.Header) { h.TxLogSize = 64 + segment.MaxTxLog + 64 }), segment.ErrSizeMismatch},
		{v3(func(h *segment.Header) { h.DataOffset = 512 }), segment.ErrSizeMismatch}, // inside the log
		{v3(func(h *segment.Header) { h.Version = 2 }), segment.ErrVersion},           // v2 has no name
		{v3(func(h *segment.Header) { h.TxLogOffset = -64 }), segment.ErrSizeMismatch},
	} {
		if _, err := c.h.MarshalBinary(); !errors.Is(err, c.want) {
			t.Errorf("encoding %+v: %v, want %v", c.h, err, c.want)
		}
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
		slots := rapid.IntRange(1, 200).Draw(t, "slots")
		// The holder: nobody, a slot, or any tag.
		word := rapid.OneOf(rapid.Just(uint32(0)), rapid.Uint32Range(1, uint32(slots)), rapid.Uint32()).Draw(t, "word")
		table := make([]segment.Slot, slots)
		for i := range table {
			if rapid.Bool().Draw(t, "attached") {
				table[i] = segment.Slot{PID: rapid.IntRange(1, 1<<30-1).Draw(t, "pid"), Attached: true}
			}
			table[i].Generation = rapid.Uint32().Draw(t, "gen")
		}
		tableEnd := int64(256 + 8*slots)
		h := segment.Header{
			Version:          2,
			HeaderSize:       256,
			TableOffset:      256,
			Slots:            slots,
			DataSize:         rapid.Int64Range(0, 1<<50).Draw(t, "size"),
			Created:          nanos("created"),
			Refreshed:        nanos("refreshed"),
			RemoveWhenUnused: rapid.Bool().Draw(t, "remove"),
			Overflow:         rapid.Uint32().Draw(t, "overflow"),
			LockWord:         word,
			LockStamp:        rapid.Uint32().Draw(t, "stamp"),
			Notify:           rapid.Uint32().Draw(t, "notify"),
			Notifications:    rapid.Uint32().Draw(t, "notifications"),
			Table:            table,
		}
		end := tableEnd
		if rapid.IntRange(0, 3).Draw(t, "version 3") > 0 {
			h.Version = 3
			h.NameOffset = tableEnd
			// Any bytes but NUL; sometimes exactly MaxName of them, cut.
			if rapid.IntRange(0, 9).Draw(t, "cut") == 0 {
				h.Name, h.NameTruncated = strings.Repeat("n", segment.MaxName), true
			} else {
				h.Name = string(rapid.SliceOfN(rapid.ByteRange(1, 255), 0, 300).Draw(t, "name"))
			}
			end = (tableEnd + int64(len(h.Name)) + 63) / 64 * 64
			if lines := rapid.IntRange(0, 1<<24).Draw(t, "log lines"); lines > 0 {
				h.TxLogOffset, h.TxLogSize = end, 64+64*int64(lines)
				end += h.TxLogSize
			}
		}
		h.DataOffset = (end+63)/64*64 + 64*rapid.Int64Range(0, 1<<20).Draw(t, "lines")
		return h
	})
}

func sameHeader(a, b segment.Header) bool {
	return a.Created.Equal(b.Created) && a.Refreshed.Equal(b.Refreshed) &&
		a.Version == b.Version && a.HeaderSize == b.HeaderSize && a.DataOffset == b.DataOffset &&
		a.DataSize == b.DataSize && a.TableOffset == b.TableOffset && a.Slots == b.Slots &&
		a.RemoveWhenUnused == b.RemoveWhenUnused && a.Overflow == b.Overflow &&
		a.LockWord == b.LockWord && a.LockStamp == b.LockStamp && a.LockHolder == b.LockHolder &&
		a.Notify == b.Notify && a.Notifications == b.Notifications && slices.Equal(a.Table, b.Table) &&
		a.Name == b.Name && a.NameTruncated == b.NameTruncated && a.NameOffset == b.NameOffset &&
		a.TxLogOffset == b.TxLogOffset && a.TxLogSize == b.TxLogSize && a.HasName() == b.HasName()
}

// TestHeader_LockHolder: the lock's holder is found in the table.
func TestHeader_LockHolder(t *testing.T) {
	table := []segment.Slot{{}, {PID: 77, Attached: true, Generation: 5}, {Generation: 9}}
	for _, c := range []struct {
		word, stamp uint32
		want        int
	}{
		{0, 0, 0},                    // free
		{2, 5, 77},                   // slot 1, its generation
		{2 | 1<<30, 5, 77},           // with the waiters bit
		{2, 4, 0},                    // an earlier generation of slot 1: not 77
		{2, 0, 77},                   // a 32-bit word: no stamp to compare
		{2 | 1<<29, 4, 77},           // a narrow holder: the other half is an earlier holder's stamp
		{3, 9, 0},                    // a free slot
		{9, 1, 0},                    // no such slot
		{segment.MaxSlots + 1, 1, 0}, // an overflow attachment: no PID
	} {
		h := segment.Header{Version: 2, HeaderSize: 256, TableOffset: 256, Slots: 3, DataOffset: 320,
			LockWord: c.word, LockStamp: c.stamp, Table: table}
		b, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := segment.ParseHeader(b, 320)
		if err != nil || got.LockHolder != c.want {
			t.Errorf("lock word %#x stamp %d: LockHolder %d, %v; want %d", c.word, c.stamp, got.LockHolder, err, c.want)
		}
	}
}

// TestHeader_RoundTrip: decode(encode(x)) == x (LockHolder, which is
// derived, aside), and NotifySeq and NotifyWaiters decode Notify.
func TestHeader_RoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genHeader().Draw(t, "h")
		b, err := h.AppendBinary([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		b = b[len("prefix"):]
		got, err := segment.ParseHeader(b, h.DataOffset+h.DataSize)
		h.LockHolder = got.LockHolder
		if err != nil || !sameHeader(got, h) {
			t.Fatalf("ParseHeader(encode(%+v)) = %+v, %v", h, got, err)
		}
		if seq, waiters := lock.SplitNotify(h.Notify); got.NotifySeq != seq || got.NotifyWaiters != waiters {
			t.Fatalf("notify word %#x decoded as sequence %d, waiters %v", h.Notify, got.NotifySeq, got.NotifyWaiters)
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

// TestOpen_Version2: a segment written by the previous release (version 2:
// no name, no undo log, the data right after the table) opens with its
// data where it was, works, and is not rewritten; ReadHeader says its name
// is unknown.
func TestOpen_Version2(t *testing.T) {
	d := segDir(t)
	h := segment.Header{Version: 2, HeaderSize: 256, TableOffset: 256, Slots: 8, DataOffset: 320, DataSize: 4096,
		Created: time.Unix(0, 1e18), Refreshed: time.Unix(0, 1e18)}
	file, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	file = append(file, make([]byte, 320-len(file))...)
	data := make([]byte, 4096)
	rand.NewChaCha8([32]byte{2}).Read(data)
	file = append(file, data...)
	path := segPath(t, d, "old")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := segment.Open("old", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !bytes.Equal(s.Bytes(), data) {
		t.Fatal("the data of a version 2 segment moved or changed")
	}
	if tx, err := s.Begin(); tx != nil || !errors.Is(err, segment.ErrNoTxLog) {
		t.Fatalf("Begin on a version 2 segment: %v, %v; want ErrNoTxLog", tx, err)
	}
	if err := s.Lock(); err != nil {
		t.Fatal(err)
	}
	s.Bytes()[0] ^= 0xff
	if err := s.Unlock(); err != nil {
		t.Fatal(err)
	}
	s.Notify()
	if s.Notifications() != 1 {
		t.Fatal("notification not counted")
	}
	info, err := s.Stat()
	if err != nil || info.Version != 2 || info.DataOffset != 320 || info.DataSize != 4096 {
		t.Fatalf("Stat: %+v, %v", info, err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rh, err := segment.ReadHeader(f)
	if err != nil || rh.Version != 2 || rh.HasName() || rh.Name != "" || rh.TxLogSize != 0 || rh.NameOffset != 0 {
		t.Fatalf("ReadHeader: %+v, %v", rh, err)
	}
	raw, _ := os.ReadFile(path)
	if ne := binary.NativeEndian; ne.Uint32(raw[8:]) != 2 || !bytes.Equal(raw[192:256], make([]byte, 64)) ||
		raw[320] != data[0]^0xff || !bytes.Equal(raw[321:], data[1:]) {
		t.Fatal("opening and using a version 2 segment rewrote its header or moved its data")
	}
}

// TestCreate_RecordsName: the header records the name as created, byte
// for byte (the empty name and any bytes but NUL included), cut to
// MaxName bytes and marked so when longer, and the data starts after it.
func TestCreate_RecordsName(t *testing.T) {
	d := segDir(t)
	long := strings.Repeat("0123456789", 500)
	for _, name := range []string{"/x", "", "a/b c\n\xff\t", strings.Repeat("y", segment.MaxName), long} {
		s, err := segment.Create(name, 100, in(d, &segment.Options{Slots: 2}))
		if err != nil {
			t.Fatalf("Create(%q): %v", name, err)
		}
		f, err := os.Open(s.Path())
		if err != nil {
			t.Fatal(err)
		}
		h, err := segment.ReadHeader(f)
		segment.CloseFile(f)
		want, cut := name, false
		if len(name) > segment.MaxName {
			want, cut = name[:segment.MaxName], true
		}
		if err != nil || !h.HasName() || h.Name != want || h.NameTruncated != cut || h.NameOffset != 256+16 ||
			h.DataOffset != (272+int64(len(want))+63)/64*64 {
			t.Fatalf("Create(%.20q): ReadHeader = Name %.20q (%d bytes), cut %v, at %d, data at %d, %v", name, h.Name, len(h.Name),
				h.NameTruncated, h.NameOffset, h.DataOffset, err)
		}
		s.Close()
		d.Unlink(name)
	}
}
