package segment_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// Read access alone must not deny service (issue 19, item 3). A user who
// can only read a segment's file can take read locks on any of its bytes:
// the removal gate (byte 0), the slot table, the overflow range. These
// tests run such a user for real, as uid 65534 with setpriv(1), against
// segments of root's that are 0644.

// hangLimit is how long a test waits for a call that must not block for
// ever before it declares it blocked. It is no measure of speed: the calls
// it guards return within about a second.
const hangLimit = 30 * time.Second

// nobodyDir returns a directory for segments that uid 65534 can reach,
// and the path of a copy of this test binary that it can run. It skips
// the test unless this process is root and setpriv(1) is there.
func nobodyDir(t *testing.T) (posixshm.Dir, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a reader as uid 65534")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv(1) to run a reader as uid 65534")
	}
	d := segDir(t)
	if err := os.Chmod(string(d), 0o755); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "segment.test")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return d, bin
}

// readable makes the segment file at path readable by everyone, as a
// segment created with Perm 0644 is (OpenBSD's layout masks Perm with
// 0600, so the test sets the mode itself).
func readable(t *testing.T, path string) {
	t.Helper()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readLocker runs a process as uid 65534 that opens path read-only and
// holds a read lock (a POSIX record lock, which conflicts with open file
// description locks too) on the bytes [start, start+n) (n = 0: to the end
// of the file and beyond) until stop is called or the test ends.
func readLocker(t *testing.T, bin string, d posixshm.Dir, path string, start, n int64) (stop func()) {
	t.Helper()
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		bin, "-test.run=^TestSegment_HelperProcess$", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), segHelperEnv+"="+strings.Join([]string{"readlock", string(d), path,
		strconv.FormatInt(start, 10), strconv.FormatInt(n, 10)}, "\n"))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
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
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			in.Close() // the helper exits when its stdin closes
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("reader as uid 65534: %q, %v", line, err)
	}
	return stop
}

// helperReadLock is the helper process's "readlock" mode: args path,
// start, n.
func helperReadLock(args []string) error {
	start, _ := strconv.ParseInt(args[1], 10, 64)
	n, _ := strconv.ParseInt(args[2], 10, 64)
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart, Start: start, Len: n}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		return err
	}
	os.Stdout.WriteString("locked\n")
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// within runs fn in a goroutine and returns its error, or fails the test
// if fn has not returned after hangLimit (what blocks, then, may block
// until the test's cleanups stop the reader).
func within(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangLimit):
		t.Fatalf("%s still blocked after %v", what, hangLimit)
		return nil
	}
}

