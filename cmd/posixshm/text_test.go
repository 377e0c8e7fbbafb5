package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/posixshm/posixshm/posixshm"
)

func TestQuoted(t *testing.T) {
	for in, want := range map[string]string{
		"/x": "/x", "/two words": "/two words", "/dev/shm/é": "/dev/shm/é",
		"": `""`, "/a\nb": `"/a\nb"`, "/x\x00": `"/x\x00"`, "\xff": `"\xff"`, "/tab\t": `"/tab\t"`,
		" lead": `" lead"`, "trail ": `"trail "`, `"q"`: `"\"q\""`, "a\u200bb": `"a\u200bb"`,
	} {
		if got := quoted(in); got != want {
			t.Errorf("quoted(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/x": "/x", "-odd": "-odd", "/a b": "'/a b'", "it's": `'it'\''s'`, "": "''", "/a\nb": `"/a\nb"`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 objects", 1: "1 object", 2: "2 objects"} {
		if got := plural(n, "object"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
	if got := plural(2, "process"); got != "2 processes" {
		t.Errorf("plural(2, process) = %q", got)
	}
}

// TestDescribe: a name and file that are not plain text are quoted in
// messages; the rest of the library's message is kept.
func TestDescribe(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	_, err := d.Open("/a\nb", os.O_RDONLY, 0)
	p, _ := d.Path("/a\nb")
	if got, want := describe(err, d), `shm_open "/a\nb": `+p+": no such file or directory"; got != want {
		t.Errorf("describe = %q, want %q", got, want)
	}
	fe := &fs.PathError{Op: "shm_open", Path: "/a\nb", Err: &posixshm.FileError{File: "/dev/shm/a\nb", Errno: syscall.ENOENT}}
	if got, want := describe(fe, nil), `shm_open "/a\nb": "/dev/shm/a\nb": no such file or directory`; got != want {
		t.Errorf("describe = %q, want %q", got, want)
	}
	if got := describe(syscall.EPERM, nil); got != "operation not permitted" {
		t.Errorf("describe(EPERM) = %q", got)
	}
}

// TestPath_Newline: path prints one line per name, whatever the name holds.
func TestPath_Newline(t *testing.T) {
	if !devShm() {
		t.Skip("Linux's convention keeps the name in the path; not this build's")
	}
	var out, errb bytes.Buffer
	if code := run([]string{"path", "/a\nb", "/c"}, &out, &errb); code != 0 {
		t.Fatalf("path: status %d: %s", code, errb.String())
	}
	if got, want := out.String(), "\"/dev/shm/a\\nb\"\n/dev/shm/c\n"; got != want {
		t.Errorf("path printed %q, want %q", got, want)
	}
}

// TestLs_Newline: a file whose name holds a newline takes one table row.
func TestLs_Newline(t *testing.T) {
	if !devShm() {
		t.Skip("lists Linux's /dev/shm, not this build's convention")
	}
	p := filepath.Join("/dev/shm", "posixshm-test-a\nb-"+strings.Repeat("x", 3)+"-"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Skip(err)
	}
	defer os.Remove(p)
	var out, errb bytes.Buffer
	if code := run([]string{"ls"}, &out, &errb); code != 0 {
		t.Fatalf("ls: status %d: %s", code, errb.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "b-xxx") {
			t.Errorf("ls split a name over two lines:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), `"/dev/shm/posixshm-test-a\nb-xxx-`) {
		t.Errorf("ls did not quote the name:\n%s", out.String())
	}
}

func TestVersion(t *testing.T) {
	mk := func(v string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/posixshm/posixshm", Version: v}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	for _, tt := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{mk("v1.2.3"), "posixshm v1.2.3 (go1.26.8)"},
		{mk("v0.0.0-20250601100000-93ef2b1c3d4e+dirty"), "posixshm v0.0.0-20250601100000-93ef2b1c3d4e+dirty (go1.26.8)"},
		{mk("(devel)", "vcs.revision", "93ef2b1c3d4e5f60718293a4b5c6d7e8f9012345", "vcs.time", "2025-06-01T10:00:00Z", "vcs.modified", "true"),
			"posixshm development build, commit 93ef2b1c3d4e of 2025-06-01T10:00:00Z, with uncommitted changes (go1.26.8)"},
		{mk("(devel)", "vcs.revision", "93ef2b1c3d4e5f60718293a4b5c6d7e8f9012345", "vcs.modified", "false"),
			"posixshm development build, commit 93ef2b1c3d4e (go1.26.8)"},
		{mk("(devel)"), "posixshm development build without version control information (go1.26.8)"},
		{mk(""), "posixshm development build without version control information (go1.26.8)"},
	} {
		if got := version(tt.bi, true); got != tt.want {
			t.Errorf("version(%s) = %q, want %q", tt.bi.Main.Version, got, tt.want)
		}
	}
	if got := version(nil, false); !strings.Contains(got, "no build information") {
		t.Errorf("version without build info = %q", got)
	}
	// -ldflags "-X main.stampedVersion=v9.8.7" wins over the build info.
	defer func(v string) { stampedVersion = v }(stampedVersion)
	stampedVersion = "v9.8.7"
	if got, want := version(mk("(devel)"), true), "posixshm v9.8.7 (go1.26.8)"; got != want {
		t.Errorf("stamped version = %q, want %q", got, want)
	}
}
