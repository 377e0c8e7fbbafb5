package sem_test

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/sem"
)

func init() {
	// roleCreator creates $SEMTEST_NAME with value 7 and removes it
	// again, forever, until it is killed.
	roles["creator"] = func() error {
		l, name := childLayout(), os.Getenv("SEMTEST_NAME")
		for {
			s, err := l.Open(name, os.O_CREATE|os.O_EXCL, 0o600, 7)
			if err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			if err == nil {
				s.Close()
			}
			l.Unlink(name)
		}
	}
}

// deadCreatorLeftovers makes in l what a creator of name killed between
// its link(2) and the unlink(2) of its temporary name leaves: a complete
// semaphore of value 5 with two links, its name and its temporary name
// (glibc's sem.XXXXXX, or OpenBSD's <sha256>.sem.XXXXXX here). It
// returns the temporary name.
func deadCreatorLeftovers(t *testing.T, l sem.Layout, format sem.Format, name string) string {
	t.Helper()
	path, err := l.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	switch format {
	case sem.Glibc64:
		b = make([]byte, 32)
		binary.NativeEndian.PutUint64(b, 5)
		binary.NativeEndian.PutUint32(b[8:], 128)
	case sem.Glibc32:
		b = make([]byte, 16)
		binary.NativeEndian.PutUint32(b, 5<<1)
		binary.NativeEndian.PutUint32(b[4:], 128)
	default:
		b = make([]byte, sem.PageSize)
		binary.NativeEndian.PutUint32(b[8:], 5)
		binary.NativeEndian.PutUint32(b[12:], 1)
	}
	temp := filepath.Join(filepath.Dir(path), "sem.Xq3Zr9")
	if format == sem.OpenBSD {
		temp = path + ".Xq3Zr9"
	}
	if err := os.WriteFile(temp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(temp, path); err != nil {
		t.Fatal(err)
	}
	return temp
}

// TestOpen_DeadCreator: a creator killed between linking its complete
// semaphore to the name and removing the temporary name leaves a file
// with two links, which glibc's sem_open opens as it opens any other.
// Open opens it too, rather than refusing the name for good as "also
// another file", and leaves the temporary name alone. A second link that
// is not such a temporary name is still refused. Failed before: EPERM,
// "has 2 hard links".
func TestOpen_DeadCreator(t *testing.T) {
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			format := map[string]sem.Format{"openbsd": sem.OpenBSD, "glibc64": sem.Glibc64, "glibc32": sem.Glibc32}[lname]
			for _, flag := range []int{0, os.O_CREATE} {
				temp := deadCreatorLeftovers(t, l, format, "/dead")
				s, err := l.Open("/dead", flag, 0o600, 9)
				if err != nil {
					t.Fatalf("Open(%#o) of a dead creator's semaphore: %v", flag, err)
				}
				if got := info(t, s); got.Value != 5 || got.Format != format {
					t.Errorf("opened %+v, want the dead creator's value 5", got)
				}
				s.Close()
				// Left alone: in glibc's layout it could be another
				// semaphore's name.
				if _, err := os.Lstat(temp); err != nil {
					t.Errorf("the dead creator's temporary name: %v", err)
				}
				if err := l.Unlink("/dead"); err != nil {
					t.Fatal(err)
				}
				os.Remove(temp)
			}
			// The same second link, but not named as a temporary file:
			// refused, and left alone.
			temp := deadCreatorLeftovers(t, l, format, "/other")
			other := strings.TrimSuffix(temp, ".Xq3Zr9") + ".notmp"
			if format != sem.OpenBSD {
				other = filepath.Join(filepath.Dir(temp), "sem.other-name")
			}
			if err := os.Rename(temp, other); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Open("/other", 0, 0, 0); !errors.Is(err, syscall.EPERM) {
				t.Errorf("Open of a semaphore with a second, unrelated name: %v, want EPERM", err)
			}
			if _, err := os.Lstat(other); err != nil {
				t.Errorf("the unrelated second name was touched: %v", err)
			}
		})
	}
}

// TestKill_Creator: a Go creator killed at random while it creates and
// removes a semaphore again and again never leaves the name unusable:
// after each kill the name is absent, or opens with the value it was
// created with. (About one kill in eight lands between link(2) and the
// removal of the temporary name.) Failed before: EPERM "has 2 hard links"
// within a few kills.
func TestKill_Creator(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for a few seconds")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			env := "SEMTEST_LAYOUT=glibc64"
			switch d := l.(type) {
			case sem.Dir:
				env = "SEMTEST_LAYOUT=dir:" + string(d)
			default:
				p, _ := l.Path("/x")
				env = "SEMTEST_LAYOUT=" + map[string]string{"glibc64": "glibcdir64:", "glibc32": "glibcdir32:"}[lname] + filepath.Dir(p)
			}
			const kills = 40
			left := 0
			for i := range kills {
				cmd := exec.Command(exe, "-test.run=^$")
				cmd.Env = append(os.Environ(), envRole+"=creator", "SEMTEST_NAME=/k", env)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(5000+rand.IntN(20000)) * time.Microsecond)
				cmd.Process.Kill()
				cmd.Wait()
				s, err := l.Open("/k", 0, 0, 0)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					t.Fatalf("after kill %d of a creator: %v", i+1, err)
				}
				left++
				if v, err := s.Value(); v != 7 || err != nil {
					t.Errorf("after kill %d: value %d, %v; want 7", i+1, v, err)
				}
				s.Close()
				l.Unlink("/k")
			}
			t.Logf("%d creators killed; %d left the semaphore, all of it usable", kills, left)
		})
	}
}
