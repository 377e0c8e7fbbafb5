//go:build linux

package posixshm_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/posixshm/posixshm/posixshm"
)

// pythonAttach is the Python side of TestMap_Python: attach without the
// resource tracker, which would otherwise unlink the object when Python
// exits (track=False from Python 3.13; unregister before).
const pythonAttach = `
import sys
from multiprocessing import shared_memory, resource_tracker

def attach(name, **kw):
    try:
        return shared_memory.SharedMemory(name, track=False, **kw)
    except TypeError:
        shm = shared_memory.SharedMemory(name, **kw)
        resource_tracker.unregister(shm._name, "shared_memory")
        return shm

if sys.argv[1] == "read":
    shm = attach(sys.argv[2])
    print(bytes(shm.buf[:13]).decode(), shm.size)
    shm.buf[100:117] = b"hello from Python"
    shm.close()
else:
    shm = attach(None, create=True, size=256)
    shm.buf[:14] = b"made by Python"
    print(shm.name)
    shm.close()
`

// TestMap_Python shares one object between Go and Python's
// multiprocessing.shared_memory, both ways: Go creates and maps it, Python
// attaches, reads Go's bytes and writes its own, which Go sees through its
// mapping; then Python creates one, which Go maps read-only. Python's
// name is Go's without the leading slash.
func TestMap_Python(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the Go ↔ Python sharing test needs it")
	}
	python := func(args ...string) string {
		t.Helper()
		var stderr bytes.Buffer
		cmd := exec.Command(py, append([]string{"-c", pythonAttach}, args...)...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() != 0 {
			t.Fatalf("python3 %v: %v\n%s", args, err, stderr.Bytes())
		}
		return strings.TrimSpace(string(out))
	}

	// Go creates, Python attaches.
	name := uniqueName(t)
	f, err := linuxShm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(4096); err != nil {
		t.Fatal(err)
	}
	m, err := posixshm.Map(f)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	copy(m.Bytes(), "hello from Go")
	if got := python("read", strings.TrimPrefix(name, "/")); got != "hello from Go 4096" {
		t.Errorf("Python read %q, want \"hello from Go 4096\"", got)
	}
	if got := string(m.Bytes()[100:117]); got != "hello from Python" {
		t.Errorf("Go sees %q where Python wrote \"hello from Python\"", got)
	}

	// Python creates, Go maps it read-only.
	pyName := "/" + python("create")
	t.Cleanup(func() { linuxShm.Unlink(pyName) })
	r, err := linuxShm.Open(pyName, os.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("Python's object: %v", err)
	}
	defer r.Close()
	pm, err := posixshm.Map(r)
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	if pm.Writable() || pm.Size() != 256 || string(pm.Bytes()[:14]) != "made by Python" {
		t.Errorf("Python's object: writable %v, %d bytes, starting %q", pm.Writable(), pm.Size(), pm.Bytes()[:14])
	}
	if err := linuxShm.Unlink(r.Name()); err != nil {
		t.Error(err)
	}
}
