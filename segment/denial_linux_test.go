package segment_test

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/segment"
)

func init() { helperModes["readlocks"] = helperReadLocks }

// helperReadLocks is the helper process's "readlocks" mode: args path,
// k. It read-locks the slot table, [HeaderSize, OverflowBase), and each
// of the overflow bytes OverflowBase+0 .. OverflowBase+k-1 through an open
// file description of its own, so that the locks neither merge nor can be
// passed in one step, and waits for its stdin to close.
func helperReadLocks(args []string) error {
	k, _ := strconv.Atoi(args[1])
	lockOne := func(start, n int64) error {
		f, err := os.Open(args[0]) // kept open: closing it drops the lock
		if err != nil {
			return err
		}
		lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart, Start: start, Len: n}
		return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	}
	if err := lockOne(segment.HeaderSize, segment.OverflowBase-segment.HeaderSize); err != nil {
		return err
	}
	for i := range int64(k) {
		if err := lockOne(segment.OverflowBase+i, 1); err != nil {
			return err
		}
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// TestDenial_OverflowProbesBounded: a search for a free overflow byte
// made one fcntl call per byte, a million before it gave up. Now each
// failed try skips the lock in its way, and the search stops after
// MaxOverflowProbes tries: with fewer read locks of distinct owners in the
// way than that, the opener attaches at the first free byte after them
// (gc, in another process, sees it); with more, it attaches pinned (gc
// finds the removal gate held).
func TestDenial_OverflowProbesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, c := range []struct {
		locks int
		want  string
	}{
		{100, "users 1 removed false err <nil>"},
		{segment.MaxOverflowProbes + 100, "resource temporarily unavailable"},
	} {
		t.Run(strconv.Itoa(c.locks), func(t *testing.T) {
			d := segDir(t)
			s, err := segment.Create("many", 64, in(d, &segment.Options{Slots: 1}))
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			cmd := segHelper(t, d, "readlocks", segPath(t, d, "many"), strconv.Itoa(c.locks))
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			b := make([]byte, len("locked\n"))
			if _, err := io.ReadFull(out, b); err != nil || string(b) != "locked\n" {
				t.Fatalf("read-locker: %q, %v", b, err)
			}
			o, err := segment.Open("many", in(d, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if got := removeUnusedHelper(t, d, "many"); !strings.Contains(got, c.want) {
				t.Fatalf("gc with %d read locks in the way: %s; want %q", c.locks, got, c.want)
			}
		})
	}
}
