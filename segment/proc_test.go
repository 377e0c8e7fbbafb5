package segment_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// Multi-process tests re-run this test binary as a helper process.

const segHelperEnv = "POSIXSHM_SEGMENT_HELPER"

// helperModes holds the helper process's modes that some systems' tests
// add (mode → its function of the arguments after the directory).
var helperModes = map[string]func(args []string) error{}

// segHelper starts a helper process running mode in directory d.
func segHelper(t *testing.T, d posixshm.Dir, mode string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSegment_HelperProcess$", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), segHelperEnv+"="+strings.Join(append([]string{mode, string(d)}, args...), "\n"))
	cmd.Stderr = os.Stderr
	return cmd
}

// TestSegment_HelperProcess is not a test: it is the helper process.
func TestSegment_HelperProcess(t *testing.T) {
	spec, ok := os.LookupEnv(segHelperEnv)
	if !ok {
		t.Skip("helper process only")
	}
	args := strings.Split(spec, "\n")
	mode, d, args := args[0], posixshm.Dir(args[1]), args[2:]
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", mode, err)
		os.Exit(2)
	}
	switch mode {
	case "count": // args: name, n
		n, _ := strconv.Atoi(args[1])
		s, err := segment.Open(args[0], in(d, nil))
		if err != nil {
			fail(err)
		}
		for range n {
			if err := s.Lock(); err != nil {
				fail(err)
			}
			b := s.Bytes()
			// Not atomic on purpose: only the lock makes this correct.
			binary.NativeEndian.PutUint64(b, binary.NativeEndian.Uint64(b)+1)
			if err := s.Unlock(); err != nil {
				fail(err)
			}
		}
	case "hold": // args: name. Takes the lock and waits to be killed.
		s, err := segment.Open(args[0], in(d, nil))
		if err != nil {
			fail(err)
		}
		if err := s.Lock(); err != nil && !errors.Is(err, lock.ErrOwnerDead) {
			fail(err)
		}
		fmt.Println("locked", os.Getpid())
		time.Sleep(time.Minute)
	case "wait": // args: name. Waits for the lock (stale checks every 2ms) and says how it got it.
		s, err := segment.Open(args[0], in(d, &segment.Options{StaleAfter: 2 * time.Millisecond}))
		if err != nil {
			fail(err)
		}
		// A control for tracers: the one kill(2) this process makes.
		syscall.Kill(os.Getpid(), 0)
		fmt.Println("waiting")
		err = s.Lock()
		var od *lock.OwnerDeadError
		switch {
		case errors.As(err, &od):
			fmt.Println("ownerdead", od.PID, od.Holder.Tag)
		case err != nil:
			fail(err)
		default:
			fmt.Println("locked")
		}
	case "race": // args: name. Starts when its stdin is closed.
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		s, err := segment.OpenOrCreate(args[0], 4096, in(d, nil))
		if err != nil {
			fail(err)
		}
		info, err := s.Stat()
		if err != nil {
			fail(err)
		}
		fmt.Println(s.Creator(), info.Created.UnixNano(), info.DataSize)
	case "removeunused": // args: name. RemoveUnused, and what it said.
		if err := helperRemoveUnused(d, args[0]); err != nil {
			fail(err)
		}
	case "readlock": // args: path, start, n. Read-locks those bytes until stdin closes.
		if err := helperReadLock(args); err != nil {
			fail(err)
		}
	case "serve": // args: slots, remove (0/1), pids (0/1); commands on stdin
		serve(d, args)
	default:
		run := helperModes[mode]
		if run == nil {
			fail(errors.New("unknown mode"))
		}
		if err := run(args); err != nil {
			fail(err)
		}
	}
	os.Exit(0)
}

