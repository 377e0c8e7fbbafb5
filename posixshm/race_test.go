package posixshm_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/internal/openbsdsim"
	"github.com/posixshm/posixshm/posixshm"
)

// Races against real processes. A racer is this test binary run again
// (TestHelperRacer), as the same user or as uid 65534 through setpriv(1),
// changing files in a loop until its standard input is closed, while the
// test opens objects as fast as it can.

const racerEnv = "POSIXSHM_TEST_RACER"

// raceTime is how long each race runs: long enough to lose the races the
// tests look for many times over on a 2-core machine (each failed on the
// code before the fix within a fraction of it), and longer with
// POSIXSHM_STRESS=1.
func raceTime() time.Duration {
	if os.Getenv("POSIXSHM_STRESS") == "1" {
		return time.Minute
	}
	return 1500 * time.Millisecond
}

// TestHelperRacer is not a test: it is the racer process. Its modes:
//
//	link FILE PATH           hard-link FILE at PATH and remove PATH again
//	swap HASHDIR TARGET...   attack the directories of an illumos long name
func TestHelperRacer(t *testing.T) {
	spec, ok := os.LookupEnv(racerEnv)
	if !ok {
		t.Skip("helper process for the race tests")
	}
	args := strings.Split(spec, "\n")
	stop := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	fmt.Println("ready")
	switch args[0] {
	case "link":
		for !stopped() {
			os.Link(args[1], args[2])
			os.Remove(args[2])
		}
	case "swap":
		swapAttack(args[1], args[2:], stopped)
	default:
		fmt.Fprintln(os.Stderr, "racer: unknown mode", args[0])
		os.Exit(2)
	}
	os.Exit(0)
}

// startRacer starts a racer running args and returns once it is ready; the
// racer stops at the end of the test, or when stop is called. As nobody,
// it runs as uid and gid 65534 without supplementary groups, from a copy
// of the test binary in dir, which uid 65534 must be able to reach.
func startRacer(t *testing.T, nobody bool, dir string, args ...string) (stop func()) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	if nobody {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Fatal(err)
		}
		exe = copyExecutable(t, exe, filepath.Join(dir, "racer.test"))
		cmd = exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", exe, "-test.run=^TestHelperRacer$")
	} else {
		cmd = exec.Command(exe, "-test.run=^TestHelperRacer$")
	}
	cmd.Env = append(os.Environ(), racerEnv+"="+strings.Join(args, "\n"))
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
	var once sync.Once
	stop = func() {
		once.Do(func() {
			in.Close()
			timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
			defer timer.Stop()
			io.Copy(io.Discard, out)
			if err := cmd.Wait(); err != nil {
				t.Errorf("racer %q: %v", args[0], err)
			}
		})
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		stop()
		t.Fatalf("racer %q printed %q, %v; want ready", args[0], line, err)
	}
	return stop
}

// exactTree describes everything under root, not following symbolic
// links: type, permissions, owner, size, exact modification time (of
// directories too, so that a file created and removed again shows),
// content and link targets.
func exactTree(t testing.TB, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %v uid=%d size=%d mtime=%d", path[len(root):], fi.Mode(), st.Uid, fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %q", data)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			b.WriteString(" -> " + target)
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestOpen_LinkRace races a process that hard-links another file of the
// caller's at an object's path and removes the link again, in a loop: the
// descriptor open(2) returned then shows one link at times, although the
// file is not the object. Open must never accept that file, and never
// truncate or change it.
func TestOpen_LinkRace(t *testing.T) {
	if openbsdsim.Enabled {
		// Measured: the lookup accepts the linked file about once in 70
		// opens here, and truncates it.
		t.Skip("not simulated: the openbsdsim build checks the name with a lookup (links_other.go), which is " +
			"exact on OpenBSD, whose lookups wait for unlink(2) under the directory's vnode lock, and racy on Linux, " +
			"whose dentry cache they read without it; the Linux build's check (links_linux.go) is tested here without the tag")
	}
	for _, c := range []struct {
		sys    string
		layout func(dir string) posixshm.Layout
		flags  []int
	}{
		{"openbsd", func(dir string) posixshm.Layout { return posixshm.Dir(dir) }, []int{os.O_RDWR | os.O_TRUNC, os.O_RDWR}},
		{"glibc", posixshm.GlibcDir, []int{os.O_RDWR | os.O_TRUNC, os.O_RDONLY | os.O_TRUNC, os.O_RDWR}},
	} {
		t.Run(c.sys, func(t *testing.T) {
			dir, side := t.TempDir(), t.TempDir()
			// Others may remove names here: the link count alone proves
			// nothing (see checkOnlyName).
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			l := c.layout(dir)
			const name = "/race"
			path, err := l.Path(name)
			if err != nil {
				t.Fatal(err)
			}
			precious := filepath.Join(side, "precious")
			writeOld(t, precious)
			before := exactTree(t, side)

			stop := startRacer(t, false, "", "link", precious, path)
			var opens, accepted int
			errnos := map[syscall.Errno]int{}
			for end := time.Now().Add(raceTime()); time.Now().Before(end); opens++ {
				f, err := l.Open(name, c.flags[opens%len(c.flags)], 0)
				if err == nil {
					accepted++
					f.Close()
					continue
				}
				errnos[errnoOf(t, err)]++
			}
			stop()
			t.Logf("%d opens: %d accepted, errors %v", opens, accepted, errnos)
			if accepted > 0 {
				t.Errorf("Open accepted the hard-linked file %d times in %d", accepted, opens)
			}
			for e := range errnos {
				if e != syscall.ENOENT && e != syscall.EPERM && e != syscall.EAGAIN {
					t.Errorf("Open failed with %s; want only ENOENT, EPERM or EAGAIN", errnoName(e))
				}
			}
			if after := exactTree(t, side); after != before {
				t.Errorf("the hard-linked file changed:\n before %s\n after  %s", before, after)
			}
		})
	}
}

