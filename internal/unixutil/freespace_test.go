package unixutil_test

import (
	"os"
	"testing"

	"github.com/posixshm/posixshm/internal/unixutil"
)

// TestFreeSpace: what statfs(2) says of the file system of a directory,
// in bytes and in order: size, free, free for users other than root.
func TestFreeSpace(t *testing.T) {
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sp, err := unixutil.FreeSpace(int(d.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if sp.Total <= 0 || sp.Free > sp.Total || sp.Avail > sp.Free || sp.Avail < 0 {
		t.Fatalf("FreeSpace = %+v", sp)
	}
}
