package segment_test

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// openRW opens the file of segment name in d for reading and writing, as
// RemoveUnused needs it.
func openRW(t *testing.T, d posixshm.Dir, name string) *os.File {
	t.Helper()
	f, err := os.OpenFile(segPath(t, d, name), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestRemoveUnused: a segment nobody is attached to is removed if remove
// agrees, which it is asked with the header; otherwise it stays.
func TestRemoveUnused(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "unused", 64, nil)
	s.Close()
	f := openRW(t, d, "unused")
	var asked []segment.Header
	u, removed, err := segment.RemoveUnused(f, d, "unused", func(h segment.Header) bool {
		asked = append(asked, h)
		return false
	})
	if err != nil || removed || u.InUse() || len(asked) != 1 || asked[0].DataSize != 64 {
		t.Fatalf("RemoveUnused refused by remove: %+v, %v, %v; asked %+v", u, removed, err, asked)
	}
	if !exists(t, s.Path()) {
		t.Fatal("removed although remove said no")
	}
	u, removed, err = segment.RemoveUnused(f, d, "unused", func(segment.Header) bool { return true })
	if err != nil || !removed || u.InUse() {
		t.Fatalf("RemoveUnused: %+v, %v, %v; want removed", u, removed, err)
	}
	if exists(t, s.Path()) {
		t.Fatal("the file remains")
	}
}

// TestRemoveUnused_Attached: a segment another process is attached to is
// kept, and remove is not even asked; once that process is killed with
// SIGKILL the segment is unused and removed.
func TestRemoveUnused_Attached(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	user := startServer(t, d, 0, false, false)
	user.do("open att")
	f := openRW(t, d, "att")
	u, removed, err := segment.RemoveUnused(f, d, "att", func(segment.Header) bool {
		t.Error("remove asked about a segment in use")
		return true
	})
	if err != nil || removed || !slices.Equal(u.PIDs, []int{user.pid}) {
		t.Fatalf("RemoveUnused with pid %d attached: %+v, %v, %v", user.pid, u, removed, err)
	}
	user.kill()
	u, removed, err = segment.RemoveUnused(f, d, "att", func(segment.Header) bool { return true })
	if err != nil || !removed || u.InUse() {
		t.Fatalf("RemoveUnused after its user was killed: %+v, %v, %v; want removed", u, removed, err)
	}
	if exists(t, segPath(t, d, "att")) {
		t.Fatal("the file remains")
	}
}

// TestRemoveUnused_ThisProcess: this process's own attachment counts.
func TestRemoveUnused_ThisProcess(t *testing.T) {
	d := segDir(t)
	mustCreate(t, d, "mine", 64, nil)
	f := openRW(t, d, "mine")
	u, removed, err := segment.RemoveUnused(f, d, "mine", func(segment.Header) bool { return true })
	if err != nil || removed || !slices.Equal(u.PIDs, []int{os.Getpid()}) {
		t.Fatalf("RemoveUnused of our own segment: %+v, %v, %v; want in use by us", u, removed, err)
	}
	if !exists(t, segPath(t, d, "mine")) {
		t.Fatal("removed")
	}
}

// TestRemoveUnused_NameReused: if the name was removed and given to a new
// segment after the caller opened the file, the new segment stays.
func TestRemoveUnused_NameReused(t *testing.T) {
	d := segDir(t)
	mustCreate(t, d, "reused", 64, nil).Close()
	f := openRW(t, d, "reused")
	if err := d.Unlink("reused"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, d, "reused", 64, nil).Close()
	_, removed, err := segment.RemoveUnused(f, d, "reused", func(segment.Header) bool { return true })
	if removed || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("RemoveUnused of a file whose name leads elsewhere: %v, %v; want fs.ErrNotExist", removed, err)
	}
	if !exists(t, segPath(t, d, "reused")) {
		t.Fatal("the new segment under the name was removed")
	}
}

