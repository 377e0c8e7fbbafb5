package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asNobody returns a command that runs this test binary as "posixshm
// ARGS..." with uid and gid 65534.
func asNobody(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(nobodyBinary(t), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd
}

// nobodyBinary returns a copy of this test binary, called posixshm (so
// that it runs as the command), that uid 65534 can reach: the test
// binary's own directory is private to root. It skips the test unless we
// are root.
func nobodyBinary(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the command as uid 65534")
	}
	base, err := os.MkdirTemp("", "posixshm-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "posixshm") // testscript.Main runs run() under this name
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestTouch_NotOwner: in Linux's convention, touching root's object as
// uid 65534 names the object and says only its owner or root can refresh
// it, whether the open (mode 0600) or the refresh (mode 0644) is refused;
// the object is not refreshed.
func TestTouch_NotOwner(t *testing.T) {
	if !devShm() {
		t.Skip("uses Linux's /dev/shm, not this build's convention")
	}
	old := time.Now().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	for _, mode := range []os.FileMode{0o600, 0o644} {
		name := "posixshm-test-touch-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(uint64(mode), 8)
		p := "/dev/shm/" + name
		if err := os.WriteFile(p, nil, mode); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(p)
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		out, err := asNobody(t, "touch", "/"+name).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFail {
			t.Fatalf("mode %v: touch as uid 65534: %v, want status 1\n%s", mode, err, out)
		}
		want := "posixshm: touch /" + name + ": not refreshed: it belongs to uid 0 (root), and only its owner or root can refresh it ("
		if !strings.HasPrefix(string(out), want) || strings.Count(string(out), "\n") != 1 {
			t.Errorf("mode %v: touch as uid 65534 said\n%s\nwant one line beginning\n%s", mode, out, want)
		}
		if fa, err := lstatFacts(p); err != nil || !fa.Atime.Equal(old) {
			t.Errorf("mode %v: atime %v (%v), want %v: refreshed anyway", mode, fa.Atime, err, old)
		}
	}
}
