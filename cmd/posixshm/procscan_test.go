package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMappedFiles(t *testing.T) {
	maps := []byte(`55d5c0a00000-55d5c0a02000 r--p 00000000 fd:01 1837361                    /usr/bin/cat
7f2c8a400000-7f2c8a401000 rw-s 00000000 00:1a 42                         /dev/shm/obj (deleted)
7f2c8a401000-7f2c8a402000 rw-s 00000000 103:0a 7                          /dev/shm/x
7f2c8a600000-7f2c8a621000 rw-p 00000000 00:00 0                          [heap]
7ffd1f5e4000-7ffd1f605000 rw-p 00000000 00:00 0
garbage line
7f2c8a402000-7f2c8a403000 rw-s 00000000 zz:01 9 /bad/dev
`)
	want := []fileKey{{linuxDev(0xfd, 1), 1837361}, {linuxDev(0, 0x1a), 42}, {linuxDev(0x103, 0xa), 7}}
	if got := mappedFiles(maps); !slices.Equal(got, want) {
		t.Errorf("mappedFiles = %v, want %v", got, want)
	}
}

func TestHidepid(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mountinfo")
	for info, want := range map[string]string{
		"22 27 0:21 / /proc rw,relatime - proc proc rw\n":                                            "",
		"22 27 0:21 / /proc rw,relatime shared:12 - proc proc rw,hidepid=invisible\n":                "hidepid=invisible",
		"22 27 0:21 / /proc rw,relatime - proc proc rw,hidepid=2,gid=4\n":                            "hidepid=2",
		"22 27 0:21 / /proc rw,relatime - proc proc rw,hidepid=1\n":                                  "", // entries visible, unreadable: found out per process
		"30 27 0:40 / /mnt/proc rw - proc proc rw,hidepid=2\n22 27 0:21 / /proc rw - proc proc rw\n": "",
	} {
		if err := os.WriteFile(file, []byte(info), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := hidepid(file, "/proc"); got != want {
			t.Errorf("hidepid(%q) = %q, want %q", info, got, want)
		}
	}
}

// TestScanProc: processes that hold a file open, or have it mapped with
// the descriptor closed, are found, with their names; this process,
// which holds it open too, is not; a file nobody else uses has no users.
func TestScanProc(t *testing.T) {
	if procRoot == "" {
		t.Skip("no /proc here")
	}
	dir := t.TempDir()
	used, unused := filepath.Join(dir, "used"), filepath.Join(dir, "unused")
	for _, p := range []string{used, unused} {
		if err := os.WriteFile(p, make([]byte, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ho := holder(t, "plainhold", "open", used, filepath.Join(dir, "open.pid"))
	hm := holder(t, "plainhold", "map", used, filepath.Join(dir, "map.pid"))
	self, err := os.Open(unused)
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	fu, _ := lstatFacts(used)
	fn, _ := lstatFacts(unused)
	pu := scanProc(procRoot, map[fileKey]bool{fu.key(): true, fn.key(): true}, os.Getpid(), os.Geteuid())
	if pu.unknown != "" {
		t.Skipf("gc cannot tell who uses files here: %s", pu.unknown)
	}
	got := pids(pu.users[fu.key()])
	slices.Sort(got)
	want := []int{ho.Process.Pid, hm.Process.Pid}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("users of the file held open and mapped: %v, want %v", got, want)
	}
	for _, p := range pu.users[fu.key()] {
		if p.comm != "plainhold" {
			t.Errorf("%v: comm %q, want plainhold", p, p.comm)
		}
	}
	if u := pu.users[fn.key()]; len(u) != 0 {
		t.Errorf("users of a file only this process holds open: %v, want none", u)
	}
	for _, p := range pu.unreadable {
		if p.pid == ho.Process.Pid || p.pid == hm.Process.Pid {
			t.Errorf("our own child %v could not be read: %v", p.proc, p.err)
		}
	}
}

// TestProcFiles_Threads reads a /proc directory built by the test: a
// process whose leader has exited (its maps and descriptor table empty)
// while its threads map one file and hold another open, one thread that
// exited meanwhile (its entries gone) and one whose descriptors cannot
// be read. What the live threads use is found; the unreadable table is an
// error (the process counts as using every file); the exited thread is
// none. The thread IDs are beyond any pid_max, so kcmp(2) cannot tell
// that two tables are one, and each is read.
func TestProcFiles_Threads(t *testing.T) {
	dir := t.TempDir()
	files := filepath.Join(t.TempDir(), "files")
	os.Mkdir(files, 0o755)
	keys := map[string]fileKey{}
	for _, name := range []string{"mapped", "open", "unused"} {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		fa, err := lstatFacts(p)
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = fa.key()
	}
	want := map[fileKey]bool{keys["mapped"]: true, keys["open"]: true, keys["unused"]: true}
	const pid, live, exited, hidden = 5000001, 5000002, 5000003, 5000004
	mapsLine := func(k fileKey) string {
		return fmt.Sprintf("7f2c8a400000-7f2c8a401000 rw-s 00000000 %x:%x %d %s\n", unix.Major(k.dev), unix.Minor(k.dev), k.ino, "/x")
	}
	task := func(tid int) string { return filepath.Join(dir, "task", strconv.Itoa(tid)) }
	mkdirs := func(ds ...string) {
		for _, d := range ds {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The leader, a zombie: empty maps and table, as at /proc/PID and
	// /proc/PID/task/PID.
	mkdirs(filepath.Join(dir, "fd"), task(pid), task(exited))
	write(filepath.Join(dir, "maps"), "")
	// A live thread maps one file and holds the other open.
	mkdirs(filepath.Join(task(live), "fd"))
	write(filepath.Join(task(live), "maps"), mapsLine(keys["mapped"]))
	if err := os.Symlink(filepath.Join(files, "open"), filepath.Join(task(live), "fd", "3")); err != nil {
		t.Fatal(err)
	}
	found, err := procFiles(dir, pid, want)
	if err != nil {
		t.Errorf("procFiles: %v", err)
	}
	if !found[keys["mapped"]] || !found[keys["open"]] || found[keys["unused"]] || len(found) != 2 {
		t.Errorf("procFiles found %v; want the mapped %v and the open %v", found, keys["mapped"], keys["open"])
	}

	// A thread whose table cannot be read: an error, and what the others
	// use is still found.
	mkdirs(task(hidden))
	write(filepath.Join(task(hidden), "maps"), mapsLine(keys["mapped"]))
	write(filepath.Join(task(hidden), "fd"), "not a directory")
	found, err = procFiles(dir, pid, want)
	if err == nil || !strings.Contains(err.Error(), strconv.Itoa(hidden)) {
		t.Errorf("procFiles with an unreadable thread: error %v, want one naming thread %d", err, hidden)
	}
	if !found[keys["open"]] {
		t.Errorf("procFiles with an unreadable thread found %v, want the open file still", found)
	}

	// The leader's entries gone: the process has exited.
	os.Remove(filepath.Join(dir, "maps"))
	if _, err := procFiles(dir, pid, want); !gone(err) {
		t.Errorf("procFiles of an exited process: %v, want an error saying it is gone", err)
	}
}

// TestSameFiles: this process's threads share one descriptor table, as
// kcmp(2) tells, and a task that does not exist shares none.
func TestSameFiles(t *testing.T) {
	if procRoot == "" {
		t.Skip("no /proc scan in this build")
	}
	tids, err := taskIDs(filepath.Join(procRoot, "self", "task"))
	if err != nil || len(tids) < 2 {
		t.Fatalf("threads of this process: %v, %v", tids, err)
	}
	if !sameFiles(os.Getpid(), tids[len(tids)-1]) {
		t.Skipf("kcmp(2) does not tell here that two threads share a descriptor table: gc reads every thread's table")
	}
	if sameFiles(os.Getpid(), 5000001) {
		t.Errorf("sameFiles with a task that does not exist: true")
	}
}

// BenchmarkScanProc: one scan of every process's threads on this machine,
// for one file, as gc --plain makes one (twice when it removes).
func BenchmarkScanProc(b *testing.B) {
	if procRoot == "" {
		b.Skip("no /proc scan in this build")
	}
	want := map[fileKey]bool{{dev: 1, ino: 1}: true}
	for b.Loop() {
		scanProc(procRoot, want, os.Getpid(), os.Geteuid())
	}
}
