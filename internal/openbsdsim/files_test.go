package openbsdsim_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// simulated lists, per package, the only files in which the openbsdsim
// build (linux/amd64 -tags openbsdsim) may differ from the OpenBSD build
// (openbsd/amd64): each OpenBSD file and the file that stands in for it.
var simulated = map[string]struct{ openbsd, sim []string }{
	// This package's switch itself.
	"internal/openbsdsim": {[]string{"off.go"}, []string{"on.go"}},
	// futimes(2), which Linux lacks: utimensat(2) given its arguments.
	// fstatfs(2): the same call, but OpenBSD's struct statfs names its
	// fields f_bfree..., Linux's Bfree...
	"internal/unixutil": {[]string{"freespace_openbsd.go", "utimes_other.go"}, []string{"freespace_linux.go", "utimes_openbsdsim.go"}},
	// The system convention: a variable set in a file named for the
	// system (the same value, OpenBSD's layout in /tmp).
	"posixshm": {[]string{"open_openbsd.go"}, []string{"open_openbsdsim.go"}},
	// futex(2): libc's stub on OpenBSD, Linux's system call here (the
	// same two operations, shared futexes keyed by the mapped file).
	"sem": {[]string{"futex_openbsd.go"}, []string{"futex_linux.go"}},
	// The seccomp pledge(2) simulation the tests confine children with.
	"internal/pledge": {nil, []string{"checks_linux.go", "child_linux.go", "confine_linux.go", "filter_linux.go",
		"proc_linux.go", "promise_linux.go", "rules_linux.go", "rules_linux_amd64.go"}},
}

// TestSameFilesAsOpenBSD: the openbsdsim build compiles exactly the files
// the OpenBSD build compiles, but for the pairs in simulated, so that what
// the second CI pass runs is the code OpenBSD runs.
func TestSameFilesAsOpenBSD(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	openbsd := goFiles(t, goTool, "openbsd")
	sim := goFiles(t, goTool, "linux", "-tags", "openbsdsim")
	if len(openbsd) < 10 {
		t.Fatalf("go list found only %d packages", len(openbsd))
	}
	for pkg := range merge(openbsd, sim) {
		onlyOpenBSD, onlySim := diff(openbsd[pkg], sim[pkg])
		want := simulated[pkg]
		if !slices.Equal(onlyOpenBSD, want.openbsd) || !slices.Equal(onlySim, want.sim) {
			t.Errorf("%s: only in the OpenBSD build %q (want %q), only in openbsdsim %q (want %q)",
				pkg, onlyOpenBSD, want.openbsd, onlySim, want.sim)
		}
	}
}

// goFiles maps each package of the module (its path relative to the
// module) to its Go files for GOOS goos, GOARCH amd64.
func goFiles(t *testing.T, goTool, goos string, flags ...string) map[string][]string {
	t.Helper()
	args := append([]string{"list"}, flags...)
	args = append(args, "-f", "{{.ImportPath}} {{join .GoFiles \" \"}}", "./...")
	cmd := exec.Command(goTool, args...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s (GOOS=%s): %v", strings.Join(args, " "), goos, err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(f[0], "github.com/posixshm/posixshm"), "/")
		m[pkg] = f[1:]
	}
	return m
}

func merge(a, b map[string][]string) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// diff returns the names only in a and only in b, sorted.
func diff(a, b []string) (onlyA, onlyB []string) {
	for _, x := range a {
		if !slices.Contains(b, x) {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			onlyB = append(onlyB, x)
		}
	}
	slices.Sort(onlyA)
	slices.Sort(onlyB)
	return onlyA, onlyB
}
