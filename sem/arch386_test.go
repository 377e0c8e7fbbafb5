//go:build linux && amd64

package sem_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Test386 builds this package's tests for GOARCH=386 and runs them here
// (x86-64 kernels run 32-bit programs): a 32-bit Go process creates glibc's
// 32-bit format, and shares 64-bit glibc's semaphores with this machine's C
// programs through 64-bit atomics, which on 386 need 8-byte alignment
// (the first run of this test found a word that did not have it).
func Test386(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tests again for 386")
	}
	if os.Getenv("SEMTEST_IN_386") != "" {
		t.Skip("already the 386 run")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	bin := filepath.Join(t.TempDir(), "sem386.test")
	build := exec.Command(goTool, "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOARCH=386", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c for 386: %v\n%s", err, out)
	}
	run := exec.Command(bin, "-test.count=1", "-test.short", "-test.run=^(TestInterop|TestOpen|TestConcurrent|TestWait|TestPost|TestProtocols)")
	run.Env = append(os.Environ(), "SEMTEST_IN_386=1")
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("the 386 tests: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
