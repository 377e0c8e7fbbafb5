package segment_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/internal/inode"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// Hard links to a segment's file, made by another process, must not
// detach this one. With POSIX record locks (OpenBSD, -tags openbsdsim)
// closing ANY descriptor of the file drops all of the process's locks on
// it, so no path of the library may close a descriptor of a file the
// process is attached to: not when it refuses the file for its links, not
// when it retries.

const linkHelperEnv = "POSIXSHM_LINK_HELPER"

// TestLinks_HelperProcess is not a test: it is the racing linker
// ("link FROM TO": link FROM at TO and remove it again, until killed) or
// the observer ("watch DIR NAME PID": until its stdin closes, check
// that PID is attached to the segment NAME, and try to remove it as gc
// does; then print how often PID was missing, how often the segment was
// removed, and how often its name led nowhere).
func TestLinks_HelperProcess(t *testing.T) {
	spec, ok := os.LookupEnv(linkHelperEnv)
	if !ok {
		t.Skip("helper process only")
	}
	args := strings.Split(spec, "\n")
	switch args[0] {
	case "link":
		fmt.Println("ready")
		for {
			os.Link(args[1], args[2])
			os.Remove(args[2])
		}
	case "watch":
		d, name := posixshm.Dir(args[1]), args[2]
		pid, _ := strconv.Atoi(args[3])
		path, _ := d.Path(name)
		done := make(chan struct{})
		go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
		checks, missing, removed, gone := 0, 0, 0, 0
		for {
			select {
			case <-done:
				fmt.Printf("checks=%d missing=%d removed=%d gone=%d\n", checks, missing, removed, gone)
				os.Exit(0)
			default:
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				gone++
				time.Sleep(time.Millisecond)
				continue
			}
			u, err := segment.Users(f)
			if err == nil {
				checks++
				if !strings.Contains(","+joinPIDs(u.PIDs)+",", ","+strconv.Itoa(pid)+",") {
					missing++
				}
			}
			// As posixshm gc --min-age 0s does.
			if _, ok, _ := segment.RemoveUnused(f, d, name, func(segment.Header) bool { return true }); ok {
				removed++
			}
			f.Close()
			time.Sleep(200 * time.Microsecond)
		}
	}
	os.Exit(2)
}

// linkHelper starts a TestLinks_HelperProcess with args and returns it
// with its stdin and stdout.
func linkHelper(t *testing.T, args ...string) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLinks_HelperProcess$", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), linkHelperEnv+"="+strings.Join(args, "\n"))
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
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
		}
	})
	return cmd, in, bufio.NewReader(out)
}

// TestOpen_HardLinkRace: while this process stays attached to a segment,
// another process links the segment's file at a second name and removes
// that link again, in a loop, and this process opens the second name (as
// a segment, and with the layout's Open), which the library refuses
// (the file has two links) or finds missing. A third process watches:
// this process must stay attached in its eyes throughout, and its gc
// must never remove the segment.
func TestOpen_HardLinkRace(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	// A directory others may write, without the sticky bit: there the
	// layout's Open checks that the name it opened is the file's only
	// one, so it never accepts the file while the second link exists.
	if err := os.Chmod(string(d), 0o777); err != nil {
		t.Fatal(err)
	}
	s := mustCreate(t, d, "attached", 64, nil)
	defer s.Close()
	other := segPath(t, d, "other")
	linker, _, lout := linkHelper(t, "link", s.Path(), other)
	if line, err := lout.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("linker: %q, %v", line, err)
	}
	watcher, win, wout := linkHelper(t, "watch", string(d), "attached", strconv.Itoa(os.Getpid()))
	fds := openFiles(t)
	refused, opened, accepted := 0, 0, 0
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		if o, err := segment.Open("other", in(d, nil)); err == nil {
			opened++ // it found the file linked, with one link: it joined
			o.Close()
		} else if errors.Is(err, syscall.EPERM) {
			refused++
		}
		if f, err := d.Open("other", os.O_RDWR, 0); err == nil {
			// The name was the file's only one when the one-link check
			// looked (on Linux, that lookup can race with unlink(2)
			// where the OpenBSD build has no link check of its own:
			// links_other.go). Closing it now would be the user's own
			// close, which the package documentation warns of.
			accepted++
			defer f.Close()
		} else if errors.Is(err, syscall.EPERM) {
			refused++
		}
	}
	linker.Process.Signal(syscall.SIGKILL)
	linker.Wait()
	// Every descriptor the library opened of the file by the name
	// "other" and did not close is still open: at most MaxParked.
	if kept := openFiles(t) - fds - accepted; kept > inode.MaxParked {
		t.Errorf("%d descriptors kept open, more than %d", kept, inode.MaxParked)
	} else {
		t.Logf("%d descriptors kept open until the segment is closed", kept)
	}
	win.Close()
	line, err := wout.ReadString('\n')
	watcher.Wait()
	t.Logf("%d refusals, %d joins, %d files the layout's Open accepted; watcher: %s", refused, opened, accepted, strings.TrimSpace(line))
	if err != nil || !strings.HasPrefix(line, "checks=") {
		t.Fatalf("watcher: %q, %v", line, err)
	}
	if refused == 0 {
		t.Error("no open was refused: the race did not happen")
	}
	if field(line, "missing") != "0" || field(line, "removed") != "0" || field(line, "gone") != "0" {
		t.Errorf("this process was detached in another's eyes: %s", line)
	}
	if info, err := s.Stat(); err != nil || info.Unlinked {
		t.Errorf("after the race: %+v, %v; want the segment still named", info, err)
	}
	if u, err := s.Attached(); err != nil || len(u.PIDs) != 1 {
		t.Errorf("after the race: %+v, %v", u, err)
	}
}

// openFiles is the number of this process's open descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(des)
}

// TestOpen_RefusesHardLinks: segment.Open refuses a file with more than
// one link, as the layout's Open does, also when this process is attached
// to it already (where it would otherwise join the attachment without
// opening the file).
func TestOpen_RefusesHardLinks(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "linked", 64, nil)
	defer s.Close()
	if err := os.Link(s.Path(), segPath(t, d, "second")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"linked", "second"} {
		o, err := segment.Open(name, in(d, nil))
		if err == nil {
			o.Close()
		}
		var pe *os.PathError
		if !errors.Is(err, syscall.EPERM) || !errors.As(err, &pe) || pe.Path != name || !strings.Contains(err.Error(), "hard links") {
			t.Errorf("Open(%q) of a file with two links: %v; want EPERM naming it", name, err)
		}
	}
}

// TestCloseFile_KeepsAttachment: a descriptor of the segment's file that
// the user opened and closes with CloseFile does not detach the process
// (with f.Close it would, under POSIX record locks: TestRecordLockTrap),
// and is closed once the segment is.
func TestCloseFile_KeepsAttachment(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	s := mustCreate(t, d, "kept", 64, nil)
	me := strconv.Itoa(os.Getpid())
	other := startServer(t, d, 0, false, false)
	before := openFiles(t)
	f, err := os.Open(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := segment.Users(f); err != nil {
		t.Fatal(err)
	}
	if err := segment.CloseFile(f); err != nil {
		t.Fatal(err)
	}
	if got := other.do("fileusers " + s.Path()); got != "pids="+me+" overflow=0" {
		t.Fatalf("after CloseFile: %s", got)
	}
	if n := openFiles(t); n != before+1 {
		t.Errorf("%d descriptors, want %d (the one CloseFile keeps)", n, before+1)
	}
	s.Close()
	if n := openFiles(t); n != before-1 {
		t.Errorf("after Close: %d descriptors, want %d", n, before-1)
	}
}
