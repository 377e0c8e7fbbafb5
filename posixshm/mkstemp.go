package posixshm

import (
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// tempChars are the characters shm_mkstemp(3) puts in place of the X's.
const tempChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// minTempX is the number of trailing X's shm_mkstemp requires.
const minTempX = 6

// maxTempTries bounds the retries on EEXIST. OpenBSD retries up to INT_MAX
// times; with 62^6 names per attempt an exhausted namespace is a sign of
// something wrong (a directory full of planted files), and an error beats
// a hang.
const maxTempTries = 1 << 16

// errTempExhausted is the error once maxTempTries names all existed.
var errTempExhausted = &NameError{Reason: "every name tried exists (" + strconv.Itoa(maxTempTries) + " tries)", Errno: syscall.EEXIST}

// createTemp is shm_mkstemp over an Open function. Unlike OpenBSD's, which
// tries a new name after any error of shm_open, it does so only after
// EEXIST: every other error comes from the directory or the process
// (ENOENT, EACCES, ENOSPC, EMFILE...), which no new name cures, and
// OpenBSD's loop turns it into a spin of up to INT_MAX calls.
func createTemp(template string, open func(string, int, os.FileMode) (*os.File, error)) (*os.File, string, error) {
	if err := checkName(template); err != nil {
		return nil, "", &fs.PathError{Op: opMkstemp, Path: template, Err: err}
	}
	nx := 0
	for nx < len(template) && template[len(template)-1-nx] == 'X' {
		nx++
	}
	if nx < minTempX {
		return nil, "", &fs.PathError{Op: opMkstemp, Path: template, Err: &NameError{Reason: "template needs at least 6 trailing X characters", Errno: syscall.EINVAL}}
	}
	buf := []byte(template)
	tail := buf[len(buf)-nx:]
	for try := 0; try < maxTempTries; try++ {
		if err := randomFill(tail); err != nil {
			return nil, "", &fs.PathError{Op: opMkstemp, Path: template, Err: err}
		}
		name := string(buf)
		f, err := open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return f, name, nil
		}
		if !errors.Is(err, syscall.EEXIST) {
			// Report it as shm_mkstemp of the caller's template; the
			// wrapped error still names the file that was tried.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, "", &fs.PathError{Op: opMkstemp, Path: template, Err: err}
		}
	}
	return nil, "", &fs.PathError{Op: opMkstemp, Path: template, Err: errTempExhausted}
}

// randomFill replaces every byte of b with a uniformly chosen tempChars
// character, from crypto/rand. Bytes ≥ 248 (= 4·62) are rejected so that
// no character is more likely than another.
func randomFill(b []byte) error {
	var pool [64]byte
	for i := 0; i < len(b); {
		if _, err := rand.Read(pool[:]); err != nil {
			return err
		}
		for _, r := range pool {
			if int(r) >= 4*len(tempChars) {
				continue
			}
			b[i] = tempChars[int(r)%len(tempChars)]
			if i++; i == len(b) {
				break
			}
		}
	}
	return nil
}
