package segment_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// A file truncated under its mapping must not crash the process inside the
// library (issue 19, item 4): touching a mapped page past the end of a
// file raises SIGBUS. Each test runs the victim in a helper process, which
// opens a segment and gets ready for one call; this process truncates the
// segment's file to 0 bytes; the victim makes the call and reports what it
// returned, then closes the segment. It must not die, and every error must
// wrap ErrTruncated.

func init() { helperModes["truncvictim"] = truncVictim }

// truncOps are the victim's calls. ready runs before the truncation and
// may start goroutines that sleep in the segment (their results come
// through the returned function); op runs after it.
var truncOps = map[string]struct {
	ready func(s *segment.Segment) (results func() error)
	op    func(s *segment.Segment, name string, opts *segment.Options) error
}{
	"refresh": {op: func(s *segment.Segment, _ string, _ *segment.Options) error { return s.Refresh() }},
	"lock":    {op: func(s *segment.Segment, _ string, _ *segment.Options) error { return s.Lock() }},
	"trylock": {op: func(s *segment.Segment, _ string, _ *segment.Options) error { _, err := s.TryLock(); return err }},
	"lockcontext": {op: func(s *segment.Segment, _ string, _ *segment.Options) error {
		return s.LockContext(context.Background())
	}},
	"unlock": {
		ready: func(s *segment.Segment) func() error { must(s.Lock()); return nil },
		op:    func(s *segment.Segment, _ string, _ *segment.Options) error { return s.Unlock() },
	},
	"close": {op: func(s *segment.Segment, _ string, _ *segment.Options) error { return s.Close() }},
	// A second Open of the name in this process joins the attachment.
	"open": {op: func(s *segment.Segment, name string, opts *segment.Options) error {
		o, err := segment.Open(name, opts)
		if err == nil {
			o.Close()
		}
		return err
	}},
	"readat": {op: func(s *segment.Segment, _ string, _ *segment.Options) error {
		_, err := s.ReadAt(make([]byte, 8), 0)
		return err
	}},
	"writeat": {op: func(s *segment.Segment, _ string, _ *segment.Options) error {
		_, err := s.WriteAt(make([]byte, 8), 0)
		return err
	}},
	"stat":     {op: func(s *segment.Segment, _ string, _ *segment.Options) error { _, err := s.Stat(); return err }},
	"attached": {op: func(s *segment.Segment, _ string, _ *segment.Options) error { _, err := s.Attached(); return err }},
	// Notify, NotifyAll and Notifications return no error: they must do
	// nothing (Notifications: return 0), and Stat then tells.
	"notify": {op: func(s *segment.Segment, _ string, _ *segment.Options) error {
		s.Notify()
		s.NotifyAll()
		if n := s.Notifications(); n != 0 {
			return fmt.Errorf("Notifications() = %d on a truncated file, want 0", n)
		}
		_, err := s.Stat()
		return err
	}},
	// A waiter for the lock asleep when the file is truncated, then the
	// holder's Unlock.
	"lockwait": {
		ready: func(s *segment.Segment) func() error {
			must(s.Lock())
			return sleeper(func() error { return s.Lock() })
		},
		op: func(s *segment.Segment, _ string, _ *segment.Options) error { return s.Unlock() },
	},
	// Wait (the condition variable) asleep when the file is truncated.
	"wait": {
		ready: func(s *segment.Segment) func() error {
			must(s.Lock())
			return sleeper(func() error { return s.WaitContext(context.Background()) })
		},
		op: func(s *segment.Segment, _ string, _ *segment.Options) error { _, err := s.Stat(); return err },
	},
	// WaitNotification asleep when the file is truncated.
	"waitnotification": {
		ready: func(s *segment.Segment) func() error {
			n := s.Notifications()
			return sleeper(func() error { _, err := s.WaitNotification(context.Background(), n); return err })
		},
		op: func(s *segment.Segment, _ string, _ *segment.Options) error { _, err := s.Stat(); return err },
	},
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// sleeper runs fn in a goroutine, gives it a moment to fall asleep, and
// returns a function that waits for its result.
func sleeper(fn func() error) func() error {
	var (
		wg  sync.WaitGroup
		err error
	)
	wg.Go(func() { err = fn() })
	time.Sleep(50 * time.Millisecond)
	return func() error { wg.Wait(); return err }
}

// truncVictim is the helper process's "truncvictim" mode: args dir, name,
// op. It prints "ready", waits for a line on stdin (the file is truncated
// then), makes the call and prints one line per result: "truncated" if
// the error wraps ErrTruncated, else "other ERR" ("nil" for none).
func truncVictim(args []string) error {
	d, name, opName := posixshm.Dir(args[0]), args[1], args[2]
	op, ok := truncOps[opName]
	if !ok {
		return errors.New("unknown op " + opName)
	}
	opts := &segment.Options{Layout: d}
	s, err := segment.Open(name, opts)
	if err != nil {
		return err
	}
	var results func() error
	if op.ready != nil {
		results = op.ready(s)
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	report := func(err error) {
		switch {
		case errors.Is(err, segment.ErrTruncated):
			fmt.Println("truncated")
		case err == nil:
			fmt.Println("other nil")
		default:
			fmt.Println("other", strings.ReplaceAll(err.Error(), "\n", " "))
		}
	}
	report(op.op(s, name, opts))
	if results != nil {
		report(results())
	}
	if opName != "close" {
		// Close neither faults nor waits for ever for the waiters above.
		report(s.Close())
	}
	return nil
}

// truncate runs the victim for op against a fresh segment, truncates the
// file under it, and returns what the victim said and its stderr. It fails
// the test if the victim died.
func truncate(t *testing.T, op string) []string {
	t.Helper()
	d := segDir(t)
	s, err := segment.Create("victim", 64, in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	cmd := segHelper(t, d, "truncvictim", string(d), "victim", op)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("victim: %q, %v\n%s", line, err, stderr.String())
	}
	if err := os.Truncate(segPath(t, d, "victim"), 0); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "go\n")
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s on a file truncated under the mapping: the victim died (%v):\n%s", op, err, stderr.String())
	}
	return strings.Split(strings.TrimSpace(string(rest)), "\n")
}

