package posixshm

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/inode"
	"github.com/posixshm/posixshm/internal/unixutil"
)

// ways are how CreateUnnamed may build an object: an unnamed file
// (O_TMPFILE, Linux) or a temporary name (elsewhere).
var ways = []string{"tmpfile", "tempname"}

// buildWay makes this process build objects as way says until the end of
// the test, or skips it where that is not how this build does it.
func buildWay(t *testing.T, way, dir string) {
	t.Helper()
	fd, err := unixutil.OpenTmpfile(dir, 0o600)
	if err == nil {
		unix.Close(fd)
	}
	switch {
	case way == "tmpfile" && err != nil:
		t.Skipf("no O_TMPFILE here (%v): the tempname run covers this build", err)
	case way == "tempname":
		unixutil.NoTmpfile = true
		t.Cleanup(func() { unixutil.NoTmpfile = false })
	}
}

// temps lists the temporary files in dir.
func temps(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if IsTempName(de.Name()) {
			out = append(out, de.Name())
		}
	}
	return out
}

func TestIsTempName(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		base string
		want bool
	}{
		{TempPrefix + hex, true},
		{tempName("x.shm"), true},
		{TempPrefix + hex[:63], false},
		{TempPrefix + hex + "0", false},
		{TempPrefix + strings.ToUpper(hex), false},
		{hex + ".shm", false},
		{"sem.XXXXXX", false},
	} {
		if got := IsTempName(tc.base); got != tc.want {
			t.Errorf("IsTempName(%q) = %v", tc.base, got)
		}
	}
}

// TestCreateUnnamed: in every layout whose objects are files, a new object
// is invisible under its name until Link, complete once it is there, with
// one link and the layout's permission; a second one for the same name
// fails to link with EEXIST and leaves nothing behind.
func TestCreateUnnamed(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, way := range ways {
		t.Run(way, func(t *testing.T) {
			buildWay(t, way, t.TempDir())
			long := "/" + strings.Repeat("l", 252) // illumos: in hashed directories
			illumos := func(dir string) Layout { d := newIllumosDir(dir); d.lockWait = time.Millisecond; return d }
			for _, tc := range []struct {
				layout string
				l      func(dir string) Layout
				name   string
				want   os.FileMode // for perm 0o664, umask 022
			}{
				{"Dir", func(dir string) Layout { return Dir(dir) }, "/obj", 0o600},
				{"glibc", func(dir string) Layout { return glibcDir(dir) }, "/obj", 0o644},
				{"netbsd", func(dir string) Layout { return netbsdDir{dir: dir} }, "/obj", 0o644},
				{"dragonfly", func(dir string) Layout { return dragonflyDir{dir: dir} }, "/obj", 0o644},
				{"illumos", illumos, "/obj", 0o644},
				{"illumos-long", illumos, long, 0o644},
			} {
				dir := t.TempDir()
				l := tc.l(dir)
				u, err := CreateUnnamed(l, tc.name, 0o664)
				if err != nil {
					t.Fatalf("%s: %v", tc.layout, err)
				}
				if _, err := u.File().WriteAt([]byte("complete"), 0); err != nil {
					t.Fatal(err)
				}
				if _, err := l.Open(tc.name, os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: open before Link: %v, want ErrNotExist", tc.layout, err)
				}
				if n := len(temps(t, dir)); n != map[string]int{"tmpfile": 0, "tempname": 1}[way] {
					t.Errorf("%s: %d temporary files while building", tc.layout, n)
				}
				if err := u.Link(); err != nil {
					t.Fatalf("%s: Link: %v", tc.layout, err)
				}
				u.File().Close()
				f, err := l.Open(tc.name, os.O_RDWR, 0)
				if err != nil {
					t.Fatalf("%s: open after Link: %v", tc.layout, err)
				}
				b := make([]byte, 8)
				var st unix.Stat_t
				unix.Fstat(int(f.Fd()), &st)
				if _, err := f.ReadAt(b, 0); err != nil || string(b) != "complete" || st.Nlink != 1 || os.FileMode(st.Mode&0o777) != tc.want {
					t.Errorf("%s: after Link: %q, %v, %d links, mode %v (want %v)", tc.layout, b, err, st.Nlink, os.FileMode(st.Mode&0o777), tc.want)
				}
				f.Close()
				u2, err := CreateUnnamed(l, tc.name, 0o600)
				if err != nil {
					t.Fatal(err)
				}
				if err := u2.Link(); !errors.Is(err, fs.ErrExist) {
					t.Errorf("%s: second Link: %v, want ErrExist", tc.layout, err)
				}
				u2.Remove()
				u2.File().Close()
				if left := temps(t, dir); len(left) != 0 {
					t.Errorf("%s: left %q", tc.layout, left)
				}
				if err := l.Unlink(tc.name); err != nil {
					t.Error(err)
				}
			}
		})
	}
	if _, err := CreateUnnamed(struct{ Layout }{Dir(t.TempDir())}, "/x", 0o600); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("a layout of the caller's own: %v, want ErrUnsupported", err)
	}
}