// TestIllumosDir_LongNameAttack: names too long for illumos's prefix live
// in /tmp/.<md5>/.SHMD/<name>, with .SHML lock files beside; libc makes
// those directories world-writable. As root, it opens and removes such a
// name thousands of times while uid 65534 swaps the directories for
// symbolic links (or plants a directory of its own) in a loop. No file
// outside the directory may be created, removed, changed in mode or
// truncated.
func TestIllumosDir_LongNameAttack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the attacker runs as uid 65534")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv(1) (util-linux) to run the attacker as uid 65534")
	}
	base := reachableDir(t, "posixshm-attack-")
	tmp := filepath.Join(base, "tmp") // the attacker may write here, as in /tmp
	if err := os.Mkdir(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	l := posixshm.IllumosDir(tmp)
	name := "/" + strings.Repeat("n", 252)
	path, err := l.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	hashDir := filepath.Dir(filepath.Dir(path))
	if filepath.Dir(hashDir) != tmp {
		t.Fatalf("%s is not a long name's path", path)
	}

	// Root's files the attacker points its links at: a file (chmod
	// target), a directory holding a file of the object's name, and a
	// stand-in hash directory with both type directories.
	canary := filepath.Join(base, "canary")
	for _, d := range []string{"typedir", "hashdir/.SHMD", "hashdir/.SHML"} {
		if err := os.MkdirAll(filepath.Join(canary, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"file", "typedir/" + name[1:], "hashdir/.SHMD/" + name[1:]} {
		writeOld(t, filepath.Join(canary, f))
	}
	for _, d := range []string{"typedir", "hashdir/.SHMD", "hashdir/.SHML", "hashdir", ""} {
		if err := os.Chtimes(filepath.Join(canary, d), oldTime, oldTime); err != nil {
			t.Fatal(err)
		}
	}
	before := exactTree(t, canary)

	stop := startRacer(t, true, base, "swap", hashDir,
		filepath.Join(canary, "file"), filepath.Join(canary, "typedir"), filepath.Join(canary, "hashdir"))
	var opens, created int
	errnos := map[syscall.Errno]int{}
	for end := time.Now().Add(raceTime()); time.Now().Before(end); opens++ {
		f, err := l.Open(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err == nil {
			created++
			f.WriteString("root's data")
			f.Close()
			err = l.Unlink(name)
		}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			errnos[errno]++
		}
	}
	stop()
	t.Logf("%d opens: %d created, errors %v", opens, created, errnos)
	if after := exactTree(t, canary); after != before {
		t.Errorf("files outside the directory changed:\n before %s\n after  %s", before, after)
	}
}

// swapAttack is the racer's "swap" mode: it attacks the directories of a
// long name below hashDir in turn. For a while it swaps the type
// directories root made (.SHMD, .SHML) for links to targets, then undoes
// that so root makes new ones; for a while it makes hashDir a link, or a
// directory of its own whose type directories are links.
func swapAttack(hashDir string, targets []string, stopped func() bool) {
	types := []string{".SHMD", ".SHML"}
	link := func(target, path string) {
		if os.Symlink(target, path) != nil {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
	removeLinks := func(dir string) {
		for _, typ := range types {
			p := filepath.Join(dir, typ)
			if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				os.Remove(p)
			}
			os.Remove(p + ".old")
		}
	}
	for i := 0; !stopped(); i++ {
		target := targets[i%len(targets)]
		switch phase := time.Now().UnixMilli() / 20 % 4; phase {
		case 0, 1: // root's directories: swap the type directories
			for _, typ := range types {
				p := filepath.Join(hashDir, typ)
				if os.Rename(p, p+".old") == nil || i%2 == 0 {
					link(target, p)
				}
			}
			removeLinks(hashDir)
		case 2: // the hash directory itself, as a link
			link(targets[len(targets)-1], hashDir)
			if fi, err := os.Lstat(hashDir); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				os.Remove(hashDir)
			}
		case 3: // a hash directory of the attacker's, with links inside
			if os.Mkdir(hashDir, 0o777) == nil {
				for _, typ := range types {
					os.Symlink(target, filepath.Join(hashDir, typ))
				}
				time.Sleep(time.Millisecond)
				removeLinks(hashDir)
				os.Remove(hashDir)
			}
			removeLinks(hashDir)
		}
	}
	removeLinks(hashDir)
	if fi, err := os.Lstat(hashDir); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		os.Remove(hashDir)
	}
}
