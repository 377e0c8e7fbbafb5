package posixshm

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Table tests of each system's shm_open rules (native_rules.go), and the
// file-based conventions (native.go) run for real in a temporary directory.
// The tables come from the libc and kernel sources cited in those files.

func long(n int) string { return "/" + strings.Repeat("n", n-1) }

// sameErr reports whether err is nil when want is, and otherwise a
// *NameError for the errno want.
func sameErr(err, want error) bool {
	if want == nil || err == nil {
		return err == want
	}
	var ne *NameError
	return errors.As(err, &ne) && ne.Errno == want
}

func TestNetbsdName(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		err        error
	}{
		{"/foo", ".shmobj_foo", nil},
		{"/", ".shmobj_", nil}, // librt accepts it: the file ".shmobj_"
		{"/.", ".shmobj_.", nil},
		{"/a.b-c_d", ".shmobj_a.b-c_d", nil},
		{"foo", "", syscall.EINVAL}, // must begin with a slash
		{"", "", syscall.EINVAL},
		{"//foo", "", syscall.EINVAL}, // no other slash
		{"/a/b", "", syscall.EINVAL},
		{"/foo\x00", "", syscall.EINVAL},
		{long(248), ".shmobj_" + long(248)[1:], nil}, // 8+247 = NAME_MAX
		{long(249), "", syscall.ENAMETOOLONG},
	} {
		file, err := netbsdName(netbsdShmDir, tc.name)
		if file != tc.file || !sameErr(err, tc.err) {
			t.Errorf("netbsdName(%.20q) = %q, %v; want %q, %v", tc.name, file, err, tc.file, tc.err)
		}
	}
	// The whole path must fit PATH_MAX with its NUL (snprintf in librt).
	dir := "/" + strings.Repeat("d", pathMax-1-len("/.shmobj_x"))
	if _, err := netbsdName(dir, "/x"); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("path of %d bytes: %v, want ENAMETOOLONG", len(dir)+len("/.shmobj_x"), err)
	}
	if _, err := netbsdName(dir[:len(dir)-1], "/x"); err != nil {
		t.Errorf("path of %d bytes: %v, want nil", len(dir)-1+len("/.shmobj_x"), err)
	}
}

func TestNetbsdCheckDir(t *testing.T) {
	for _, tc := range []struct {
		fstype string
		mode   uint32
		errno  syscall.Errno
	}{
		{"tmpfs", unix.S_IFDIR | 0o1777, 0},
		{"tmpfs", unix.S_IFDIR | 0o3777, 0}, // extra bits are fine
		{"tmpfs", unix.S_IFDIR | 0o777, syscall.ENOTSUP},
		{"tmpfs", unix.S_IFDIR | 0o1755, syscall.ENOTSUP},
		{"ffs", unix.S_IFDIR | 0o1777, syscall.ENOTSUP},
		{"", unix.S_IFDIR | 0o1777, syscall.ENOTSUP},
	} {
		reason, errno := netbsdCheckDir(tc.fstype, tc.mode)
		if errno != tc.errno || (errno == 0) != (reason == "") {
			t.Errorf("netbsdCheckDir(%q, %o) = %q, %v; want errno %v", tc.fstype, tc.mode, reason, errno, tc.errno)
		}
	}
}