// TestCreateUnnamed_Planted: something planted at the temporary name that
// is not a temporary file (a symbolic link, a FIFO, a directory) is never
// followed, opened for long or removed: creation fails, naming it.
func TestCreateUnnamed_Planted(t *testing.T) {
	unixutil.NoTmpfile = true
	defer func() { unixutil.NoTmpfile = false }()
	d := Dir(t.TempDir())
	path, _ := d.Path("/planted")
	temp := filepath.Join(string(d), tempName(filepath.Base(path)))
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep"), 0o600)
	for _, plant := range []struct {
		kind string
		make func() error
		want string
	}{
		{"symlink", func() error { return os.Symlink(victim, temp) }, "symbolic link"},
		{"fifo", func() error { return unix.Mkfifo(temp, 0o600) }, "not a regular file"},
		{"dir", func() error { return os.Mkdir(temp, 0o700) }, "directory"},
	} {
		if err := plant.make(); err != nil {
			t.Fatal(err)
		}
		_, err := CreateUnnamed(d, "/planted", 0o600)
		if err == nil || !strings.Contains(err.Error(), plant.want) {
			t.Errorf("%s at the temporary name: %v, want an error saying %q", plant.kind, err, plant.want)
		}
		if _, serr := os.Lstat(temp); serr != nil {
			t.Errorf("%s removed: %v", plant.kind, serr)
		}
		os.Remove(temp)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the symlink's target changed: %q", b)
	}
}

const unnamedHelperEnv = "POSIXSHM_UNNAMED_HELPER"

// TestUnnamedHelper is not a test: it is a creator that builds the object
// "/held" in DIR under its temporary name, says "ready" and waits to be
// killed; with "linked" it first links it onto its name itself, as Link
// does before it removes the temporary name (a creator killed between
// the two). With "FILE readlock" it holds a read lock on FILE's first
// byte instead.
func TestUnnamedHelper(t *testing.T) {
	spec, ok := os.LookupEnv(unnamedHelperEnv)
	if !ok {
		t.Skip("helper process only")
	}
	args := strings.Split(spec, "\n")
	if len(args) > 1 && args[1] == "readlock" {
		// Not a creator: a reader holding a read lock on the file's
		// first byte, where a creator holds its write lock.
		fd, err := unix.Open(args[0], unix.O_RDONLY, 0)
		lk := unix.Flock_t{Type: unix.F_RDLCK, Start: 0, Len: 1}
		if err == nil {
			err = unix.FcntlFlock(uintptr(fd), unix.F_SETLK, &lk)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		fmt.Println("ready")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	unixutil.NoTmpfile = true
	d := Dir(args[0])
	u, err := CreateUnnamed(d, "/held", 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	u.File().WriteAt([]byte("complete"), 0)
	if len(args) > 1 && args[1] == "linked" {
		path, _ := d.Path("/held")
		if err := os.Link(u.temp, path); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
	}
	fmt.Println("ready")
	time.Sleep(time.Minute)
	os.Exit(0)
}

// startCreator starts a TestUnnamedHelper in dir and returns once it is
// ready, with a function that kills it.
func startCreator(t *testing.T, dir string, args ...string) (kill func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestUnnamedHelper$", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), unnamedHelperEnv+"="+strings.Join(append([]string{dir}, args...), "\n"))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill = func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
		}
	}
	t.Cleanup(kill)
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("creator: %q, %v", line, err)
	}
	return kill
}

// TestCreateUnnamed_DeadCreator: a temporary file whose creator lives is
// busy (EBUSY, for CreateUnnamed and RemoveTemp alike); once the creator
// is killed, RemoveTemp with dryRun says it would remove it, and the next
// CreateUnnamed of the name removes it and creates the object.
func TestCreateUnnamed_DeadCreator(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	unixutil.NoTmpfile = true
	defer func() { unixutil.NoTmpfile = false }()
	dir := t.TempDir()
	kill := startCreator(t, dir)
	tl := temps(t, dir)
	if len(tl) != 1 {
		t.Fatalf("temporary files: %q", tl)
	}
	df, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	if _, err := CreateUnnamed(Dir(dir), "/held", 0o600); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("CreateUnnamed while another creator lives: %v, want EBUSY", err)
	}
	if err := RemoveTemp(df, tl[0], false); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("RemoveTemp while its creator lives: %v, want EBUSY", err)
	}
	kill()
	if err := RemoveTemp(df, tl[0], true); err != nil || len(temps(t, dir)) != 1 {
		t.Fatalf("RemoveTemp dry run after its creator died: %v, %q", err, temps(t, dir))
	}
	u, err := CreateUnnamed(Dir(dir), "/held", 0o600)
	if err != nil {
		t.Fatalf("CreateUnnamed after the creator died: %v", err)
	}
	if err := u.Link(); err != nil {
		t.Fatal(err)
	}
	u.File().Close()
	if tl := temps(t, dir); len(tl) != 0 {
		t.Errorf("left: %q", tl)
	}
	if err := RemoveTemp(df, tempName("x"), false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("RemoveTemp of nothing: %v", err)
	}
}

