package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/posixshm"
)

// umask is the process's umask, read once: Open applies it to new objects.
var umask = func() int {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return m
}()

// What FuzzFlags plants at the object's path before opening it.
const (
	stMissing = iota
	stRegular
	stDir
	stSymlink
	stDangling
	stFIFO
	stHardLink
	stOtherUser
	nStates
)

var stateNames = [nStates]string{"missing", "regular", "directory", "symlink", "dangling symlink", "FIFO", "hard link", "other user's file"}

const content = "fuzz me"

var oldTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// describe snapshots everything under dir (not following symlinks): any
// change to a planted file, its target or the directory shows.
func describe(t *testing.T, dir string) string {
	t.Helper()
	var buf bytes.Buffer
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&buf, "%s %v uid=%d nlink=%d", path[len(dir):], fi.Mode(), st.Uid, st.Nlink)
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&buf, " old=%v %q", fi.ModTime().Equal(oldTime), b)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			fmt.Fprintf(&buf, " -> %s", target)
		}
		buf.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func writeOld(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, oldTime, oldTime); err != nil {
		t.Fatal(err)
	}
}

// plant puts state at path; side holds symlink targets and link twins.
func plant(t *testing.T, state int, path, side string) {
	t.Helper()
	var err error
	switch state {
	case stRegular:
		writeOld(t, path)
	case stDir:
		err = os.Mkdir(path, 0o700)
	case stSymlink:
		writeOld(t, filepath.Join(side, "target"))
		err = os.Symlink(filepath.Join(side, "target"), path)
	case stDangling:
		err = os.Symlink(filepath.Join(side, "dangling"), path)
	case stFIFO:
		err = unix.Mkfifo(path, 0o600)
	case stHardLink:
		writeOld(t, filepath.Join(side, "twin"))
		err = os.Link(filepath.Join(side, "twin"), path)
	case stOtherUser:
		writeOld(t, path)
		err = os.Chown(path, 65534, 65534)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// expect is the model: the errnos Dir.Open may give (0: success) for flag
// on state, from OpenBSD's rules, the package's documented hardenings and
// Linux's open(2).
func expect(flag, state int) []syscall.Errno {
	acc := flag & unix.O_ACCMODE
	if acc != unix.O_RDONLY && acc != unix.O_RDWR ||
		flag&^(unix.O_ACCMODE|unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC|unix.O_CLOEXEC|unix.O_NOFOLLOW) != 0 {
		return []syscall.Errno{syscall.EINVAL}
	}
	if flag&unix.O_TRUNC != 0 && acc == unix.O_RDONLY {
		// OpenBSD's open(2) refuses O_TRUNC without write access before
		// it looks the path up.
		return []syscall.Errno{syscall.EINVAL}
	}
	creat := flag&unix.O_CREAT != 0
	if state == stMissing {
		if creat {
			return []syscall.Errno{0}
		}
		return []syscall.Errno{syscall.ENOENT}
	}
	if creat && flag&unix.O_EXCL != 0 {
		return []syscall.Errno{syscall.EEXIST} // anything at the path, links included
	}
	switch state {
	case stRegular:
		return []syscall.Errno{0}
	case stDir:
		if creat || acc == unix.O_RDWR {
			return []syscall.Errno{syscall.EISDIR}
		}
		return []syscall.Errno{syscall.EINVAL}
	case stSymlink, stDangling:
		return []syscall.Errno{syscall.ELOOP}
	case stFIFO:
		return []syscall.Errno{syscall.EINVAL}
	case stHardLink, stOtherUser:
		return []syscall.Errno{syscall.EPERM}
	}
	panic("unknown state")
}

// FuzzFlags opens an object with arbitrary flags and permission bits over
// each kind of file that can be planted at its path, and checks the result
// against the model: never a panic or a hang, EINVAL exactly for flags
// OpenBSD refuses, no symlink followed, nothing refused ever changed, and a
// returned descriptor that is close-on-exec and blocking.
func FuzzFlags(f *testing.F) {
	for state := range uint8(nStates) {
		for _, flag := range []int{
			os.O_RDONLY, os.O_RDWR, os.O_WRONLY, unix.O_ACCMODE,
			os.O_RDWR | os.O_CREATE, os.O_RDWR | os.O_CREATE | os.O_EXCL,
			os.O_RDWR | os.O_TRUNC, os.O_RDONLY | os.O_TRUNC, os.O_RDWR | os.O_CREATE | os.O_TRUNC,
			os.O_RDWR | os.O_APPEND, os.O_RDONLY | unix.O_NONBLOCK, os.O_RDONLY | unix.O_DIRECTORY,
		} {
			f.Add(flag, uint32(0o644), state)
		}
	}
	f.Add(-1, uint32(0xffffffff), uint8(0))
	f.Add(os.O_RDWR|os.O_CREATE|math.MinInt, uint32(0o777), uint8(0))
	f.Fuzz(func(t *testing.T, flag int, perm uint32, state uint8) {
		state %= nStates
		if state == stOtherUser && os.Geteuid() != 0 {
			state = stRegular // chown needs root
		}
		dir, side := t.TempDir(), t.TempDir()
		d := posixshm.Dir(dir)
		const name = "/fuzz"
		path, _ := d.Path(name)
		plant(t, int(state), path, side)
		beforeDir, beforeSide := describe(t, dir), describe(t, side)

		watchdog := time.AfterFunc(10*time.Second, func() {
			panic(fmt.Sprintf("Open(%#x) on a %s blocked for 10 s", flag, stateNames[state]))
		})
		file, err := d.Open(name, flag, os.FileMode(perm))
		watchdog.Stop()
		if file != nil {
			defer file.Close()
		}

		var got syscall.Errno
		if err != nil && !errors.As(err, &got) {
			t.Fatalf("error %v holds no errno", err)
		}
		want := expect(flag, int(state))
		ok := false
		for _, w := range want {
			ok = ok || got == w
		}
		if !ok {
			t.Fatalf("%s, flags %#x: got %v (%d), want one of %v", stateNames[state], flag, err, got, want)
		}
		if (file != nil) != (err == nil) {
			t.Fatalf("file %v with error %v", file, err)
		}
		if describe(t, side) != beforeSide {
			t.Fatalf("%s, flags %#x: a symlink target or linked file changed:\n%s\n%s", stateNames[state], flag, beforeSide, describe(t, side))
		}
		if err != nil {
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Op != "shm_open" || pe.Path != name {
				t.Fatalf("error %#v, want *fs.PathError{Op: shm_open, Path: %q}", err, name)
			}
			if after := describe(t, dir); after != beforeDir {
				t.Fatalf("%s, flags %#x refused with %v, but the directory changed:\n%s\n%s", stateNames[state], flag, err, beforeDir, after)
			}
			return
		}

		// Success: a regular file of ours with one link, at the path.
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("after success, %s: %v, %v", path, fi, err)
		}
		if file.Name() != name {
			t.Fatalf("Name() = %q, want the name given, %q", file.Name(), name)
		}
		wantSize := int64(len(content))
		if state == stMissing || flag&unix.O_TRUNC != 0 {
			wantSize = 0
		}
		if fi.Size() != wantSize {
			t.Fatalf("%s, flags %#x: size %d, want %d", stateNames[state], flag, fi.Size(), wantSize)
		}
		if state == stMissing {
			if want := os.FileMode(perm) & 0o600 &^ os.FileMode(umask); fi.Mode().Perm() != want {
				t.Fatalf("new object mode %v, want %v (perm %#o, umask %#o)", fi.Mode(), want, perm, umask)
			}
		}
		if fd, err := unix.FcntlInt(file.Fd(), unix.F_GETFD, 0); err != nil || fd&unix.FD_CLOEXEC == 0 {
			t.Fatalf("FD_CLOEXEC not set: %#x, %v", fd, err)
		}
		fl, err := unix.FcntlInt(file.Fd(), unix.F_GETFL, 0)
		if err != nil || fl&unix.O_NONBLOCK != 0 || fl&unix.O_ACCMODE != flag&unix.O_ACCMODE {
			t.Fatalf("F_GETFL = %#x, %v; want access mode %d, blocking", fl, err, flag&unix.O_ACCMODE)
		}
	})
}
