package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
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