// TestCreateUnnamed_ReadLockIsNoCreator: whoever may read a dead
// creator's temporary file can take a read lock on it, but that does not
// make it look like a live creator (whose lock is a write lock), nor keep
// the next creator from removing it.
func TestCreateUnnamed_ReadLockIsNoCreator(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	unixutil.NoTmpfile = true
	defer func() { unixutil.NoTmpfile = false }()
	dir := t.TempDir()
	path, _ := Dir(dir).Path("/held")
	temp := filepath.Join(dir, tempName(filepath.Base(path)))
	if err := os.WriteFile(temp, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	startCreator(t, temp, "readlock")
	df, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	if err := RemoveTemp(df, filepath.Base(temp), true); err != nil {
		t.Fatalf("RemoveTemp dry run: %v, want it abandoned", err)
	}
	u, err := CreateUnnamed(Dir(dir), "/held", 0o600)
	if err != nil {
		t.Fatalf("CreateUnnamed: %v", err)
	}
	defer u.File().Close()
	if err := u.Link(); err != nil {
		t.Fatal(err)
	}
}

// TestOpen_Publishing: an object whose second link is its temporary name
// is being published (its creator is between link(2) and removing that
// name): Open waits for that, for a while, and then refuses it, naming the
// temporary file; once the creator has died, Open removes the temporary
// name and opens the object.
func TestOpen_Publishing(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	defer func(d time.Duration) { publishTimeout = d }(publishTimeout)
	publishTimeout = 100 * time.Millisecond
	dir := t.TempDir()
	kill := startCreator(t, dir, "linked")
	start := time.Now()
	_, err := Dir(dir).Open("/held", os.O_RDWR, 0)
	if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), TempPrefix) || time.Since(start) < publishTimeout {
		t.Fatalf("Open while its creator publishes it: %v after %v; want EPERM naming the temporary file, after %v", err, time.Since(start), publishTimeout)
	}
	kill()
	f, err := Dir(dir).Open("/held", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("Open once the creator died: %v", err)
	}
	defer f.Close()
	b := make([]byte, 8)
	var st unix.Stat_t
	unix.Fstat(int(f.Fd()), &st)
	if _, err := f.ReadAt(b, 0); err != nil || string(b) != "complete" || st.Nlink != 1 {
		t.Errorf("%q, %v, %d links", b, err, st.Nlink)
	}
	if tl := temps(t, dir); len(tl) != 0 {
		t.Errorf("left: %q", tl)
	}
}

// TestOpen_ParksRefused: with POSIX record locks, closing any descriptor
// of a file drops the process's locks on it; a descriptor that the
// layout's Open refuses, of a file this process holds locks on (reached
// through a hard link), is kept open until the hold ends, up to
// inode.MaxParked of them by one name: then Open refuses the name at once
// (EAGAIN), opening nothing.
func TestOpen_ParksRefused(t *testing.T) {
	d := Dir(t.TempDir())
	f, err := d.Open("/held", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Fstat(int(f.Fd()), &st)
	k := inode.KeyOf(&st)
	pa, _ := d.Path("/held")
	pb, _ := d.Path("/link")
	if err := os.Link(pa, pb); err != nil {
		t.Fatal(err)
	}
	inode.Hold(k)
	for i := 1; i <= inode.MaxParked; i++ {
		if _, err := d.Open("/link", os.O_RDWR, 0); !errors.Is(err, syscall.EPERM) {
			t.Fatalf("open %d of a file with two links: %v", i, err)
		}
		if n := inode.Parked(k); n != i {
			t.Fatalf("after %d refusals, %d descriptors parked", i, n)
		}
	}
	if _, err := d.Open("/link", os.O_RDWR, 0); !errors.Is(err, syscall.EAGAIN) || inode.Parked(k) != inode.MaxParked {
		t.Fatalf("open once %d are parked: %v, %d parked; want EAGAIN, nothing opened", inode.MaxParked, err, inode.Parked(k))
	}
	before := countFds(t)
	inode.Release(k, f)
	if after := countFds(t); after != before-inode.MaxParked-1 || inode.Parked(k) != -1 {
		t.Errorf("after the hold ended: %d descriptors, want %d", after, before-inode.MaxParked-1)
	}
	if g, err := d.Open("/held", os.O_RDWR, 0); !errors.Is(err, syscall.EPERM) {
		t.Errorf("refused for its links: %v", err)
	} else if g != nil {
		g.Close()
	}
	os.Remove(pb)
	if g, err := d.Open("/held", os.O_RDWR, 0); err != nil {
		t.Errorf("after the record ended and the link went: %v", err)
	} else {
		g.Close()
	}
}

func countFds(t *testing.T) int {
	t.Helper()
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(des)
}
