package sem_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/sem"
)

func eightDaysAgo() time.Time {
	return time.Now().Add(-8*24*time.Hour - time.Hour).Truncate(time.Microsecond)
}

// atime returns the access time of the file at path.
func atime(t *testing.T, path string) time.Time {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return time.Unix(st.Atim.Unix())
}

func fresh(at time.Time) bool { return time.Since(at) < time.Hour }

// TestRefresh_OnOpen: opening a semaphore whose file looks unused for
// days sets its times to now; one recently used is left alone.
func TestRefresh_OnOpen(t *testing.T) {
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			mustOpen(t, l, "/r", os.O_CREATE, 0).Close()
			p, _ := l.Path("/r")
			old := eightDaysAgo()
			os.Chtimes(p, old, old)
			mustOpen(t, l, "/r", 0, 0)
			if at := atime(t, p); !fresh(at) {
				t.Errorf("after Open of a stale semaphore: atime %v", at)
			}
			// A fresh one is not refreshed: futimes would move the
			// modification time too. (Mapping it may move the access
			// time: Linux's relatime does so when it is not after the
			// modification time, for C's sem_open as well.)
			recent := time.Now().Add(-time.Minute).Truncate(time.Second)
			os.Chtimes(p, recent, recent)
			mustOpen(t, l, "/r", 0, 0)
			if st, err := os.Stat(p); err != nil || !st.ModTime().Equal(recent) {
				t.Errorf("Open of a fresh semaphore refreshed it: mtime %v, was %v", st.ModTime(), recent)
			}
		})
	}
}

// TestRefresh_OnUse: a semaphore kept open refreshes its file once the
// interval has passed, at the next post or take.
func TestRefresh_OnUse(t *testing.T) {
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			s := mustOpen(t, l, "/u", os.O_CREATE, 0)
			s.SetRefreshInterval(20 * time.Millisecond)
			old := eightDaysAgo()
			os.Chtimes(s.Path(), old, old)
			waitFor(t, time.Minute, "a post to refresh the file", func() bool {
				s.Post()
				s.TryWait()
				return fresh(atime(t, s.Path()))
			})
			// Off: the times stay.
			s.SetRefreshInterval(0)
			os.Chtimes(s.Path(), old, old)
			time.Sleep(50 * time.Millisecond)
			s.Post()
			s.TryWait()
			if at := atime(t, s.Path()); !at.Equal(old) {
				t.Errorf("with refreshing off, a post moved the atime to %v", at)
			}
			if err := s.Refresh(); err != nil {
				t.Fatal(err)
			}
			if at := atime(t, s.Path()); !fresh(at) {
				t.Errorf("after Refresh: atime %v", at)
			}
		})
	}
}

// TestRefresh_Waiter: a process that only waits keeps the file fresh too.
func TestRefresh_Waiter(t *testing.T) {
	l := sem.Dir(t.TempDir())
	s := mustOpen(t, l, "/w", os.O_CREATE, 0)
	s.SetRefreshInterval(20 * time.Millisecond)
	old := eightDaysAgo()
	os.Chtimes(s.Path(), old, old)
	errc := make(chan error, 1)
	go func() { errc <- s.Wait() }()
	waitFor(t, time.Minute, "the waiter to refresh the file", func() bool { return fresh(atime(t, s.Path())) })
	s.Post()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// sweep runs daily(8)'s /tmp sweep, in its Linux form (GNU find has no
// -x), in dir: with action "-print" it only lists what it would remove.
func sweep(t *testing.T, dir string, action ...string) []string {
	t.Helper()
	args := append([]string{".", "-xdev", "-type", "f", "-atime", "+7"}, action...)
	cmd := exec.Command("find", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("find %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	files := strings.Fields(string(out))
	slices.Sort(files)
	return files
}

// TestDaily_Sweep runs the real find(1) command of OpenBSD's daily(8) over
// semaphores in OpenBSD's layout aged eight days: those used through this
// package survive it, the idle one is removed.
func TestDaily_Sweep(t *testing.T) {
	if _, err := exec.LookPath("find"); err != nil {
		t.Skip("no find(1)")
	}
	dir := t.TempDir()
	d := sem.Dir(dir)
	base := func(name string) string {
		p, _ := d.Path(name)
		return "./" + filepath.Base(p)
	}
	// kept stays open and is only posted to; idle is made and left.
	kept := mustOpen(t, d, "/kept", os.O_CREATE, 0)
	kept.SetRefreshInterval(20 * time.Millisecond)
	for _, name := range []string{"/opened", "/idle"} {
		mustOpen(t, d, name, os.O_CREATE, 1).Close()
	}
	old := eightDaysAgo()
	for _, name := range []string{"/kept", "/opened", "/idle"} {
		p, _ := d.Path(name)
		os.Chtimes(p, old, old)
	}
	all := []string{base("/idle"), base("/kept"), base("/opened")}
	slices.Sort(all)
	if got := sweep(t, dir, "-print"); !slices.Equal(got, all) {
		t.Fatalf("before use, the sweep would remove %v, want %v", got, all)
	}

	mustOpen(t, d, "/opened", 0, 0).Close()
	time.Sleep(50 * time.Millisecond) // kept's interval has passed
	if err := kept.Post(); err != nil {
		t.Fatal(err)
	}
	sweep(t, dir, "-execdir", "rm", "-f", "--", "{}", ";")

	for _, name := range []string{"/opened", "/kept"} {
		if s, err := d.Open(name, 0, 0, 0); err != nil {
			t.Errorf("%s, used, did not survive daily(8): %v", name, err)
		} else {
			s.Close()
		}
	}
	if _, err := d.Open("/idle", 0, 0, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the idle semaphore survived daily(8): %v", err)
	}
	// The symptom the refresh prevents: kept's value is still there for
	// whoever has it open, but a new process could not have opened it.
	if v, _ := kept.Value(); v != 1 {
		t.Errorf("kept's value %d", v)
	}
}
