package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// writeV2 writes a version 2 segment (as the release before the name was
// recorded wrote them) with 64 data bytes at path.
func writeV2(t *testing.T, path string) {
	t.Helper()
	h := segment.Header{Version: 2, HeaderSize: 256, TableOffset: 256, Slots: 64, DataOffset: 768, DataSize: 64}
	b, err := h.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, make([]byte, h.DataOffset+h.DataSize-int64(len(b)))...)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestList_Names: ls shows the name a version 3 segment's header records,
// cut names with "…"; in OpenBSD's layout, whose file names are hashes,
// nothing else has a name ("-", null): not a version 2 segment, not a
// plain object. (In /dev/shm the file name tells: see
// TestList_NamesFromFiles.)
func TestList_Names(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	long := "/" + strings.Repeat("n", segment.MaxName+100)
	for _, name := range []string{"/v3", long} {
		s, err := segment.Create(name, 64, &segment.Options{Layout: d})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	v2, _ := d.Path("/v2")
	writeV2(t, v2)
	plain, _ := d.Path("/plain")
	if err := os.WriteFile(plain, []byte("another program's object"), 0o600); err != nil {
		t.Fatal(err)
	}
	entries, err := list(scope{dir: string(d), hashed: true}, time.Now(), func(w string) { t.Error(w) })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // path → name as ls shows it
		mustPath(t, d, "/v3"): "/v3",
		mustPath(t, d, long):  long[:segment.MaxName] + "…",
		v2:                    "-",
		plain:                 "-",
	}
	if len(entries) != len(want) {
		t.Fatalf("%d entries, want %d", len(entries), len(want))
	}
	for _, e := range entries {
		if got := e.nameText(); got != want[e.Path] {
			t.Errorf("%s (%s): name %.20q..., want %.20q...", e.Path, e.Kind, got, want[e.Path])
		}
		if (e.Name != nil && len(*e.Name) == segment.MaxName) != e.NameTruncated {
			t.Errorf("%s: name_truncated %v", e.Path, e.NameTruncated)
		}
		if e.Path == v2 && (e.Kind != kindSegment || e.Segment == nil || e.Segment.Version != 2 || e.Segment.Name != nil) {
			t.Errorf("version 2 segment: kind %s, segment %+v", e.Kind, e.Segment)
		}
	}
}