// TestRemoveUnused_NotSegment: other files are refused with ReadHeader's
// errors, files that merely begin with zeros included; a read-only
// descriptor cannot take the gate.
func TestRemoveUnused_NotSegment(t *testing.T) {
	d := segDir(t)
	yes := func(segment.Header) bool { t.Error("remove asked about a file that is no segment"); return true }
	for name, content := range map[string][]byte{
		"text":  []byte("not a segment, but long enough to hold a header's first fields......"),
		"zeros": make([]byte, 4096),
	} {
		p := segPath(t, d, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		f := openRW(t, d, name)
		_, removed, err := segment.RemoveUnused(f, d, name, yes)
		want := segment.ErrNotSegment
		if name == "zeros" {
			want = segment.ErrNotInitialized
		}
		if removed || !errors.Is(err, want) {
			t.Errorf("%s: RemoveUnused: %v, %v; want %v", name, removed, err, want)
		}
		if !exists(t, p) {
			t.Errorf("%s: removed", name)
		}
	}
	mustCreate(t, d, "ro", 64, nil).Close()
	f, err := os.Open(segPath(t, d, "ro"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, removed, err := segment.RemoveUnused(f, d, "ro", yes); removed || !errors.Is(err, syscall.EBADF) {
		t.Errorf("RemoveUnused through a read-only descriptor: %v, %v; want EBADF", removed, err)
	}
}

// TestRemoveUnused_Unpublished: a file whose creator is still setting it
// up is busy (EAGAIN, at once); once the creator is killed before it
// publishes the header, the file is a segment nobody can be attached to,
// and remove is asked with the header the creator wrote. (Only a layout
// that cannot link leaves such files: see TestCreate_KilledBeforePublishing.)
func TestRemoveUnused_Unpublished(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	creator := startServer(t, d, 0, false, false, "publishwait=60000000", "named")
	creator.send("open unpub")
	// Not just until the file has a size: the header, which the remover
	// must find intact, is written after that.
	creator.expect("publishing")
	f := openRW(t, d, "unpub")
	// At once: the probe of the creation lock answers, not a wait for
	// the gate (which would end in "busy" after gateWait).
	_, removed, err := segment.RemoveUnused(f, d, "unpub", func(segment.Header) bool { return true })
	if removed || !errors.Is(err, syscall.EAGAIN) || err == nil || !strings.Contains(err.Error(), "its creator is still setting it up") {
		t.Fatalf("RemoveUnused while the creator lives: %v, %v; want EAGAIN from the creation lock's probe", removed, err)
	}
	creator.kill()
	var got segment.Header
	_, removed, err = segment.RemoveUnused(f, d, "unpub", func(h segment.Header) bool { got = h; return true })
	if err != nil || !removed || got.DataSize != 64 || got.Created.IsZero() {
		t.Fatalf("RemoveUnused after the creator died: %v, %v, header %+v; want removed", removed, err, got)
	}
}

// TestRemoveUnused_RacingOpener: an opener that mapped the file before the
// removal and attaches after it must not stay attached to the removed
// file: it finds no segment. One that attached first (it holds the gate
// while it checks the name) keeps the segment: the remover waits for the
// gate, then sees it attached. Both in this process: open file
// description locks (Linux) conflict within a process; with POSIX locks
// the opener waits for the process's own record of the removal.
func TestRemoveUnused_RacingOpener(t *testing.T) {
	d := segDir(t)
	type result struct {
		s   *segment.Segment
		err error
	}
	yes := func(segment.Header) bool { return true }
	for _, attachFirst := range []bool{false, true} {
		mustCreate(t, d, "race", 64, nil).Close()
		f := openRW(t, d, "race")
		paused, resume := make(chan bool), make(chan bool)
		hook := func() { paused <- true; <-resume }
		var undo func()
		if attachFirst {
			undo = segment.SetClaimedHook(hook) // claimed, holding the gate
		} else {
			undo = segment.SetAttachHook(hook) // mapped, not attached
		}
		res := make(chan result)
		go func() {
			s, err := segment.Open("race", in(d, nil))
			res <- result{s, err}
		}()
		<-paused
		undo()
		if attachFirst {
			go func() { time.Sleep(100 * time.Millisecond); resume <- true }()
		}
		u, removed, err := segment.RemoveUnused(f, d, "race", yes)
		if !attachFirst {
			resume <- true
		}
		r := <-res
		if attachFirst {
			if err != nil || removed || !slices.Equal(u.PIDs, []int{os.Getpid()}) || r.err != nil {
				t.Fatalf("opener attached first: RemoveUnused %+v, %v, %v; Open %v", u, removed, err, r.err)
			}
			if info, err := r.s.Stat(); err != nil || info.Unlinked {
				t.Fatalf("opener attached first: %+v, %v", info, err)
			}
			r.s.Close()
			d.Unlink("race")
			continue
		}
		if err != nil || !removed {
			t.Fatalf("RemoveUnused while an opener had only mapped the file: %v, %v; want removed", removed, err)
		}
		if !errors.Is(r.err, fs.ErrNotExist) {
			if r.s != nil {
				info, _ := r.s.Stat()
				r.s.Close()
				t.Fatalf("Open racing the removal attached (unlinked %v); want fs.ErrNotExist", info.Unlinked)
			}
			t.Fatalf("Open racing the removal: %v; want fs.ErrNotExist", r.err)
		}
	}
}

// TestUsers_LockHolder: the lock's holder is judged by its attachment:
// alive while its process lives, dead once it is killed holding the lock,
// with a slot or without one (overflow, where Header.LockHolder is 0).
func TestUsers_LockHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	if !segment.OFDLocks {
		t.Skip("closes descriptors of a segment this process is attached to: POSIX locks would go with them")
	}
	d := segDir(t)
	for _, slots := range []int{0, 1} {
		name := "holder" + string(rune('0'+slots))
		s := mustCreate(t, d, name, 64, &segment.Options{Slots: slots})
		check := func(when string, held, dead bool, pid int) {
			t.Helper()
			f, err := os.Open(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			h, err := segment.ReadHeader(f)
			if err != nil {
				t.Fatal(err)
			}
			u, err := segment.Users(f)
			f.Close() // Linux: open file description locks, no trap
			if err != nil || u.LockHeld != held || u.LockOwnerDead != dead || h.LockHolder != pid {
				t.Fatalf("slots %d, %s: Users %+v, %v, LockHolder %d; want held %v, dead %v, pid %d",
					slots, when, u, err, h.LockHolder, held, dead, pid)
			}
		}
		check("free", false, false, 0)
		cmd := segHold(t, d, name)
		pid := cmd.Process.Pid
		if slots == 1 {
			pid = 0 // the holder has no slot: we took the only one
		}
		check("held", true, false, pid)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		check("holder killed", true, true, pid)
		if err := s.Lock(); !errors.Is(err, lock.ErrOwnerDead) {
			t.Fatalf("Lock: %v, want ErrOwnerDead", err)
		}
		check("recovered by us", true, false, os.Getpid())
		s.Unlock()
		check("unlocked", false, false, 0)
	}
}

// TestRemoveUnused_OpenerInThisProcess: RemoveUnused and an Open of the
// same segment by another goroutine of the same process, the opener
// attaching after RemoveUnused found nobody attached and before it
// unlinks. The opener must not end up attached to the removed file: it
// either keeps the segment (RemoveUnused sees it) or finds it gone.
// POSIX record locks (OpenBSD; -tags openbsdsim) never conflict within a
// process, so the removal gate alone cannot keep this process's opener
// out; on Linux the opener waits for the gate.
func TestRemoveUnused_OpenerInThisProcess(t *testing.T) {
	d := segDir(t)
	mustCreate(t, d, "race", 64, nil).Close()
	f := openRW(t, d, "race")
	type result struct {
		s   *segment.Segment
		err error
	}
	paused, resume := make(chan bool), make(chan bool)
	undoAttach := segment.SetAttachHook(func() { paused <- true; <-resume })
	res := make(chan result, 1)
	go func() {
		s, err := segment.Open("race", in(d, nil))
		res <- result{s, err}
	}()
	<-paused // mapped, not attached
	undoAttach()
	var r *result
	undoRemove := segment.SetRemoveHook(func() {
		// RemoveUnused has found nobody attached: let the opener go on,
		// and give it time to attach (on Linux it waits for the gate).
		resume <- true
		select {
		case got := <-res:
			r = &got
		case <-time.After(300 * time.Millisecond):
		}
	})
	defer undoRemove()
	_, removed, err := segment.RemoveUnused(f, d, "race", func(segment.Header) bool { return true })
	if r == nil {
		got := <-res
		r = &got
	}
	if r.err != nil {
		if !errors.Is(r.err, fs.ErrNotExist) {
			t.Fatalf("Open racing the removal: %v; want fs.ErrNotExist", r.err)
		}
		if err != nil || !removed {
			t.Fatalf("RemoveUnused: removed %v, %v; want removed", removed, err)
		}
		return
	}
	defer r.s.Close()
	info, serr := r.s.Stat()
	if serr != nil || info.Unlinked || removed {
		t.Fatalf("the opener attached (Stat: unlinked %v, %v) and RemoveUnused removed %v (%v): an attached process left with a removed segment", info.Unlinked, serr, removed, err)
	}
}
