package sem_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/sem"
)

// The Go children, doing what the C side's commands of the same name do
// (testdata/cref/semmain.h), on the semaphore $SEMTEST_NAME of the layout
// $SEMTEST_LAYOUT names.
func init() {
	roles["open"] = roleOpen
	roles["mixed"] = roleMixed
	roles["wait"] = func() error {
		s, err := childOpen()
		if err != nil {
			return err
		}
		if err := s.Wait(); err != nil {
			return err
		}
		fmt.Println("ok")
		return nil
	}
	roles["hold"] = func() error {
		s, err := childOpen()
		if err != nil {
			return err
		}
		if err := s.Wait(); err != nil {
			return err
		}
		fmt.Println("held")
		select {}
	}
	roles["transfer"] = roleTransfer
	roles["postlog"] = rolePostlog
	roles["relay"] = roleRelay
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

func childOpen() (*sem.Semaphore, error) {
	return childLayout().Open(os.Getenv("SEMTEST_NAME"), 0, 0, 0)
}

// roleOpen reads lines "FLAG VALUE" on stdin (each the start signal of a
// race) and for each opens with them; prints "ok" or "errno N" for each.
func roleOpen() error {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var flag int
		var value uint32
		if _, err := fmt.Sscan(in.Text(), &flag, &value); err != nil {
			return err
		}
		s, err := childLayout().Open(os.Getenv("SEMTEST_NAME"), flag, 0o600, value)
		if err != nil {
			fmt.Println("errno", errnoOf(err))
			continue
		}
		s.Close()
		fmt.Println("ok")
	}
	return in.Err()
}

// roleMixed is the C side's "mixed": $SEMTEST_OPS operations in batches of
// k posts then k takes, through every way of taking.
func roleMixed() error {
	s, err := childOpen()
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(uint64(envInt("SEMTEST_SEED")), 1))
	ops, posts, takes := envInt("SEMTEST_OPS"), 0, 0
	for done := 0; done < ops; {
		k := 1 + r.IntN(8)
		for range k {
			if err := s.Post(); err != nil {
				return err
			}
			done, posts = done+1, posts+1
		}
		for range k {
			switch r.IntN(4) {
			case 0:
				if _, err := s.Value(); err != nil {
					return err
				}
				fallthrough
			case 1:
				ok, err := s.TryWait()
				if err != nil {
					return err
				}
				if ok {
					break
				}
				fallthrough
			case 2:
				if err := s.Wait(); err != nil {
					return err
				}
			default:
				for {
					err := s.TimedWait(time.Now().Add(time.Duration(1+r.IntN(3)) * time.Millisecond))
					if err == nil {
						break
					}
					if errnoOf(err) != int(syscall.ETIMEDOUT) {
						return err
					}
				}
			}
			done, takes = done+1, takes+1
		}
	}
	fmt.Println("posts", posts, "takes", takes)
	return nil
}

// roleTransfer takes units from $SEMTEST_NAME with timed waits of 1-8 ms
// and posts each to $SEMTEST_TO, forever.
func roleTransfer() error {
	s, err := childOpen()
	if err != nil {
		return err
	}
	to, err := childLayout().Open(os.Getenv("SEMTEST_TO"), 0, 0, 0)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for {
		err := s.TimedWait(time.Now().Add(time.Duration(1+rand.IntN(8)) * time.Millisecond))
		switch {
		case err == nil:
			if err := to.Post(); err != nil {
				return err
			}
		case errnoOf(err) != int(syscall.ETIMEDOUT):
			return err
		}
	}
}

// rolePostlog posts $SEMTEST_N units, adding 1 to the counter at the start
// of $SEMTEST_LOG after each.
func rolePostlog() error {
	s, err := childOpen()
	if err != nil {
		return err
	}
	count, err := mapCounter(os.Getenv("SEMTEST_LOG"))
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for range envInt("SEMTEST_N") {
		if err := s.Post(); err != nil {
			return err
		}
		atomic.AddUint64(count, 1)
		if rand.IntN(4) == 0 {
			time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		}
	}
	fmt.Println("ok")
	return nil
}

// roleRelay is the C side's "relay": $SEMTEST_N times a wait on
// $SEMTEST_NAME (Wait, TimedWait with a far deadline and WaitContext in
// turn), then a post on $SEMTEST_TO; it prints "ok" and the voluntary
// context switches.
func roleRelay() error {
	s, err := childOpen()
	if err != nil {
		return err
	}
	to, err := childLayout().Open(os.Getenv("SEMTEST_TO"), 0, 0, 0)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range envInt("SEMTEST_N") {
		switch i % 3 {
		case 0:
			err = s.Wait()
		case 1:
			err = s.TimedWait(time.Now().Add(24 * time.Hour))
		default:
			err = s.WaitContext(ctx)
		}
		if err != nil {
			return err
		}
		if err := to.Post(); err != nil {
			return err
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Println("ok", ru.Nvcsw)
	return nil
}

// mapCounter maps the 64-bit counter at the start of the file at path.
func mapCounter(path string) (*uint64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, 8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	return (*uint64)(unsafe.Pointer(&mem[0])), nil
}
