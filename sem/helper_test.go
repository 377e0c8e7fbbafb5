package sem_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/sem"
)

// Child roles: TestMain runs one instead of the tests when SEMTEST_ROLE is
// set (the helper-process pattern); the rest of the environment says which
// semaphore (SEMTEST_LAYOUT, SEMTEST_NAME) and what to do.
const envRole = "SEMTEST_ROLE"

var roles = map[string]func() error{}

func TestMain(m *testing.M) {
	if role := os.Getenv(envRole); role != "" {
		f, ok := roles[role]
		if !ok {
			fmt.Fprintln(os.Stderr, "child: unknown role", role)
			os.Exit(2)
		}
		if err := f(); err != nil {
			fmt.Println("child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	code := m.Run()
	for _, dir := range cleanupCBins {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// A format under test: a layout, the C program that shares it, and the
// environment that program needs.
type format struct {
	name   string
	layout sem.Layout
	csrc   string // testdata/cref/<csrc>: the C side
	m32    bool   // built for 32-bit x86 (i686-linux-gnu-gcc -static)
	want   sem.Format
	env    []string // for the C side and Go children
}

// glibcFormat is glibc's layout in /dev/shm, where glibc's sem_open keeps
// semaphores, creating them in the format of the C programs gcc builds
// here: the 64-bit one on a 64-bit machine, even for a 32-bit Go test
// binary (GOARCH=386 on x86-64), which then uses 64-bit atomics on it.
// obsdFormat is OpenBSD's in a test directory, shared with the C
// reference of rthread_sem.c.
func glibcFormat(t testing.TB) format {
	if runtime.GOOS != "linux" {
		t.Skip("glibc's layout is tested against glibc on Linux only")
	}
	f := format{name: "glibc", layout: sem.GlibcLayout("/dev/shm", sem.Glibc64), csrc: "glibcsem.c", want: sem.Glibc64, env: []string{"SEMTEST_LAYOUT=glibc64"}}
	if !machine64() {
		f.layout, f.want, f.env = sem.GlibcLayout("/dev/shm", sem.Glibc32), sem.Glibc32, []string{"SEMTEST_LAYOUT=glibc32"}
	}
	return f
}

// machine64 reports whether the machine (not this binary) is 64-bit.
func machine64() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return strconv.IntSize == 64
	}
	m := unix.ByteSliceToString(u.Machine[:])
	return strings.Contains(m, "64") || m == "s390x"
}

func obsdFormat(t testing.TB) format {
	dir := t.TempDir()
	return format{name: "openbsd", layout: sem.Dir(dir), csrc: "obsdsem.c", want: sem.OpenBSD,
		env: []string{"SEMTEST_LAYOUT=dir:" + dir, "OBSD_SEM_DIR=" + dir}}
}

// glibc32Format is 32-bit glibc's layout (struct new_sem without 64-bit
// atomics, 16 bytes) in /dev/shm, shared with glibc's own sem_* in a
// 32-bit x86 program on this 64-bit machine: the Go side uses the 32-bit
// protocol on a 16-byte file whatever its own architecture. It needs
// Debian's gcc-i686-linux-gnu (test.sh installs it on x86-64).
func glibc32Format(t testing.TB) format {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" && runtime.GOARCH != "386" {
		t.Skip("32-bit glibc is tested from linux/amd64 and linux/386 only")
	}
	return format{name: "glibc32", layout: sem.GlibcLayout("/dev/shm", sem.Glibc32), csrc: "glibcsem.c", m32: true, want: sem.Glibc32,
		env: []string{"SEMTEST_LAYOUT=glibc32"}}
}

// formats returns every format, for tests that run over each.
func formats(t *testing.T) []format {
	fs := []format{obsdFormat(t)}
	if runtime.GOOS == "linux" {
		fs = append(fs, glibcFormat(t))
		if runtime.GOARCH == "amd64" || runtime.GOARCH == "386" && machine64() {
			fs = append(fs, glibc32Format(t))
		}
	}
	return fs
}

// childLayout is the layout a child process's environment names.
func childLayout() sem.Layout {
	l := os.Getenv("SEMTEST_LAYOUT")
	if dir, ok := strings.CutPrefix(l, "dir:"); ok {
		return sem.Dir(dir)
	}
	if l == "glibc32" {
		return sem.GlibcLayout("/dev/shm", sem.Glibc32)
	}
	// glibc's layout in a test directory: "glibcdir64:DIR", "glibcdir32:DIR".
	if dir, ok := strings.CutPrefix(l, "glibcdir64:"); ok {
		return sem.GlibcLayout(dir, sem.Glibc64)
	}
	if dir, ok := strings.CutPrefix(l, "glibcdir32:"); ok {
		return sem.GlibcLayout(dir, sem.Glibc32)
	}
	return sem.GlibcLayout("/dev/shm", sem.Glibc64)
}

// uniqueName returns a semaphore name no other run uses, and removes the
// semaphore in l at the end of the test, whoever created it.
func uniqueName(t testing.TB, l sem.Layout) string {
	var b [6]byte
	rand.Read(b[:])
	name := "/posixshm-semtest-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
	t.Cleanup(func() { l.Unlink(name) })
	return name
}

// mustOpen opens name in l or fails the test, and closes it at the end.
func mustOpen(t testing.TB, l sem.Layout, name string, flag int, value uint32) *sem.Semaphore {
	t.Helper()
	s, err := l.Open(name, flag, 0o600, value)
	if err != nil {
		t.Fatalf("Open(%q, %#o, %d): %v", name, flag, value, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// info returns s's Info or fails the test.
func info(t testing.TB, s *sem.Semaphore) sem.Info {
	t.Helper()
	i, err := s.Info()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// requireCRef names the environment variable that turns a skip for want
// of a C compiler or libmd into a failure (CI sets it).
const requireCRef = "POSIXSHM_REQUIRE_CREF"

func needCRef(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv(requireCRef) == "1" {
		tb.Fatalf("%s (and %s=1 requires the C reference tests)", why, requireCRef)
	}
	tb.Skip(why)
}

// cBins caches the C programs built in this test binary's run.
var cBins = map[string]string{}

// buildC compiles testdata/cref/<src> with gcc (for 32-bit x86 with
// m32) and returns the program, or skips the test (see needCRef) where
// the compiler or libmd is missing.
func buildC(tb testing.TB, src string, m32 bool) string {
	tb.Helper()
	if runtime.GOOS != "linux" {
		tb.Skip("the C sides use Linux's futex(2)")
	}
	key, cc, pkg := src, "gcc", "gcc libmd-dev"
	if m32 {
		key, cc, pkg = "m32/"+src, "i686-linux-gnu-gcc", "gcc-i686-linux-gnu"
	}
	if bin, ok := cBins[key]; ok {
		return bin
	}
	gcc, err := exec.LookPath(cc)
	if err != nil {
		needCRef(tb, cc+" not found in PATH: cannot build testdata/cref/"+src+" (apt-get install "+pkg+")")
	}
	dir, err := os.MkdirTemp("", "semtest-c-")
	if err != nil {
		tb.Fatal(err)
	}
	// Shared by the tests of this run; removed when the last one ends.
	bin := filepath.Join(dir, strings.TrimSuffix(src, ".c"))
	args := []string{"-O2", "-Wall", "-pthread", "-o", bin, filepath.Join("testdata", "cref", src)}
	if src == "obsdsem.c" {
		args = append(args, "-lmd")
	}
	if m32 {
		args = append(args, "-static") // no i386 loader and libraries needed to run it
	}
	out, err := exec.Command(gcc, args...).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		if bytes.Contains(out, []byte("sha2.h")) || bytes.Contains(out, []byte("-lmd")) {
			needCRef(tb, "gcc cannot find libmd to build testdata/cref/"+src+": apt-get install libmd-dev\n"+string(out))
		}
		tb.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	cBins[key] = bin
	cleanupCBins = append(cleanupCBins, dir)
	return bin
}

var cleanupCBins []string

// ctool returns a function that runs f's C side with args and returns
// its output (one line, trimmed); it fails the test if it exits non-zero.
func (f format) ctool(t testing.TB) func(args ...string) string {
	t.Helper()
	bin := buildC(t, f.csrc, f.m32)
	return func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), f.env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", f.csrc, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
}

// cStart starts f's C side with args in the background, with a pipe on
// its stdout, and kills it at the end of the test.
func (f format) cStart(t testing.TB, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(buildC(t, f.csrc, f.m32), args...)
	cmd.Env = append(os.Environ(), f.env...)
	return start(t, cmd)
}

// goStart starts this test binary as a child in role, with f's
// environment and the extra variables env.
func (f format) goStart(t testing.TB, role string, env ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(append(os.Environ(), envRole+"="+role), f.env...), env...)
	return start(t, cmd)
}

// proc is a child process and what it printed.
type proc struct {
	cmd   *exec.Cmd
	out   *bytes.Buffer
	done  chan error
	stdin io.WriteCloser // nil if the caller set the command's stdin
}

func start(t testing.TB, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, out: new(bytes.Buffer), done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = &syncWriter{b: p.out}, &syncWriter{b: p.out}
	if cmd.Stdin == nil {
		p.stdin, _ = cmd.StdinPipe()
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	return p
}

// wait waits for the process to exit, at most d, and returns its output.
func (p *proc) wait(t testing.TB, d time.Duration) string {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("%s: %v\n%s", p.cmd.Path, err, p.output())
		}
	case <-time.After(d):
		t.Fatalf("%s %s did not finish within %v; output so far:\n%s", p.cmd.Path, strings.Join(p.cmd.Args[1:], " "), d, p.output())
	}
	return strings.TrimSpace(p.output())
}

// stdoutPipe returns a reader of the process's standard output, which
// then no longer goes to output (only standard error does). It must be
// called before the process writes anything: roles that read their stdin
// first are such.
func (p *proc) stdoutPipe(t testing.TB) io.Reader {
	t.Helper()
	r, w := io.Pipe()
	outMu.Lock()
	p.cmd.Stdout.(*syncWriter).pipe = w
	outMu.Unlock()
	return r
}

func (p *proc) output() string {
	outMu.Lock()
	defer outMu.Unlock()
	return p.out.String()
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// errnoOf returns the errno err unwraps to: 0 for nil, -1 for none.
func errnoOf(err error) int {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return int(errno)
	}
	return -1
}

// outMu guards the buffers of children's output.
var outMu sync.Mutex

type syncWriter struct {
	b    *bytes.Buffer
	pipe *io.PipeWriter // if set, writes go here instead
}

func (w *syncWriter) Write(p []byte) (int, error) {
	outMu.Lock()
	pipe := w.pipe
	if pipe == nil {
		defer outMu.Unlock()
		return w.b.Write(p)
	}
	outMu.Unlock()
	return pipe.Write(p)
}

// pathErr checks that err is a *fs.PathError with op and name.
func pathErr(t testing.TB, err error, op, name string) {
	t.Helper()
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != op || pe.Path != name {
		t.Errorf("error %v (%T) is not a *fs.PathError{Op: %q, Path: %q}", err, err, op, name)
	}
}