func TestSegment_ProcessCounter(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const procs, n = 3, 5000
	d := segDir(t)
	s := mustCreate(t, d, "counter", 8, nil)
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmds[i] = segHelper(t, d, "count", "counter", strconv.Itoa(n))
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if got := binary.NativeEndian.Uint64(s.Bytes()); got != procs*n {
		t.Fatalf("counter = %d, want %d: increments were lost", got, procs*n)
	}
	if info, _ := s.Stat(); info.LockHolder != 0 {
		t.Fatalf("lock still held by %d", info.LockHolder)
	}
}

func TestSegment_KillHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	s := mustCreate(t, d, "killed", 8, &segment.Options{StaleAfter: 5 * time.Millisecond})
	cmd := segHold(t, d, "killed")
	if info, _ := s.Stat(); info.LockHolder != cmd.Process.Pid {
		t.Errorf("LockHolder = %d, want the helper's pid %d", info.LockHolder, cmd.Process.Pid)
	}
	if ok, err := s.TryLock(); ok || err != nil {
		t.Fatalf("TryLock while the holder lives: %v, %v", ok, err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	err := s.Lock()
	if !errors.Is(err, lock.ErrOwnerDead) {
		t.Fatalf("Lock after the holder was killed: %v, want ErrOwnerDead", err)
	}
	// ErrOwnerDead comes with the lock held.
	if info, _ := s.Stat(); info.LockHolder != os.Getpid() {
		t.Fatalf("LockHolder = %d, want us (%d)", info.LockHolder, os.Getpid())
	}
	if err := s.Unlock(); err != nil {
		t.Fatal(err)
	}

	// TryLock recovers a dead holder's lock at once.
	cmd = segHold(t, d, "killed")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if ok, err := s.TryLock(); !ok || !errors.Is(err, lock.ErrOwnerDead) {
		t.Fatalf("TryLock after the holder was killed: %v, %v; want true, ErrOwnerDead", ok, err)
	}
	if err := s.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// segHold starts a helper that takes the lock of segment name and waits.
func segHold(t *testing.T, d posixshm.Dir, name string) *exec.Cmd {
	t.Helper()
	cmd := segHelper(t, d, "hold", name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.HasPrefix(line, "locked ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q, %v", line, err)
	}
	return cmd
}

func TestOpenOrCreate_Race(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const procs, rounds = 4, 3
	d := segDir(t)
	type helper struct {
		cmd  *exec.Cmd
		out  *bufio.Reader
		gate io.Closer
	}
	// Start every helper first (starting a process is slow), then let
	// each round's helpers go at once: each waits for its stdin to close.
	var hs [rounds][procs]helper
	for r := range rounds {
		for i := range procs {
			h := &hs[r][i]
			h.cmd = segHelper(t, d, "race", "race"+strconv.Itoa(r))
			out, err := h.cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			h.out = bufio.NewReader(out)
			if h.gate, err = h.cmd.StdinPipe(); err != nil {
				t.Fatal(err)
			}
			if err := h.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer h.cmd.Process.Kill()
		}
	}
	for r := range rounds {
		for i := range procs {
			if line, err := hs[r][i].out.ReadString('\n'); line != "ready\n" {
				t.Fatalf("round %d: helper %d said %q, %v", r, i, line, err)
			}
		}
		for i := range procs {
			hs[r][i].gate.Close()
		}
		created, stamps := 0, map[string]bool{}
		for i := range procs {
			line, _ := hs[r][i].out.ReadString('\n')
			if err := hs[r][i].cmd.Wait(); err != nil {
				t.Fatalf("round %d: helper %d: %v", r, i, err)
			}
			f := strings.Fields(line)
			if len(f) != 3 || f[2] != "4096" {
				t.Fatalf("round %d: helper %d said %q", r, i, line)
			}
			if f[0] == "true" {
				created++
			}
			stamps[f[1]] = true
		}
		if created != 1 || len(stamps) != 1 {
			t.Fatalf("round %d: %d creators (want 1), created-at values %v (want one)", r, created, stamps)
		}
	}
}