// TestDenial_CloseGateReadLocked: a reader holding a read lock on the
// removal gate made Close of a RemoveWhenUnused segment wait for ever
// (F_SETLKW for the exclusive gate), while holding the package's lock on
// this process's attachments, so that OpenOrCreate of an unrelated segment
// blocked too. Close now waits a bounded time, detaches, leaves the file
// for its next user (or gc) to remove, and says so.
func TestDenial_CloseGateReadLocked(t *testing.T) {
	d, bin := nobodyDir(t)
	s, err := segment.Create("gate", 64, in(d, &segment.Options{RemoveWhenUnused: true}))
	if err != nil {
		t.Fatal(err)
	}
	path := segPath(t, d, "gate")
	readable(t, path)
	stop := readLocker(t, bin, d, path, 0, 1)

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	err = within(t, "OpenOrCreate of an unrelated segment while Close waits for the gate", func() error {
		o, err := segment.OpenOrCreate("other", 64, in(d, nil))
		if err == nil {
			err = o.Close()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-closed:
	case <-time.After(hangLimit):
		t.Fatalf("Close of a RemoveWhenUnused segment whose gate a reader holds still blocked after %v", hangLimit)
	}
	if !errors.Is(err, segment.ErrNotRemoved) {
		t.Fatalf("Close, with the gate read-locked: %v, want an error wrapping ErrNotRemoved", err)
	}
	if !exists(t, path) {
		t.Fatal("the segment was removed although a reader held the gate")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	u, err := segment.Users(f)
	f.Close()
	if err != nil || u.InUse() {
		t.Fatalf("after Close: Users %+v, %v; want nobody attached", u, err)
	}

	// Once the reader is gone, the next user removes it (it finds every
	// other attachment dead) and starts afresh.
	stop()
	o, err := segment.OpenOrCreate("gate", 64, in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if !o.Creator() {
		t.Fatal("the next user attached to the segment left behind, rather than removing it")
	}
}

// TestDenial_OpenAloneGateReadLocked: an opener that finds every other
// attachment of a RemoveWhenUnused segment dead removes the file and
// starts afresh; with a reader on the gate, that removal waited for ever
// (under the lock on this process's attachments). Now it attaches to the
// segment as it is.
func TestDenial_OpenAloneGateReadLocked(t *testing.T) {
	d, bin := nobodyDir(t)
	a := startServer(t, d, 0, true, false)
	id := field(a.do("open dead"), "id")
	a.kill()
	path := segPath(t, d, "dead")
	readable(t, path)
	readLocker(t, bin, d, path, 0, 1)

	var s *segment.Segment
	err := within(t, "Open of a segment whose users died, its gate read-locked", func() error {
		var err error
		s, err = segment.Open("dead", in(d, nil))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := strconv.FormatUint(binary.NativeEndian.Uint64(s.Bytes()), 10); got != id {
		t.Fatalf("opened segment %s, want the dead users' %s", got, id)
	}
	err = within(t, "OpenOrCreate of an unrelated segment", func() error {
		o, err := segment.OpenOrCreate("other", 64, in(d, nil))
		if err == nil {
			err = o.Close()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDenial_TableReadLocked: one read lock over the slot table and every
// overflow byte, [256, ∞), made the owner's Open fail after a million
// fcntl calls ("every slot and 1048576 overflow attachments taken"), and
// Users and gc count 65 phantom attachments (PID 0), so that nothing ever
// removed the segment. A read lock is no attachment: Users counts none,
// the owner attaches, and gc removes the segment once its users are gone.
func TestDenial_TableReadLocked(t *testing.T) {
	d, bin := nobodyDir(t)
	s, err := segment.Create("table", 64, in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	copy(s.Bytes(), "data")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := segPath(t, d, "table")
	readable(t, path)
	readLocker(t, bin, d, path, segment.HeaderSize, 0)

	users := func() segment.Attachments {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close() // this process is not attached while it looks
		u, err := segment.Users(f)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if u := users(); u.InUse() {
		t.Errorf("Users counts a reader's read lock as attachments: %+v", u)
	}

	o, err := segment.Open("table", in(d, nil))
	if err != nil {
		t.Fatalf("the owner's Open with the table read-locked: %v", err)
	}
	if string(o.Bytes()[:4]) != "data" {
		t.Fatalf("data %q", o.Bytes()[:4])
	}
	// No byte was free: the owner is attached by holding the removal gate
	// shared ("pinned"), which Users does not see, and which keeps gc out.
	if u, err := o.Attached(); err != nil || u.Count() != 1 || u.Overflow != 1 {
		t.Errorf("Attached of the pinned owner: %+v, %v; want itself, as overflow", u, err)
	}
	// gc runs in another process: this one is attached.
	if out := removeUnusedHelper(t, d, "table"); !strings.Contains(out, "resource temporarily unavailable") {
		t.Fatalf("gc while the owner is attached: %s; want EAGAIN", out)
	}
	if !exists(t, path) {
		t.Fatal("gc removed a segment in use")
	}

	// A pinned lock holder that dies is recovered: another process,
	// pinned too, takes the lock and is killed holding it.
	b := startServer(t, d, 0, false, false)
	b.do("openx table")
	b.do("lock")
	b.kill()
	if err := o.Lock(); !errors.Is(err, lock.ErrOwnerDead) {
		t.Fatalf("Lock after a pinned holder died: %v, want lock.ErrOwnerDead", err)
	}
	if err := o.Unlock(); err != nil {
		t.Fatal(err)
	}

	// What the reader can hold up (see the package documentation): with
	// the gate read-locked too, a pinned holder killed with the lock is
	// judged alive until the reader lets go of the gate.
	stopGate := readLocker(t, bin, d, path, 0, 1)
	b = startServer(t, d, 0, false, false)
	b.do("openx table")
	b.do("lock")
	b.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err = o.LockContext(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockContext while a reader holds the gate and a pinned holder died: %v; want the holder judged alive", err)
	}
	stopGate()
	if err := o.Lock(); !errors.Is(err, lock.ErrOwnerDead) {
		t.Fatalf("Lock after the reader let go of the gate: %v, want lock.ErrOwnerDead", err)
	}
	if err := o.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}

	// gc, with the reader still there and nobody attached.
	f := openRW(t, d, "table")
	defer f.Close()
	u, removed, err := segment.RemoveUnused(f, d, "table", func(segment.Header) bool { return true })
	if err != nil || !removed {
		t.Fatalf("RemoveUnused with a reader's read lock on the table: %+v, removed %v, %v", u, removed, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after gc: %v", err)
	}
}

// removeUnusedHelper runs RemoveUnused of the segment name (removing it if
// unused) in a helper process, as gc does, and returns what it said.
func removeUnusedHelper(t *testing.T, d posixshm.Dir, name string) string {
	t.Helper()
	out, err := segHelper(t, d, "removeunused", name).Output()
	if err != nil {
		t.Fatalf("removeunused helper: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// helperRemoveUnused is the helper process's "removeunused" mode.
func helperRemoveUnused(d posixshm.Dir, name string) error {
	p, err := d.Path(name)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	u, removed, err := segment.RemoveUnused(f, d, name, func(segment.Header) bool { return true })
	fmt.Printf("users %d removed %v err %v\n", u.Count(), removed, err)
	return nil
}
