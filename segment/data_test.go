package segment_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"testing"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

func TestSegment_ReadAtWriteAt(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "rw", 16, nil)
	if n, err := s.WriteAt([]byte("hello"), 11); n != 5 || err != nil {
		t.Fatalf("WriteAt at the end: %d, %v", n, err)
	}
	if string(s.Bytes()[11:]) != "hello" {
		t.Fatalf("Bytes after WriteAt: %q", s.Bytes())
	}
	for _, c := range []struct {
		off     int64
		n       int
		want    string
		wantErr error
	}{
		{11, 5, "hello", nil},
		{11, 8, "hello", io.EOF}, // short: the data region ends
		{16, 1, "", io.EOF},
		{17, 1, "", io.EOF},
		{16, 0, "", nil},
		{-1, 1, "", nil}, // an error of its own
	} {
		p := make([]byte, c.n)
		n, err := s.ReadAt(p, c.off)
		if c.off < 0 {
			if err == nil || n != 0 {
				t.Errorf("ReadAt at %d: %d, %v; want an error", c.off, n, err)
			}
			continue
		}
		if string(p[:n]) != c.want || err != c.wantErr {
			t.Errorf("ReadAt(%d bytes at %d) = %q, %v; want %q, %v", c.n, c.off, p[:n], err, c.want, c.wantErr)
		}
	}
	// All or nothing.
	if n, err := s.WriteAt([]byte("toolong"), 12); n != 0 || !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("WriteAt past the end: %d, %v; want 0, io.ErrShortWrite", n, err)
	}
	if string(s.Bytes()[11:]) != "hello" {
		t.Fatalf("a WriteAt that did not fit wrote: %q", s.Bytes())
	}
	if n, err := s.WriteAt([]byte("x"), -1); n != 0 || err == nil {
		t.Fatalf("WriteAt at -1: %d, %v", n, err)
	}
	s.Close()
	if _, err := s.ReadAt(make([]byte, 1), 0); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("ReadAt after Close: %v", err)
	}
	if _, err := s.WriteAt([]byte("x"), 0); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("WriteAt after Close: %v", err)
	}
}

// ReadAt and WriteAt copy in and out of the data region and return an
// error where touching Bytes would fault: when another process has
// truncated the file under the mapping.
func ExampleSegment_ReadAt() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	opts := &segment.Options{Layout: posixshm.Dir(dir)}
	s, err := segment.Create("/data", 64, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	if _, err := s.WriteAt([]byte("copied in"), 0); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 9)
	if _, err := s.ReadAt(buf, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", buf)

	// Another process (here, this one) truncates the file.
	if err := os.Truncate(s.Path(), 0); err != nil {
		log.Fatal(err)
	}
	_, err = s.ReadAt(buf, 0)
	fmt.Println(errors.Is(err, segment.ErrTruncated))
	// Output:
	// copied in
	// true
}
