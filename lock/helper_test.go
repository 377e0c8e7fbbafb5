package lock_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/lock"
	"golang.org/x/sys/unix"
)

// Layout of the test mapping.
const (
	offWord    = 0   // lock word: 8 bytes with New64, the first 4 with New
	offCounter = 64  // counter, incremented non-atomically under the lock
	offJValid  = 72  // journal: 1 while a critical section is half done
	offJValue  = 80  // journal: counter value before that section
	offKilled  = 96  // set by the parent once the victim is dead
	offGo      = 128 // benchmark start flag
	offReady   = 136 // benchmark: children ready
	offTimes   = 192 // benchmark: per-child start, end (unix ns)
	mapSize    = 4096
)

// Child roles: TestMain runs one instead of the tests when this is set.
const envRole = "LOCKTEST_ROLE"

func TestMain(m *testing.M) {
	if role := os.Getenv(envRole); role != "" {
		if err := child(role); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

// roles are the child processes' jobs, by name; test files add theirs in
// init functions. Each gets the test mapping and the Mutex over its word
// that the environment asks for (envMutex).
var roles = map[string]func(b []byte, mu *lock.Mutex) error{
	"counter": func(b []byte, mu *lock.Mutex) error { // M increments, report how many deaths we recovered
		barrier(b)
		M, dead := envInt("LOCKTEST_M"), 0
		for range M {
			if increment(mu, b) {
				dead++
			}
		}
		fmt.Printf("n=%d ownerdead=%d\n", M, dead)
		return nil
	},
	"survivor": func(b []byte, mu *lock.Mutex) error { // at least M increments, the last begun after the parent says the victim is dead
		barrier(b)
		n, dead := 0, 0
		// The last increment starts after this process saw the victim dead,
		// so it takes the lock after the victim's death and, if nobody
		// recovered it yet, recovers it. (Stopping as soon as the flag is
		// set let all survivors, descheduled between an Unlock and the
		// look at the flag on a loaded machine, leave the dead victim's
		// lock to nobody.)
		for last := false; !last; n++ {
			last = n+1 >= envInt("LOCKTEST_M") && atomic.LoadUint64(u64(b, offKilled)) != 0
			if increment(mu, b) {
				dead++
			}
		}
		fmt.Printf("n=%d ownerdead=%d\n", n, dead)
		return nil
	},
	"victim": func(b []byte, mu *lock.Mutex) error { // K increments, then die (by SIGKILL) in a half-done section
		barrier(b)
		for range envInt("LOCKTEST_K") {
			increment(mu, b)
		}
		if err := mu.Lock(); err != nil {
			return err
		}
		*u64(b, offJValue) = *u64(b, offCounter)
		*u64(b, offJValid) = 1
		*u64(b, offCounter) = 1 << 40 // garbage: the update is half done
		fmt.Println("ready")
		time.Sleep(time.Hour) // not select{}: the runtime would report a deadlock and exit
		return nil
	},
	"holder": func(b []byte, mu *lock.Mutex) error { // lock, say so, wait to be killed
		if err := mu.Lock(); err != nil {
			return err
		}
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return nil
	},
	"exitholder": func(b []byte, mu *lock.Mutex) error { // lock and exit without unlocking
		if err := mu.Lock(); err != nil {
			return err
		}
		fmt.Println("ready")
		return nil
	},
	"bench": func(b []byte, mu *lock.Mutex) error { return benchChild("bench", b, mu, envInt("LOCKTEST_M")) },
	"flock": func(b []byte, mu *lock.Mutex) error { return benchChild("flock", b, mu, envInt("LOCKTEST_M")) },
}

func child(role string) error {
	f := roles[role]
	if f == nil {
		return fmt.Errorf("unknown role %q", role)
	}
	b, err := mapFile(os.Getenv("LOCKTEST_FILE"))
	if err != nil {
		return err
	}
	return f(b, envMutex(b))
}

// envMutex is the Mutex over the mapping's word that the environment asks
// for: New64 with LOCKTEST_WIDE, else New; WithBackoff with
// LOCKTEST_BACKOFF; WithStaleAfter(LOCKTEST_STALE) if set.
func envMutex(b []byte) *lock.Mutex {
	var opts []lock.Option
	if os.Getenv("LOCKTEST_BACKOFF") != "" {
		opts = append(opts, lock.WithBackoff())
	}
	if d, err := time.ParseDuration(os.Getenv("LOCKTEST_STALE")); err == nil {
		opts = append(opts, lock.WithStaleAfter(d))
	}
	if os.Getenv("LOCKTEST_WIDE") != "" {
		return lock.New64(u64(b, offWord), opts...)
	}
	return lock.New(u32(b, offWord), opts...)
}

// increment adds one to the counter under the lock, repairing a section a
// dead holder left half done; it reports whether it saw ErrOwnerDead.
func increment(mu *lock.Mutex, b []byte) (ownerDead bool) {
	err := mu.Lock()
	if errors.Is(err, lock.ErrOwnerDead) {
		ownerDead = true
		if *u64(b, offJValid) != 0 {
			*u64(b, offCounter) = *u64(b, offJValue)
			*u64(b, offJValid) = 0
		}
	} else if err != nil {
		panic(err)
	}
	c := u64(b, offCounter)
	*c = *c + 1 // deliberately not atomic: the lock must protect it
	if err := mu.Unlock(); err != nil {
		panic(err)
	}
	return ownerDead
}

func benchChild(role string, b []byte, mu *lock.Mutex, M int) error {
	barrier(b)
	idx := envInt("LOCKTEST_IDX")
	var f *os.File
	if role == "flock" {
		var err error
		if f, err = os.OpenFile(os.Getenv("LOCKTEST_FILE"), os.O_RDWR, 0); err != nil {
			return err
		}
	}
	start := time.Now().UnixNano()
	c := u64(b, offCounter)
	for range M {
		if f != nil {
			if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
				return err
			}
			*c = *c + 1
			if err := unix.Flock(int(f.Fd()), unix.LOCK_UN); err != nil {
				return err
			}
			continue
		}
		if err := mu.Lock(); err != nil {
			return err
		}
		*c = *c + 1
		if err := mu.Unlock(); err != nil {
			return err
		}
	}
	atomic.StoreUint64(u64(b, offTimes+16*idx), uint64(start))
	atomic.StoreUint64(u64(b, offTimes+16*idx+8), uint64(time.Now().UnixNano()))
	return nil
}

// barrier reports this child ready and waits for the parent's go (release),
// so that all children really contend.
func barrier(b []byte) {
	atomic.AddUint64(u64(b, offReady), 1)
	for atomic.LoadUint64(u64(b, offGo)) == 0 {
		time.Sleep(20 * time.Microsecond)
	}
}

// release waits until n children are at the barrier and lets them go.
func release(tb testing.TB, b []byte, n int) {
	tb.Helper()
	for deadline := time.Now().Add(30 * time.Second); atomic.LoadUint64(u64(b, offReady)) < uint64(n); {
		if time.Now().After(deadline) {
			tb.Fatal("children did not get ready")
		}
		time.Sleep(100 * time.Microsecond)
	}
	atomic.StoreUint64(u64(b, offGo), 1)
}

func u32(b []byte, off int) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
func u64(b []byte, off int) *uint64 { return (*uint64)(unsafe.Pointer(&b[off])) }

// mapFile maps the whole file at path.
func mapFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

// newMapping creates a zeroed shared file mapping of mapSize bytes for one
// test.
func newMapping(tb testing.TB) (path string, b []byte) {
	tb.Helper()
	return newMappingSize(tb, mapSize)
}

func newMappingSize(tb testing.TB, size int) (path string, b []byte) {
	tb.Helper()
	dir := tb.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "locktest")
		if err == nil {
			dir = d
			tb.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	path = dir + "/seg"
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		tb.Fatal(err)
	}
	b, err := mapFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Munmap(b) })
	return path, b
}

