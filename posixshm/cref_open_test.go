package posixshm_test

// Differential tests: Dir.Open against testdata/cref/shmopen.c, a C
// reference of OpenBSD's shm_open algorithm, on the same planted files,
// as root and as an unprivileged user.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/posixshm"
)

// openState is a file planted at an object's path before Open.
type openState string

const (
	stMissing   openState = "missing"
	stRegular   openState = "regular"
	stDir       openState = "directory"
	stSymlink   openState = "symlink"
	stDangling  openState = "dangling symlink"
	stOtherUser openState = "other user's file"
	stHardLink  openState = "hard link"
)

// plant creates state at path; side is a directory for symlink targets and
// hard link twins, outside the object directory.
func plant(t testing.TB, state openState, path, side string) {
	t.Helper()
	switch state {
	case stMissing:
	case stRegular:
		writeOld(t, path)
	case stDir:
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
	case stSymlink:
		target := filepath.Join(side, "target")
		writeOld(t, target)
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	case stDangling:
		if err := os.Symlink(filepath.Join(side, "dangling"), path); err != nil {
			t.Fatal(err)
		}
	case stOtherUser:
		writeOld(t, path)
		if err := os.Chown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	case stHardLink:
		twin := filepath.Join(side, "twin")
		writeOld(t, twin)
		if err := os.Link(twin, path); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown state %q", state)
	}
}

// TestDir_Open_CReference runs OpenBSD's shm_open algorithm in C
// (testdata/cref/shmopen.c) and Dir.Open on the same states and flags, and
// compares the errno and the file left behind.
func TestDir_Open_CReference(t *testing.T) {
	bin := buildCRef(t, "shmopen.c")
	withUmask(t, 0o022) // inherited by the C program
	states := []openState{stMissing, stRegular, stDir, stSymlink, stDangling, stHardLink}
	if os.Geteuid() == 0 {
		states = append(states, stOtherUser)
	}
	var flags []int
	for _, acc := range []int{unix.O_RDONLY, unix.O_WRONLY, unix.O_RDWR, unix.O_ACCMODE} {
		for extra := 0; extra < 8; extra++ {
			f := acc
			if extra&1 != 0 {
				f |= unix.O_CREAT
			}
			if extra&2 != 0 {
				f |= unix.O_EXCL
			}
			if extra&4 != 0 {
				f |= unix.O_TRUNC
			}
			flags = append(flags, f)
		}
	}
	flags = append(flags,
		unix.O_RDWR|unix.O_CLOEXEC, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CREAT,
		unix.O_RDWR|unix.O_APPEND, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CREAT,
		unix.O_RDONLY|unix.O_DIRECTORY, unix.O_RDWR|unix.O_SYNC|unix.O_TRUNC)

	const name = "/cref"
	for _, state := range states {
		for _, flag := range flags {
			goDir, cDir := t.TempDir(), t.TempDir()
			goSide, cSide := t.TempDir(), t.TempDir()
			goPath, _ := posixshm.Dir(goDir).Path(name)
			cPath, _ := posixshm.Dir(cDir).Path(name)
			plant(t, state, goPath, goSide)
			plant(t, state, cPath, cSide)

			out, err := exec.Command(bin, cDir, name, strconv.Itoa(flag), "0644").Output()
			if err != nil {
				t.Fatalf("%s: %v", bin, err)
			}
			var cErrno syscall.Errno
			if s := strings.TrimSpace(string(out)); s != "ok" {
				n, err := strconv.Atoi(strings.TrimPrefix(s, "errno "))
				if err != nil {
					t.Fatalf("C reference printed %q", out)
				}
				cErrno = syscall.Errno(n)
			}
			f, err := posixshm.Dir(goDir).Open(name, flag, 0o644)
			if f != nil {
				f.Close()
			}
			goErrno := errnoOf(t, err)

			goAfter := strings.ReplaceAll(snapshot(t, goDir), goSide, "SIDE")
			cAfter := strings.ReplaceAll(snapshot(t, cDir), cSide, "SIDE")
			goAfter += " | " + strings.ReplaceAll(snapshot(t, goSide), goSide, "SIDE")
			cAfter += " | " + strings.ReplaceAll(snapshot(t, cSide), cSide, "SIDE")
			goAfter = strings.ReplaceAll(goAfter, filepath.Base(goPath), "OBJ")
			cAfter = strings.ReplaceAll(cAfter, filepath.Base(cPath), "OBJ")

			wantErrno, wantAfter, why := cErrno, cAfter, knownDeviation(state, flag, cErrno)
			switch why {
			case "":
			case devHardLink:
				wantErrno, wantAfter = syscall.EPERM, goAfter
			case devTruncRefused:
				wantAfter = goAfter
			}
			if goErrno != wantErrno {
				t.Errorf("%s, flags %#x: Go %s, C %s", state, flag, errnoName(goErrno), errnoName(cErrno))
			}
			if why == devTruncRefused && goAfter == cAfter {
				t.Errorf("%s, flags %#x: C truncated the refused file, so should Go not? snapshot %s", state, flag, goAfter)
			}
			if goAfter != wantAfter {
				t.Errorf("%s, flags %#x: files differ after the call\n Go: %s\n  C: %s", state, flag, goAfter, cAfter)
			}
		}
	}
}