func TestDragonflyName(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		err        error
	}{
		{"/foo", "foo", nil},
		{"foo", "foo", nil},    // no slash required
		{"///foo", "foo", nil}, // every leading slash is stripped
		{"/.foo", ".foo", nil},
		{"/", "", syscall.ENOENT}, // openat(dfd, "") in libc
		{"", "", syscall.ENOENT},
		{"/.", "", syscall.EINVAL},
		{"/..", "", syscall.EINVAL},
		{"/a/b", "", syscall.EINVAL}, // we refuse leaving the directory
		{"/../etc/x", "", syscall.EINVAL},
		{"/a\x00", "", syscall.EINVAL},
		{long(256), long(256)[1:], nil},
		{long(257), "", syscall.ENAMETOOLONG},
	} {
		file, err := dragonflyName(tc.name)
		if file != tc.file || !sameErr(err, tc.err) {
			t.Errorf("dragonflyName(%.20q) = %q, %v; want %q, %v", tc.name, file, err, tc.file, tc.err)
		}
	}
	for _, tc := range []struct {
		flag int
		err  error
	}{
		{os.O_RDONLY, nil},
		{os.O_RDWR | os.O_CREATE | os.O_EXCL, nil},
		{os.O_RDWR | os.O_TRUNC | os.O_APPEND, nil}, // passed on to open(2)
		{os.O_WRONLY, syscall.EINVAL},
		{os.O_WRONLY | os.O_CREATE, syscall.EINVAL},
	} {
		if err := dragonflyCheckFlags(tc.flag); err != tc.err {
			t.Errorf("dragonflyCheckFlags(%#x) = %v, want %v", tc.flag, err, tc.err)
		}
	}
}

func TestIllumosCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"/foo", nil},
		{"/", nil},
		{"foo", syscall.EINVAL},
		{"", syscall.EINVAL},
		{"/a/b", syscall.EINVAL},
		{"//", syscall.EINVAL},
		{"/a\x00", syscall.EINVAL},
		{long(256), nil}, // 255 bytes after the slash: NAME_MAX
		{long(257), syscall.ENAMETOOLONG},
	} {
		if err := illumosCheck(tc.name, illumosNameMax); !sameErr(err, tc.err) {
			t.Errorf("illumosCheck(%.20q) = %v, want %v", tc.name, err, tc.err)
		}
	}
}

func TestIllumosPath(t *testing.T) {
	for _, tc := range []struct {
		name, typ, path string
		dirs            []string
	}{
		{"/foo", illumosDataType, "/tmp/.SHMDfoo", nil},
		{"/foo", illumosLockType, "/tmp/.SHMLfoo", nil},
		{"/", illumosDataType, "/tmp/.SHMD", nil},
		// Up to 255-5 bytes fit with the prefix in one file name.
		{long(251), illumosDataType, "/tmp/.SHMD" + long(251)[1:], nil},
	} {
		path, dirs := illumosPath(illumosShmDir, tc.name, tc.typ, illumosNameMax)
		if path != tc.path || len(dirs) != 0 {
			t.Errorf("illumosPath(%.20q, %s) = %q, %q; want %q", tc.name, tc.typ, path, dirs, tc.path)
		}
	}
	// One byte more and the object moves to /tmp/.<hash>/<type>/<name>.
	name := long(252)
	h := illumosHash(name[1:])
	for _, typ := range []string{illumosDataType, illumosLockType} {
		path, dirs := illumosPath(illumosShmDir, name, typ, illumosNameMax)
		want := "/tmp/." + h + "/" + typ + name
		if path != want || len(dirs) != 2 || dirs[0] != "/tmp/."+h || dirs[1] != "/tmp/."+h+"/"+typ {
			t.Errorf("illumosPath(long, %s) = %q, %q; want %q", typ, path, dirs, want)
		}
	}
}

func TestIllumosHash(t *testing.T) {
	// md5("abc") = 900150983cd24fb0d6963f7d28e17f72. __pos4obj_md5toa
	// prints it as four native-endian uint32 words.
	want := "900150983cd24fb0d6963f7d28e17f72"
	var probe [2]byte
	binary.NativeEndian.PutUint16(probe[:], 1)
	if probe[0] == 1 { // little-endian: bytes swapped within each word
		want = "98500190" + "b04fd23c" + "7d3f96d6" + "727fe128"
	}
	if got := illumosHash("abc"); got != want {
		t.Errorf("illumosHash(abc) = %s, want %s", got, want)
	}
}

func TestFreebsdCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"/foo", nil},
		{"/", nil},
		{"/a/b", nil}, // slashes inside mean nothing to the kernel
		{"//x", nil},
		{"foo", syscall.EINVAL},
		{"", syscall.EINVAL},
		{"/a\x00", syscall.EINVAL},
		{long(pathMax - 1), nil}, // fits MAXPATHLEN with the NUL
		{long(pathMax), syscall.ENAMETOOLONG},
	} {
		if err := freebsdCheckName(tc.name); !sameErr(err, tc.err) {
			t.Errorf("freebsdCheckName(%.20q) = %v, want %v", tc.name, err, tc.err)
		}
	}
}

func TestDarwinCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"/foo", nil},
		{"foo", nil},
		{"/a/b", nil},
		{"/", nil},
		{"", syscall.EINVAL},
		{"/a\x00", syscall.EINVAL},
		{long(31), nil}, // PSHMNAMLEN
		{long(32), syscall.ENAMETOOLONG},
	} {
		if err := darwinCheckName(tc.name); !sameErr(err, tc.err) {
			t.Errorf("darwinCheckName(%.20q) = %v, want %v", tc.name, err, tc.err)
		}
	}
}

// fileLayouts are the file-based conventions rooted at a fresh directory,
// with the name of the file each gives the object "/obj".
func fileLayouts(t *testing.T) []struct {
	sys  string
	l    Layout
	dir  string
	file string
} {
	nb, df, il := t.TempDir(), t.TempDir(), t.TempDir()
	ild := newIllumosDir(il)
	ild.lockWait = time.Millisecond
	return []struct {
		sys  string
		l    Layout
		dir  string
		file string
	}{
		{"netbsd", netbsdDir{dir: nb}, nb, ".shmobj_obj"},
		{"dragonfly", dragonflyDir{dir: df, fposixshm: unix.O_NOFOLLOW}, df, "obj"},
		{"illumos", ild, il, ".SHMDobj"},
	}
}

func TestFileLayouts_Lifecycle(t *testing.T) {
	for _, c := range fileLayouts(t) {
		t.Run(c.sys, func(t *testing.T) {
			want := filepath.Join(c.dir, c.file)
			if p, err := c.l.Path("/obj"); p != want || err != nil {
				t.Fatalf("Path = %q, %v; want %q", p, err, want)
			}
			if _, err := c.l.Open("/obj", os.O_RDWR, 0); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Open of a missing object: %v, want ENOENT", err)
			}
			f, err := c.l.Open("/obj", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString("hello"); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if b, err := os.ReadFile(want); string(b) != "hello" {
				t.Fatalf("file %s holds %q, %v", want, b, err)
			}
			if _, err := c.l.Open("/obj", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); !errors.Is(err, fs.ErrExist) {
				t.Fatalf("second O_EXCL: %v, want EEXIST", err)
			}
			f, err = c.l.Open("/obj", os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 5)
			if _, err := f.ReadAt(b, 0); string(b) != "hello" || err != nil {
				t.Fatalf("reading back: %q, %v", b, err)
			}
			f.Close()
			if err := c.l.Unlink("/obj"); err != nil {
				t.Fatal(err)
			}
			if err := c.l.Unlink("/obj"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("second Unlink: %v, want ENOENT", err)
			}
			// Nothing is left behind: no object, no lock file.
			if ents, _ := os.ReadDir(c.dir); len(ents) != 0 {
				t.Errorf("left in %s: %v", c.dir, ents)
			}
		})
	}
}

func TestFileLayouts_Errors(t *testing.T) {
	for _, c := range fileLayouts(t) {
		t.Run(c.sys, func(t *testing.T) {
			// A name with an interior slash is EINVAL everywhere, as a
			// *fs.PathError naming the caller's name.
			_, err := c.l.Open("/a/b", os.O_RDWR|os.O_CREATE, 0o600)
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Op != opOpen || pe.Path != "/a/b" || !errors.Is(err, syscall.EINVAL) {
				t.Errorf("Open(/a/b) = %#v, want *fs.PathError shm_open /a/b EINVAL", err)
			}
			if err := c.l.Unlink("/a/b"); !errors.As(err, &pe) || pe.Op != opUnlink || !errors.Is(err, syscall.EINVAL) {
				t.Errorf("Unlink(/a/b) = %v, want shm_unlink EINVAL", err)
			}
			// A symbolic link is never followed.
			target := filepath.Join(t.TempDir(), "target")
			os.WriteFile(target, []byte("x"), 0o600)
			os.Symlink(target, filepath.Join(c.dir, c.file))
			if _, err := c.l.Open("/obj", os.O_RDWR, 0); err == nil {
				t.Errorf("Open followed a symlink")
			}
			// Only a regular file is an object.
			os.Remove(filepath.Join(c.dir, c.file))
			os.Mkdir(filepath.Join(c.dir, c.file), 0o700)
			if _, err := c.l.Open("/obj", os.O_RDONLY, 0); !errors.Is(err, syscall.EINVAL) {
				t.Errorf("Open of a directory: %v, want EINVAL", err)
			}
		})
	}
}