// TestList_NamesFromFiles: in this system's convention on Linux the file
// name is the object's name, for a version 2 segment and a plain object
// too.
func TestList_NamesFromFiles(t *testing.T) {
	if !devShm() {
		t.Skip("this build's convention is not /dev/shm")
	}
	base := "posixshm-test-names-" + filepath.Base(t.TempDir())
	v2 := "/dev/shm/" + base + "-v2"
	plain := "/dev/shm/" + base + "-plain"
	t.Cleanup(func() { os.Remove(v2); os.Remove(plain) })
	writeV2(t, v2)
	if err := os.WriteFile(plain, []byte("another program's object"), 0o600); err != nil {
		t.Fatal(err)
	}
	entries, err := list(scope{dir: "/dev/shm"}, time.Now(), func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range entries {
		switch e.Path {
		case v2, plain:
			found++
			if want := "/" + filepath.Base(e.Path); e.Name == nil || *e.Name != want {
				t.Errorf("%s: name %v, want %s", e.Path, e.Name, want)
			}
		}
	}
	if found != 2 {
		t.Errorf("found %d of the 2 objects", found)
	}
}

func mustPath(t *testing.T, d posixshm.Dir, name string) string {
	t.Helper()
	p, err := d.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestList_RecordedNameMustLeadHere: ls and gc show a segment's recorded
// name only where that name leads to the segment's file. The header is
// only a claim: a segment whose file was renamed, or a file someone wrote
// with a header recording another object's name, showed that other name
// (on main: "/victim" for a file that "posixshm rm /victim" does not
// touch, and a real /victim beside it that it does remove). In OpenBSD's
// layout such a name is "-"; where the file name tells the name, that
// name.
func TestList_RecordedNameMustLeadHere(t *testing.T) {
	d := posixshm.Dir(t.TempDir())
	for _, name := range []string{"/victim", "/moved"} {
		s, err := segment.Create(name, 64, &segment.Options{Layout: d})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	victim, moved := mustPath(t, d, "/victim"), mustPath(t, d, "/moved")
	// A copy of /victim's file under another name, and /moved renamed.
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	impostor := mustPath(t, d, "/impostor")
	if err := os.WriteFile(impostor, b, 0o600); err != nil {
		t.Fatal(err)
	}
	renamed := mustPath(t, d, "/renamed")
	if err := os.Rename(moved, renamed); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{victim: "/victim", impostor: "-", renamed: "-"}
	check := func(what string, got map[string]string) {
		t.Helper()
		for path, name := range want {
			if got[path] != name {
				t.Errorf("%s: %s: name %q, want %q", what, filepath.Base(path), got[path], name)
			}
		}
	}
	entries, err := list(scope{dir: string(d), hashed: true}, time.Now(), func(w string) { t.Error(w) })
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Path] = e.nameText()
	}
	check("ls", got)
	got = map[string]string{}
	for path, e := range runGcJSON(t, "--dry-run", "--min-age", "0", "--dir", string(d)) {
		got[path] = nameText(e.Name, e.NameTruncated)
	}
	check("gc", got)

	// In /dev/shm, the file name is the name, whatever the header says.
	if !devShm() {
		return
	}
	base := "posixshm-test-recorded-" + filepath.Base(t.TempDir())
	s, err := segment.Create("/"+base+"-a", 64, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	from, to := "/dev/shm/"+base+"-a", "/dev/shm/"+base+"-b"
	t.Cleanup(func() { os.Remove(from); os.Remove(to) })
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{to: "/" + base + "-b"}
	entries, err = list(scope{dir: "/dev/shm"}, time.Now(), func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]string{}
	for _, e := range entries {
		got[e.Path] = e.nameText()
	}
	check("ls of /dev/shm", got)
}

// TestJSON_NamesNotUTF8: names and paths that are not UTF-8 survive ls,
// stat and gc's JSON, which can carry only UTF-8 strings: encoding/json
// turns each bad byte into U+FFFD, so on main "/bad\xff" and "/bad\ufffd"
// both read "/bad\ufffd", and a script acting on the first would act on
// the second. name_bytes and path_bytes (base64) hold the bytes of the
// ones that are not UTF-8.
func TestJSON_NamesNotUTF8(t *testing.T) {
	dir := t.TempDir()
	d := posixshm.Dir(dir)
	bad, lookalike := "/bad\xff", "/bad\ufffd"
	for _, name := range []string{bad, lookalike} {
		s, err := segment.Create(name, 64, &segment.Options{Layout: d})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	type entry struct {
		Name      *string `json:"name"`
		NameBytes []byte  `json:"name_bytes"`
		Path      string  `json:"path"`
	}
	nameOf := func(e entry) string {
		if e.NameBytes != nil {
			return string(e.NameBytes)
		}
		if e.Name == nil {
			return "-"
		}
		return *e.Name
	}
	want := map[string]string{mustPath(t, d, bad): bad, mustPath(t, d, lookalike): lookalike}
	for _, cmd := range [][]string{{"ls"}, {"gc", "--dry-run"}} {
		var out, errb bytes.Buffer
		if code := run(append(cmd, "--json", "--dir", dir), &out, &errb); code != exitOK {
			t.Fatalf("%v: status %d: %s", cmd, code, errb.String())
		}
		var entries []entry
		if err := json.Unmarshal(out.Bytes(), &entries); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if got := nameOf(e); got != want[e.Path] {
				t.Errorf("%s --json: %s: name %q, want %q", cmd[0], filepath.Base(e.Path), got, want[e.Path])
			}
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"stat", "--json", "--dir", dir, "--", bad}, &out, &errb); code != exitOK {
		t.Fatalf("stat: status %d: %s", code, errb.String())
	}
	var e entry
	if err := json.Unmarshal(out.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	if nameOf(e) != bad {
		t.Errorf("stat --json: name %q, want %q", nameOf(e), bad)
	}

	// In /dev/shm the path itself is not UTF-8.
	if !devShm() {
		return
	}
	base := "posixshm-test-utf8-" + filepath.Base(t.TempDir()) + "\xfe"
	p := "/dev/shm/" + base
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(p) })
	out.Reset()
	if code := run([]string{"ls", "--json"}, &out, &errb); code != exitOK {
		t.Fatalf("ls: status %d: %s", code, errb.String())
	}
	var all []struct {
		Path      string `json:"path"`
		PathBytes []byte `json:"path_bytes"`
	}
	if err := json.Unmarshal(out.Bytes(), &all); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range all {
		found = found || string(e.PathBytes) == p
	}
	if !found {
		t.Errorf("ls --json: no entry with path_bytes %q", p)
	}
}