// Documented differences between Dir.Open and OpenBSD's libc.
const (
	// devHardLink: Dir.Open refuses a file with two links (EPERM); libc
	// opens it.
	devHardLink = "hard link refused"
	// devTruncRefused: libc truncates inside open(2), before its owner
	// check, so it empties another user's file that it then refuses;
	// Dir.Open truncates only files it accepts.
	devTruncRefused = "no truncation of a refused file"
)

// knownDeviation says whether the case is one where Dir.Open deliberately
// differs from libc.
func knownDeviation(state openState, flag int, cErrno syscall.Errno) string {
	if flag&^(unix.O_ACCMODE|unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC|unix.O_CLOEXEC|unix.O_NOFOLLOW) != 0 {
		return ""
	}
	if acc := flag & unix.O_ACCMODE; acc == unix.O_WRONLY || acc == unix.O_ACCMODE {
		return ""
	}
	if flag&unix.O_TRUNC != 0 && flag&unix.O_ACCMODE == unix.O_RDONLY {
		return "" // EINVAL before any file is looked at, in both
	}
	excl := flag&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL
	switch {
	case state == stHardLink && !excl:
		return devHardLink
	case state == stOtherUser && !excl && flag&unix.O_TRUNC != 0 && cErrno == syscall.EPERM:
		return devTruncRefused
	}
	return ""
}

// helperEnv carries the cases of TestHelperOpen when the test binary
// re-executes itself as another user.
const helperEnv = "POSIXSHM_TEST_HELPER_OPEN"

// TestHelperOpen is not a test: run by the differential tests in a child
// process, as uid 65534 where they need it, it performs one Open per line
// of helperEnv ("umask dir name flag perm", tab-separated) and prints "ok"
// or "errno <n>" for each, as the C references do. A dir of "-" stands
// for this system's own convention (posixshm.Open), any other for
// posixshm.Dir(dir).
func TestHelperOpen(t *testing.T) {
	cases := os.Getenv(helperEnv)
	if cases == "" {
		t.Skip("helper process for the differential tests")
	}
	for _, c := range strings.Split(cases, "\n") {
		args := strings.Split(c, "\t")
		if len(args) != 5 {
			t.Fatalf("bad case %q", c)
		}
		mask, _ := strconv.ParseInt(args[0], 0, 32)
		flag, _ := strconv.ParseInt(args[3], 0, 64)
		perm, _ := strconv.ParseUint(args[4], 0, 32)
		open := posixshm.Open
		if dir, ok := strings.CutPrefix(args[1], "glibc:"); ok {
			open = posixshm.GlibcDir(dir).Open
		} else if args[1] != "-" {
			open = posixshm.Dir(args[1]).Open
		}
		old := syscall.Umask(int(mask))
		f, err := open(args[2], int(flag), os.FileMode(perm))
		syscall.Umask(old)
		if err != nil {
			var errno syscall.Errno
			errors.As(err, &errno)
			fmt.Printf("errno %d\n", int(errno))
			continue
		}
		f.Close()
		fmt.Println("ok")
	}
}

// helperCase is a line of helperEnv. dir "-" means this build's convention,
// "glibc:DIR" Linux's rooted at DIR, anything else OpenBSD's rooted at dir.
func helperCase(umask int, dir, name string, flag int, perm os.FileMode) string {
	return strings.Join([]string{strconv.Itoa(umask), dir, name, strconv.Itoa(flag), strconv.Itoa(int(perm))}, "\t")
}

// reachableDir is a new directory that uid 65534 can reach (t.TempDir's
// parent is private to root), removed at the end of the test.
func reachableDir(t testing.TB, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// nobody runs programs as uid and gid 65534.
var nobody = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}