func TestNetbsdDir_NotTmpfs(t *testing.T) {
	dir := t.TempDir()
	d := netbsdDir{dir: dir, checkFS: func(string) (string, syscall.Errno) {
		return netbsdCheckDir("ext4", 0o1777)
	}}
	_, err := d.Open("/obj", os.O_RDWR|os.O_CREATE, 0o600)
	var fe *FileError
	if !errors.Is(err, syscall.ENOTSUP) || !errors.As(err, &fe) || fe.File != dir {
		t.Errorf("Open = %v, want ENOTSUP naming %s", err, dir)
	}
	// librt checks the file system before the name.
	if err := d.Unlink("bad"); !errors.Is(err, syscall.ENOTSUP) {
		t.Errorf("Unlink = %v, want ENOTSUP", err)
	}
}

func TestDragonflyDir_WriteOnly(t *testing.T) {
	d := dragonflyDir{dir: t.TempDir()}
	if _, err := d.Open("/obj", os.O_WRONLY|os.O_CREATE, 0o600); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("O_WRONLY: %v, want EINVAL", err)
	}
}

func TestIllumosDir_StaleLock(t *testing.T) {
	dir := t.TempDir()
	d := newIllumosDir(dir)
	d.lockTries, d.lockWait = 3, time.Millisecond
	lock := filepath.Join(dir, ".SHMLobj")
	if err := os.WriteFile(lock, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	// libc gives up with EEXIST after its tries; so do we.
	_, err := d.Open("/obj", os.O_RDWR|os.O_CREATE, 0o600)
	var fe *FileError
	if !errors.Is(err, syscall.EEXIST) || !errors.As(err, &fe) || fe.File != lock {
		t.Errorf("Open with a stale lock: %v, want EEXIST naming %s", err, lock)
	}
	if err := d.Unlink("/obj"); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("Unlink with a stale lock: %v, want EEXIST", err)
	}
	// A lock released in time is taken.
	go func() { time.Sleep(5 * time.Millisecond); os.Remove(lock) }()
	d.lockTries, d.lockWait = 1000, time.Millisecond
	f, err := d.Open("/obj", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Lstat(lock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock file still there after Open: %v", err)
	}
	// libc refuses a symbolic link as the lock file with EINVAL.
	os.Symlink("/nonexistent", lock)
	if _, err := d.Open("/obj", os.O_RDWR, 0); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("symlinked lock: %v, want EINVAL", err)
	}
}

func TestIllumosDir_LongName(t *testing.T) {
	dir := t.TempDir()
	d := newIllumosDir(dir)
	name := long(253)
	hashDir := filepath.Join(dir, "."+illumosHash(name[1:]))
	want := filepath.Join(hashDir, ".SHMD", name[1:])
	if p, err := d.Path(name); p != want || err != nil {
		t.Fatalf("Path = %q, %v; want %q", p, err, want)
	}
	// Opening a missing object leaves no directories behind.
	if _, err := d.Open(name, os.O_RDWR, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing object: %v", err)
	}
	if _, err := os.Stat(hashDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("hash directory left after a failed open: %v", err)
	}
	old := syscall.Umask(0o077)
	f, err := d.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(want); err != nil {
		t.Fatal(err)
	}
	// The directories are 0777 despite the umask, as libc chmods them.
	if st, err := os.Stat(hashDir); err != nil || st.Mode().Perm() != 0o777 {
		t.Errorf("hash directory: %v, %v; want mode 0777", st.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(hashDir, ".SHML")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock type directory left after Open: %v", err)
	}
	if err := d.Unlink(name); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in %s after Unlink: %v", dir, ents)
	}
	if _, err := d.Open(long(257), os.O_RDWR|os.O_CREATE, 0o600); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("256-byte name: %v, want ENAMETOOLONG", err)
	}
}

