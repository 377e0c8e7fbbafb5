package sem_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/sem"
)

func init() {
	// roleTruncated truncates the semaphore $SEMTEST_NAME while a
	// goroutine sleeps in Wait on it, then calls every method, and
	// prints what each returned: "op errno", one per line.
	roles["truncated"] = func() error {
		s, err := childOpen()
		if err != nil {
			return err
		}
		waited := make(chan error, 1)
		go func() { waited <- s.Wait() }()
		for {
			if i, err := s.Info(); err != nil || i.Waiters > 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // asleep in futex(2), most likely
		if err := os.Truncate(s.Path(), 0); err != nil {
			return err
		}
		report := func(op string, err error) {
			fmt.Printf("%s %d %v\n", op, errnoOf(err), err)
		}
		select {
		case err := <-waited:
			report("Wait(asleep)", err)
		case <-time.After(time.Minute):
			return errors.New("the sleeping Wait did not return within a minute")
		}
		_, err = s.Value()
		report("Value", err)
		_, err = s.Info()
		report("Info", err)
		report("Post", s.Post())
		_, err = s.TryWait()
		report("TryWait", err)
		report("Wait", s.Wait())
		report("TimedWait", s.TimedWait(time.Now().Add(time.Second)))
		report("WaitContext", s.WaitContext(context.Background()))
		report("Close", s.Close())
		return nil
	}
}

// TestTruncated: a process that may write a semaphore's file truncates it
// under the mapping. Every method returns an error (EFAULT, naming the
// file) instead of the SIGBUS that killed the process before, a waiter
// asleep at the time included; Close works. (The one access left
// unguarded, the inlined fast path of Post and TryWait on glibc's 64-bit
// format, is off once any other has found the file gone: see fault.go.)
// Failed before: the child died of SIGBUS.
func TestTruncated(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for lname, l := range goLayouts(t) {
		t.Run(lname, func(t *testing.T) {
			mustOpen(t, l, "/t", os.O_CREATE|os.O_EXCL, 0)
			p, _ := l.Path("/t")
			env := "SEMTEST_LAYOUT=dir:" + filepath.Dir(p)
			if _, ok := l.(sem.Dir); !ok {
				env = "SEMTEST_LAYOUT=glibcdir" + strings.TrimPrefix(lname, "glibc") + ":" + filepath.Dir(p)
			}
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), envRole+"=truncated", "SEMTEST_NAME=/t", env)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%.2000s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 9 {
				t.Fatalf("child printed:\n%s", out)
			}
			for _, line := range lines {
				op, rest, _ := strings.Cut(line, " ")
				if op == "Close" {
					if rest != "0 <nil>" {
						t.Errorf("Close: %s", rest)
					}
					continue
				}
				if !strings.HasPrefix(rest, fmt.Sprint(int(syscall.EFAULT))+" ") || !strings.Contains(rest, p) || !strings.Contains(rest, "truncated") {
					t.Errorf("%s on a truncated file: %s; want EFAULT naming %s", op, rest, p)
				}
			}
		})
	}
}
