package main

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/sem"
)

// semJSON is a named semaphore's state, as ls and stat report it.
type semJSON struct {
	Format  string `json:"format"`
	Value   int    `json:"value"`
	Waiters int    `json:"waiters"` // as the format counts them: dead waiters included
}

// readSem reads the state of the semaphore whose file f is (its facts
// fa), as layout l's sem_open would find it, without mapping it, changing
// it or refreshing it: it reads the first bytes (with O_NOATIME where it
// may) and puts back an access time the read moved. As for segments, only
// the owner and root may do that, so another user's semaphore is not read.
// It returns the state, or why there is none, and a warning.
func readSem(f *os.File, fa facts, l sem.Layout) (s *semJSON, unknown, warning string) {
	if euid := geteuid(); euid != 0 && fa.Uid != uint32(euid) {
		return nil, fmt.Sprintf("not read: the semaphore belongs to uid %d, and reading it as uid %d would refresh it", fa.Uid, euid), ""
	}
	var head [32]byte
	var n int
	var err error
	rc, cerr := f.SyscallConn()
	if cerr != nil {
		return nil, cerr.Error(), ""
	}
	rc.Control(func(fd uintptr) {
		restore := unixutil.Noatime(int(fd))
		defer restore()
		n, err = unixutil.IgnoringEINTR2(func() (int, error) { return syscall.Pread(int(fd), head[:], 0) })
	})
	if werr := restoreAtime(f, fa); werr != nil {
		warning = werr.Error()
	}
	if err != nil && err != io.EOF {
		return nil, "not read: " + err.Error(), warning
	}
	info, err := sem.Decode(l, fa.Size, head[:n])
	if err != nil {
		return nil, "not a semaphore: " + err.Error(), warning
	}
	return &semJSON{Format: info.Format.String(), Value: info.Value, Waiters: info.Waiters}, "", warning
}

// String is the semaphore's state for the ls table and stat's text.
func (s *semJSON) String() string {
	switch s.Waiters {
	case 0:
		return fmt.Sprintf("value %d", s.Value)
	case 1:
		return fmt.Sprintf("value %d, 1 waiter", s.Value)
	}
	return fmt.Sprintf("value %d, %d waiters", s.Value, s.Waiters)
}
