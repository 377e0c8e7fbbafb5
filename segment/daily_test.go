package segment_test

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

	"github.com/posixshm/posixshm/segment"
)

// sweep runs daily(8)'s /tmp sweep, in its Linux form (GNU find has no -x),
// in dir: with action "-print" it only lists what it would remove.
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
// segments aged eight days: those used through the package survive it,
// idle ones and ones used with refresh-on-use off are removed.
func TestDaily_Sweep(t *testing.T) {
	if _, err := exec.LookPath("find"); err != nil {
		t.Skip("no find(1)")
	}
	d := segDir(t)
	base := func(name string) string { return "./" + filepath.Base(segPath(t, d, name)) }

	// idle is created and kept mapped, but never used again.
	idle := mustCreate(t, d, "idle", 64, nil)
	copy(idle.Bytes(), "idle data")
	// locked stays open and is used only by taking its lock.
	locked := mustCreate(t, d, "locked", 64, &segment.Options{RefreshInterval: 50 * time.Millisecond})
	for _, name := range []string{"opened", "norefresh"} {
		mustCreate(t, d, name, 64, nil).Close()
	}
	old := eightDaysAgo()
	for _, name := range []string{"idle", "locked", "opened", "norefresh"} {
		if err := os.Chtimes(segPath(t, d, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	// The ageing worked: daily(8) would now remove all four.
	all := []string{base("idle"), base("locked"), base("norefresh"), base("opened")}
	slices.Sort(all)
	if got := sweep(t, string(d), "-print"); !slices.Equal(got, all) {
		t.Fatalf("before use, the sweep would remove %v, want %v", got, all)
	}

	// Use three of them.
	use := func(name string, opts *segment.Options) {
		s, err := segment.Open(name, in(d, opts))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Lock(); err != nil {
			t.Fatal(err)
		}
		copy(s.Bytes(), "used by "+name)
		if err := s.Unlock(); err != nil {
			t.Fatal(err)
		}
	}
	use("opened", nil)
	// The same use without refresh-on-use: mapping, locking and writing
	// alone do not update the times, so this one must still go.
	use("norefresh", &segment.Options{RefreshInterval: -1})
	time.Sleep(100 * time.Millisecond) // locked's shared stamp is now stale
	if err := locked.Lock(); err != nil {
		t.Fatal(err)
	}
	locked.Unlock()

	sweep(t, string(d), "-execdir", "rm", "-f", "--", "{}", ";")

	for _, name := range []string{"opened", "locked"} {
		s, err := segment.Open(name, in(d, nil))
		if err != nil {
			t.Fatalf("%s, used, did not survive daily(8): %v", name, err)
		}
		s.Close()
	}
	for _, name := range []string{"idle", "norefresh"} {
		if _, err := os.Stat(segPath(t, d, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s, not refreshed, survived daily(8): %v", name, err)
		}
	}
	// The symptom: the idle segment is still shared by whoever maps it, but
	// nobody can open it any more.
	info, err := idle.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if !info.Unlinked || string(idle.Bytes()[:9]) != "idle data" {
		t.Fatalf("idle segment after the sweep: Unlinked %v, data %q", info.Unlinked, idle.Bytes()[:9])
	}
	if _, err := segment.Open("idle", in(d, nil)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("opening the removed segment: %v, want fs.ErrNotExist", err)
	}
}