// proc is a running child role.
type proc struct {
	cmd *exec.Cmd
	out *bufio.Reader
}

func start(tb testing.TB, role, path string, env ...string) *proc {
	tb.Helper()
	return startWith(tb, nil, role, path, env...)
}

// startWith starts the test binary as a child role, run by the command
// prefix (strace, unshare...) if there is one.
func startWith(tb testing.TB, prefix []string, role, path string, env ...string) *proc {
	tb.Helper()
	args := append(prefix[:len(prefix):len(prefix)], os.Args[0], "-test.run=^$")
	cmd := exec.Command(args[0], args[1:]...)
	// GORACE: a -race child otherwise sleeps 1 s at exit.
	cmd.Env = append(os.Environ(), append([]string{envRole + "=" + role, "LOCKTEST_FILE=" + path,
		"GORACE=atexit_sleep_ms=0 " + os.Getenv("GORACE")}, env...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &proc{cmd: cmd, out: bufio.NewReader(out)}
	tb.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// line reads one line of the child's output.
func (p *proc) line(tb testing.TB) string {
	tb.Helper()
	s, err := p.out.ReadString('\n')
	if err != nil {
		tb.Fatalf("child %d: reading output: %v", p.cmd.Process.Pid, err)
	}
	return s
}

// finish reads the rest of the output and waits for a clean exit.
func (p *proc) finish(tb testing.TB) string {
	tb.Helper()
	rest, _ := io.ReadAll(p.out)
	if err := p.cmd.Wait(); err != nil {
		tb.Fatalf("child %d: %v", p.cmd.Process.Pid, err)
	}
	return string(rest)
}