// results runs cmd, as uid 65534 if asNobody, and returns the "ok" and
// "errno <n>" lines it prints.
func results(t testing.TB, cmd *exec.Cmd, asNobody bool) []string {
	t.Helper()
	if asNobody {
		cmd.SysProcAttr = nobody
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	var res []string
	for _, line := range strings.Split(string(out), "\n") {
		if line == "ok" || strings.HasPrefix(line, "errno ") {
			res = append(res, line)
		}
	}
	return res
}

// helperOpens runs the cases (helperCase lines) in one TestHelperOpen
// process of exe, as uid 65534 if asNobody, and returns a result per case.
func helperOpens(t testing.TB, exe string, cases []string, asNobody bool) []string {
	t.Helper()
	// One process for all cases: the test binary is slow to start.
	cmd := exec.Command(exe, "-test.run=^TestHelperOpen$")
	cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join(cases, "\n"))
	res := results(t, cmd, asNobody)
	if len(res) != len(cases) {
		t.Fatalf("helper printed %q for %d cases", res, len(cases))
	}
	return res
}

// TestDir_Open_Unprivileged compares Dir.Open with the C reference for
// cases where permissions matter, running both as uid 65534: root would
// bypass the checks.
func TestDir_Open_Unprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the comparison as uid 65534")
	}
	bin := buildCRef(t, "shmopen.c")
	base := reachableDir(t, "posixshm-unpriv-")
	// Both programs must be reachable by uid 65534 too.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe = copyExecutable(t, exe, filepath.Join(base, "posixshm.test"))
	bin = copyExecutable(t, bin, filepath.Join(base, "shmopen"))
	tests := []struct {
		desc   string
		umask  int
		exists os.FileMode // mode of a file planted first (owned by 65534); 0: none
		flag   int
		perm   os.FileMode
	}{
		// OpenBSD refuses O_RDONLY|O_TRUNC (EINVAL), creating nothing;
		// TestInterop_OpenTrunc runs these on Linux's convention.
		{"create read-only file with O_RDONLY|O_TRUNC", 0o022, 0, unix.O_RDONLY | unix.O_CREAT | unix.O_TRUNC, 0o400},
		{"create with O_RDONLY|O_TRUNC, umask removes write", 0o277, 0, unix.O_RDONLY | unix.O_CREAT | unix.O_TRUNC, 0o600},
		{"create read-only file with O_RDWR|O_TRUNC", 0o022, 0, unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC, 0o400},
		{"create read-only file O_RDWR", 0o022, 0, unix.O_RDWR | unix.O_CREAT | unix.O_EXCL, 0o400},
		{"existing read-only file, O_RDONLY|O_TRUNC", 0o022, 0o400, unix.O_RDONLY | unix.O_TRUNC, 0},
		{"existing read-only file, O_RDWR", 0o022, 0o400, unix.O_RDWR, 0},
		{"existing read-only file, O_RDONLY", 0o022, 0o400, unix.O_RDONLY, 0},
		{"existing write-only file, O_RDONLY", 0o022, 0o200, unix.O_RDONLY, 0},
		{"existing unreadable file, O_RDWR|O_CREAT", 0o022, 0o100, unix.O_RDWR | unix.O_CREAT, 0o600},
	}
	const name = "/unpriv"
	dirs := make([][2]string, len(tests))
	var goCases []string
	for i, tt := range tests {
		for j, side := range []string{"go", "c"} {
			dir := filepath.Join(base, fmt.Sprintf("%d-%s", i, side))
			dirs[i][j] = dir
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			path, _ := posixshm.Dir(dir).Path(name)
			if tt.exists != 0 {
				writeOld(t, path)
				if err := os.Chmod(path, tt.exists); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(path, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			}
		}
		goCases = append(goCases, helperCase(tt.umask, dirs[i][0], name, tt.flag, tt.perm))
	}
	goResults := helperOpens(t, exe, goCases, true)
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			old := syscall.Umask(tt.umask) // inherited by the C program
			res := results(t, exec.Command(bin, dirs[i][1], name, strconv.Itoa(tt.flag), strconv.Itoa(int(tt.perm))), true)
			syscall.Umask(old)
			if len(res) != 1 {
				t.Fatalf("C reference printed %q", res)
			}
			results := [2]string{goResults[i], res[0]}
			var snaps [2]string
			for j := range dirs[i] {
				path, _ := posixshm.Dir(dirs[i][j]).Path(name)
				snaps[j] = strings.ReplaceAll(snapshot(t, dirs[i][j]), filepath.Base(path), "OBJ")
			}
			if results[0] != results[1] {
				t.Errorf("flags %#x perm %v umask %03o: Go %s, C %s", tt.flag, tt.perm, tt.umask, results[0], results[1])
			}
			if snaps[0] != snaps[1] {
				t.Errorf("files differ after the call\n Go: %s\n  C: %s", snaps[0], snaps[1])
			}
		})
	}
}

// copyExecutable copies the program src to dst, mode 0755, and returns dst.
func copyExecutable(t testing.TB, src, dst string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}
