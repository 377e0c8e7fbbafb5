package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64 // 0: error
	}{
		{"1", 1}, {"4096", 4096}, {"64K", 64 << 10}, {"64k", 64 << 10}, {"64KiB", 64 << 10}, {"64kb", 64 << 10},
		{"1M", 1 << 20}, {"2G", 2 << 30}, {"1MiB", 1 << 20},
		{"", 0}, {"0", 0}, {"-1", 0}, {"+5", 0}, {"K", 0}, {"1T", 0}, {"1.5M", 0}, {"1 M", 0}, {"0x10", 0},
		{"B", 0}, {"1B", 0}, {"9223372036854775807K", 0}, {"99999999999999999999", 0},
	} {
		got, err := parseSize(tt.in)
		if tt.want == 0 {
			if err == nil {
				t.Errorf("parseSize(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// BSD find's -atime +7 matches when ceil((now - atime) / 1 day) > 7, in
// whole seconds: from atime + 7 days + 1 s on.
func TestRemovableAt(t *testing.T) {
	atime := time.Date(2025, 3, 1, 12, 0, 0, 750_000_000, time.UTC)
	matches := func(now time.Time) bool { // find -atime +7, as OpenBSD's find.c computes it
		const day = 86400
		return (now.Unix()-atime.Unix()+day-1)/day > 7
	}
	at := removableAt(atime)
	if want := time.Date(2025, 3, 8, 12, 0, 1, 0, time.UTC); !at.Equal(want) {
		t.Fatalf("removableAt = %v, want %v", at, want)
	}
	for _, off := range []time.Duration{-2 * time.Second, -time.Second, -time.Nanosecond, 0, time.Second, time.Hour} {
		now := at.Add(off)
		if got, want := matches(now), off >= 0; got != want {
			t.Errorf("at removableAt%+v: find matches = %v, want %v", off, got, want)
		}
	}
}

func TestAtRisk(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		idle time.Duration
		want bool
	}{
		{0, false}, {5 * 24 * time.Hour, false}, {6*24*time.Hour - time.Minute, false},
		{6*24*time.Hour + time.Minute, true}, {7 * 24 * time.Hour, true}, {30 * 24 * time.Hour, true},
	} {
		if got := atRisk(now.Add(-tt.idle), now); got != tt.want {
			t.Errorf("atRisk(idle %v) = %v, want %v", tt.idle, got, tt.want)
		}
	}
}

func TestAge(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Hour, "0s"}, {0, "0s"}, {59 * time.Second, "59s"}, {90 * time.Second, "1m"},
		{3*time.Hour + 5*time.Minute, "3h05m"}, {8*24*time.Hour + 2*time.Hour, "8d02h"},
	} {
		if got := age(now.Add(-tt.d), now); got != tt.want {
			t.Errorf("age(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestScope_kind(t *testing.T) {
	h := strings.Repeat("0123456789abcdef", 4)
	hashed := scope{hashed: true}
	for name, want := range map[string]string{
		h + ".shm": "shm", h + ".sem": "sem", h + ".tmp": "", strings.ToUpper(h) + ".shm": "",
		h[1:] + ".shm": "", "x" + h + ".shm": "", "foo": "",
	} {
		if got := hashed.kind(name); got != want {
			t.Errorf("hashed kind(%q) = %q, want %q", name, got, want)
		}
	}
	glibc := scope{}
	if glibc.kind("foo") != "shm" || glibc.kind("sem.foo") != "sem" {
		t.Errorf("glibc kinds wrong")
	}
	netbsd := scope{prefix: ".shmobj_"}
	if netbsd.kind(".shmobj_foo") != "shm" || netbsd.kind("foo") != "" {
		t.Errorf("prefix kinds wrong")
	}
}

// countingWriter counts the writes made to it.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// TestLs_Scale lists 10,000 objects, writing its table a buffer at a
// time (one write(2) per tabwriter cell was 150,000 system calls). The
// mechanism is asserted, not a duration, which load would break.
func TestLs_Scale(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10,000 files")
	}
	dir := scaleDir(t)
	const n = 10000
	for i := range n {
		p, _ := posixshm.Dir(dir).Path("/obj" + strconv.Itoa(i))
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "not-an-object"), nil, 0o600)
	var out countingWriter
	var errb bytes.Buffer
	start := time.Now()
	if code := run([]string{"ls", "--dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("ls: status %d: %s", code, errb.String())
	}
	elapsed := time.Since(start)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != n+1 {
		t.Fatalf("ls printed %d lines, want %d", len(lines), n+1)
	}
	paths := make([]string, len(lines)-1)
	for i, l := range lines[1:] {
		paths[i] = l[strings.LastIndexByte(l, ' ')+1:]
	}
	if !sortedStrings(paths) {
		t.Errorf("ls output not sorted")
	}
	t.Logf("ls of %d objects: %v, %d writes", n, elapsed, out.writes)
	if limit := out.Len()/4096 + 2; out.writes > limit {
		t.Errorf("ls of %d objects made %d writes for %d bytes, want at most %d (a buffer at a time)", n, out.writes, out.Len(), limit)
	}
}

// scaleDir is a new directory for many files: on a tmpfs (/dev/shm) when
// there is one, since creating 10,000 files on a disk can take many seconds.
func scaleDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/dev/shm", "posixshm-ls-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

// openAged creates the file p with the given times, opens it for reading
// and returns it with its facts.
func openAged(t *testing.T, p string, atime, mtime time.Time) (*os.File, facts) {
	t.Helper()
	if err := os.WriteFile(p, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, atime, mtime); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fa, err := fstatFacts(f, p)
	if err != nil {
		t.Fatal(err)
	}
	return f, fa
}

// TestRestoreAtime: reading a file that was not accessed for days moves its
// access time (relatime, OpenBSD); restoreAtime puts it back.
func TestRestoreAtime(t *testing.T) {
	p := filepath.Join(t.TempDir(), "obj")
	old := time.Now().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	f, before := openAged(t, p, old, old)
	f.ReadAt(make([]byte, 4), 0)
	if err := restoreAtime(f, before); err != nil {
		t.Fatal(err)
	}
	after, err := lstatFacts(p)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Atime.Equal(old) || !after.Mtime.Equal(old) {
		t.Errorf("after restoreAtime: atime %v, mtime %v; want both %v", after.Atime, after.Mtime, old)
	}
}

// TestRestoreAtime_ThroughDescriptor: restoreAtime works on the file it
// read, through its descriptor, even once the path names another file (a
// swap between the read and the restore): that file must not be stamped.
func TestRestoreAtime_ThroughDescriptor(t *testing.T) {
	p := filepath.Join(t.TempDir(), "obj")
	mtime := time.Now().Add(-20 * 24 * time.Hour).Truncate(time.Second)
	f, before := openAged(t, p, time.Now(), mtime)
	// As if the read had moved the access time from ten days ago to now.
	old := time.Now().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	before.Atime = old

	// Meanwhile the path comes to name another file.
	if err := os.Rename(p, p+".moved"); err != nil {
		t.Fatal(err)
	}
	other := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	openAged(t, p, other, other)

	if err := restoreAtime(f, before); err != nil {
		t.Fatalf("restoreAtime: %v", err)
	}
	if fa, err := lstatFacts(p + ".moved"); err != nil || !fa.Atime.Equal(old) || !fa.Mtime.Equal(mtime) {
		t.Errorf("the file read: atime %v, mtime %v (%v); want %v, %v", fa.Atime, fa.Mtime, err, old, mtime)
	}
	if fa, err := lstatFacts(p); err != nil || !fa.Atime.Equal(other) || !fa.Mtime.Equal(other) {
		t.Errorf("the file now at the path: atime %v, mtime %v (%v); want both unchanged, %v", fa.Atime, fa.Mtime, err, other)
	}
}

// TestStatObject_OtherOwner: an object that belongs to another user is
// described from fstat(2) alone; its header is not read, because only the
// owner can read it without refreshing it or put its access time back.
func TestStatObject_OtherOwner(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	s, err := segment.Create("/s", 64, &segment.Options{Layout: d})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	p, _ := d.Path("/s")
	old := time.Now().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	defer func(f func() int) { geteuid = f }(geteuid)
	other := os.Geteuid() + 1
	geteuid = func() int { return other }

	r, err := statObject(d, "/s", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Segment != nil || !strings.Contains(r.NotSegment, "header not read") {
		t.Errorf("statObject as uid %d: segment %+v, not_segment %q; want the header not read", other, r.Segment, r.NotSegment)
	}
	if !r.Atime.Equal(old) || !r.AtRisk {
		t.Errorf("statObject: atime %v, at risk %v; want %v, true", r.Atime, r.AtRisk, old)
	}
	if fa, err := lstatFacts(p); err != nil || !fa.Atime.Equal(old) {
		t.Errorf("after statObject: atime %v (%v), want %v", fa.Atime, err, old)
	}
}

// TestTouch_OwnerOnly: under OpenBSD's layout only an object's owner may
// open it, root included, so touch's help must not suggest root's
// crontab; it says to run touch as the owner. As root, the test also shows
// the refusal the help describes.
func TestTouch_OwnerOnly(t *testing.T) {
	var help bytes.Buffer
	if code := run([]string{"help", "touch"}, &help, io.Discard); code != 0 {
		t.Fatalf("help touch: status %d", code)
	}
	if h := help.String(); strings.Contains(h, "root's") || !strings.Contains(h, "as the user who") || !strings.Contains(h, "owns") {
		t.Errorf("touch's help suggests root or does not say to run it as the owner:\n%s", h)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to give an object to uid 65534")
	}
	d := posixshm.Dir(t.TempDir())
	p, _ := d.Path("/theirs")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := run([]string{"touch", "--dir", string(d), "/theirs"}, io.Discard, &stderr); code != exitFail || !strings.Contains(stderr.String(), "operation not permitted") {
		t.Errorf("root's touch of uid 65534's object: status %d, %q; want 1 and EPERM", code, stderr.String())
	}
}