// TestTruncated runs each call on a file truncated under the mapping:
// before, Refresh, Lock, TryLock, LockContext, Unlock, Close, a second
// Open, Notify, and the waiters asleep in Lock, Wait and WaitNotification
// died of SIGBUS; Stat and Attached already said ErrTruncated.
func TestTruncated(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for op := range truncOps {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			got := truncate(t, op)
			want := 2 // the call, then Close
			switch op {
			case "close":
				want = 1
			case "lockwait", "wait", "waitnotification":
				want = 3 // the call, the sleeper, Close
			}
			if len(got) != want {
				t.Fatalf("%s: victim said %q, want %d results", op, got, want)
			}
			for _, r := range got {
				if r != "truncated" {
					t.Errorf("%s: %q, want an error wrapping ErrTruncated", op, got)
				}
			}
		})
	}
}

func init() { helperModes["truncbuild"] = truncBuild }

// truncBuild is the helper process's "truncbuild" mode: args dir, name,
// when ("sized" or "publish"). It creates the segment under a temporary
// name (as on OpenBSD), truncating that file to 0 bytes at the step when
// names, and prints what Create returned ("truncated" for an error
// wrapping ErrTruncated), whether the name exists afterwards, and what a
// second Create returned.
func truncBuild(args []string) error {
	d, name, when := posixshm.Dir(args[0]), args[1], args[2]
	unixutil.NoTmpfile = true
	path, err := d.Path(name)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(filepath.Base(path)))
	temp := filepath.Join(string(d), posixshm.TempPrefix+hex.EncodeToString(sum[:]))
	cut := func() {
		if err := os.Truncate(temp, 0); err != nil {
			fmt.Println("truncate:", err)
		}
	}
	undo := map[string]func(func()) func(){"sized": segment.SetSizedHook, "publish": segment.SetPublishHook}[when](cut)
	s, err := segment.Create(name, 1<<16, &segment.Options{Layout: d})
	undo()
	switch {
	case errors.Is(err, segment.ErrTruncated):
		fmt.Println("truncated")
	case err == nil:
		s.Close()
		fmt.Println("other nil")
	default:
		fmt.Println("other", err)
	}
	_, err = os.Lstat(path)
	fmt.Println("exists", err == nil)
	s, err = segment.Create(name, 1<<16, &segment.Options{Layout: d})
	if err != nil {
		fmt.Println("create again:", err)
		return nil
	}
	fmt.Println("create again: ok")
	return s.Close()
}

// TestCreate_TruncatedWhileBuilding: a creator whose file another process
// truncates while it builds the segment (the temporary file of OpenBSD,
// and of any system without O_TMPFILE, has a name) died of SIGBUS writing
// the header, or publishing it. It must fail with ErrTruncated, leave no
// segment, and let the next Create succeed.
func TestCreate_TruncatedWhileBuilding(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, when := range []string{"sized", "publish"} {
		t.Run(when, func(t *testing.T) {
			d := segDir(t)
			cmd := segHelper(t, d, "truncbuild", string(d), "built", when)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("creator whose file was truncated at %q: %v\n%s", when, err, stderr.String())
			}
			want := "truncated\nexists false\ncreate again: ok\n"
			if string(out) != want {
				t.Fatalf("creator whose file was truncated at %q said %q, want %q", when, out, want)
			}
		})
	}
}