func TestIllumosDirOwner(t *testing.T) {
	const me = 1000
	for _, tc := range []struct {
		uid, mode uint32
		ok        bool
	}{
		{me, unix.S_IFDIR | 0o777, true}, // ours, as libc makes them
		{me, unix.S_IFDIR | 0o700, true},
		{0, unix.S_IFDIR | 0o1777, true}, // like /tmp
		{0, unix.S_IFDIR | 0o777, false}, // root's, but anyone may swap entries
		{0, unix.S_IFDIR | 0o755, false},
		{65534, unix.S_IFDIR | 0o777, false},
		{65534, unix.S_IFDIR | 0o1777, false}, // its owner may still swap them
	} {
		reason := illumosDirOwner(tc.uid, tc.mode, me)
		if (reason == "") != tc.ok {
			t.Errorf("illumosDirOwner(uid %d, %o) = %q; want ok %v", tc.uid, tc.mode, reason, tc.ok)
		}
		if !tc.ok && tc.uid != 0 && !strings.Contains(reason, "uid 65534") {
			t.Errorf("reason %q does not name the owner", reason)
		}
	}
	if illumosDirOwner(0, unix.S_IFDIR|0o777, 0) != "" {
		t.Errorf("root refuses its own directory")
	}
}

// TestIllumosDir_LongNameRefusals: a hashed directory of another user's,
// or one that is a symbolic link, is refused with an error naming it and
// saying why, and nothing is created through it.
func TestIllumosDir_LongNameRefusals(t *testing.T) {
	name := long(253)
	for _, c := range []struct {
		desc  string
		plant func(t *testing.T, hashDir, target string)
		errno syscall.Errno
		says  string
	}{
		{"hash directory is a link", func(t *testing.T, hashDir, target string) {
			if err := os.Symlink(target, hashDir); err != nil {
				t.Fatal(err)
			}
		}, syscall.ELOOP, "symbolic link"},
		{"type directory is a link", func(t *testing.T, hashDir, target string) {
			if err := os.Mkdir(hashDir, 0o777); err != nil {
				t.Fatal(err)
			}
			for _, typ := range []string{illumosLockType, illumosDataType} {
				if err := os.Symlink(target, filepath.Join(hashDir, typ)); err != nil {
					t.Fatal(err)
				}
			}
		}, syscall.ELOOP, "symbolic link"},
		{"hash directory of another user's", func(t *testing.T, hashDir, target string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to give a directory to uid 65534")
			}
			if err := os.Mkdir(hashDir, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(hashDir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, syscall.EPERM, "belongs to uid 65534"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			dir, target := t.TempDir(), t.TempDir()
			d := newIllumosDir(dir)
			d.lockWait = time.Millisecond
			hashDir := filepath.Join(dir, "."+illumosHash(name[1:]))
			c.plant(t, hashDir, target)
			for _, op := range []func() error{
				func() error { _, err := d.Open(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600); return err },
				func() error { return d.Unlink(name) },
			} {
				err := op()
				var fe *FileError
				if !errors.Is(err, c.errno) || !errors.As(err, &fe) || !strings.HasPrefix(fe.File, hashDir) || !strings.Contains(fe.Reason, c.says) {
					t.Errorf("%v; want %v naming a directory under %s and saying %q", err, c.errno, hashDir, c.says)
				}
			}
			if ents, _ := os.ReadDir(target); len(ents) != 0 {
				t.Errorf("created through the link: %v", ents)
			}
		})
	}
}
