package lock

import (
	"os/exec"
	"regexp"
	"testing"
)

// TestMutex_FastPathInlines: Lock and Unlock of a 64-bit word are one load
// of the in-process flags and one compare-and-swap, small enough for the
// compiler to inline them into the caller. A change that makes them bigger
// than the inliner's budget costs a call on every uncontended Lock and
// Unlock (a few ns, as much as the compare-and-swap).
func TestMutex_FastPathInlines(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to ask the compiler")
	}
	out, err := exec.Command(goTool, "build", "-gcflags=-m", "-o", "/dev/null", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	for _, f := range []string{"Lock", "Unlock"} {
		if !regexp.MustCompile(`(?m)can inline \(\*Mutex\)\.` + f + `( |$)`).Match(out) {
			t.Errorf("(*Mutex).%s is no longer inlinable (go build -gcflags=-m=2 says why)", f)
		}
	}
}
