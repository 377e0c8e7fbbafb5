package segment_test

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

// TestFileSize: FileSize is the size of the file Create makes, whatever
// the slots, name and undo log, and refuses what Create refuses.
func TestFileSize(t *testing.T) {
	d := segDir(t)
	cases := []struct {
		name string
		size int
		opts segment.Options
	}{
		{"/a", 1, segment.Options{}},
		{"/b", 4096, segment.Options{Slots: 1}},
		{"/" + strings.Repeat("n", 300), 100, segment.Options{Slots: 1000, TxLog: 5000}},
		{"/" + strings.Repeat("x", segment.MaxName+10), 10, segment.Options{}},
	}
	for _, c := range cases {
		o := c.opts
		want, err := segment.FileSize(c.name, c.size, in(d, &o))
		if err != nil {
			t.Fatal(err)
		}
		s := mustCreate(t, d, c.name, c.size, &o)
		st, err := os.Stat(s.Path())
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != want {
			t.Errorf("%.10s... size %d: FileSize %d, file %d bytes", c.name, c.size, want, st.Size())
		}
	}
	for _, o := range []segment.Options{{Slots: -1}, {Slots: segment.MaxSlots + 1}, {TxLog: segment.MaxTxLog + 1}} {
		if _, err := segment.FileSize("/x", 1, in(d, &o)); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("FileSize with %+v: %v, want EINVAL", o, err)
		}
	}
	if _, err := segment.FileSize("/x", -1, nil); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("FileSize of -1 bytes: %v, want EINVAL", err)
	}
}
