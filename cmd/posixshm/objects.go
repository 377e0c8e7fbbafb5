package main

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
)

// facts are what stat(2) tells about an object's file, without opening it
// for reading: nothing here changes the file's access time.
type facts struct {
	Path  string
	Uid   uint32
	Mode  fs.FileMode
	Size  int64
	Nlink uint64
	Atime time.Time
	Mtime time.Time
	Dev   uint64
	Ino   uint64
}

// lstatFacts returns the facts of path itself (a symbolic link is not
// followed). If there is an error, it will be of type *fs.PathError.
func lstatFacts(path string) (facts, error) {
	var st unix.Stat_t
	if err := unixutil.IgnoringEINTR(func() error { return unix.Lstat(path, &st) }); err != nil {
		return facts{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return factsOf(path, &st), nil
}

// fstatFacts returns the facts of the open file f, whose path is path (an
// object's Name() is its name, not its file: see posixshm.Open).
func fstatFacts(f *os.File, path string) (facts, error) {
	var st unix.Stat_t
	if err := unixutil.IgnoringEINTR(func() error { return unix.Fstat(int(f.Fd()), &st) }); err != nil {
		return facts{}, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	return factsOf(path, &st), nil
}

func factsOf(path string, st *unix.Stat_t) facts {
	return facts{
		Path:  path,
		Uid:   st.Uid,
		Mode:  fileMode(uint32(st.Mode)),
		Size:  st.Size,
		Nlink: uint64(st.Nlink),
		Atime: time.Unix(st.Atim.Unix()),
		Mtime: time.Unix(st.Mtim.Unix()),
		Dev:   uint64(st.Dev),
		Ino:   uint64(st.Ino),
	}
}

// fileMode converts a st_mode to an fs.FileMode, as the os package does.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// owners resolves user IDs to names, once per ID. Without cgo, os/user
// reads /etc/passwd; an ID it cannot resolve has no name.
type owners map[uint32]string

func (o owners) name(uid uint32) string {
	if n, ok := o[uid]; ok {
		return n
	}
	n := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		n = u.Username
	}
	o[uid] = n
	return n
}

// OpenBSD's daily(8) runs, from /etc/daily,
//
//	find -x . ... -type f -atime +7 -execdir rm -f -- {} \;
//
// in /tmp. BSD find computes -atime as the days since the access time
// rounded UP, (now - atime + 86399) / 86400 in whole seconds, and +7 means
// "greater than 7": a file is removed by the first run at which
// now - atime > 7×24h, that is from atime (whole seconds) + 7 days + 1 s on.
// (GNU find rounds down instead, so the same expression on Linux waits
// until 8 full days have passed.)
const (
	dailyAtimeDays = 7
	// dailyGrace is how far ahead ls and stat warn: daily(8) runs once a
	// day, so an object that becomes removable within a day is at risk.
	dailyGrace = 24 * time.Hour
)

// removableAt is the first moment at which daily(8)'s find matches a file
// last accessed at atime.
func removableAt(atime time.Time) time.Time {
	return time.Unix(atime.Unix(), 0).Add(dailyAtimeDays*24*time.Hour + time.Second)
}

// atRisk reports whether daily(8) would remove a file last accessed at
// atime if it ran at any time within dailyGrace from now.
func atRisk(atime, now time.Time) bool {
	return !removableAt(atime).After(now.Add(dailyGrace))
}

// age formats how long ago t was, coarsely: "45s", "12m", "3h05m", "8d02h".
// A time in the future (clock skew) counts as now.
func age(t, now time.Time) string {
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// days is d in days, to one decimal, for messages.
func days(d time.Duration) string {
	return strconv.FormatFloat(d.Hours()/24, 'f', 1, 64)
}

// parseSize parses a size in bytes: a decimal number with an optional
// suffix K, M or G (powers of 1024, either case, optionally followed by
// "B" or "iB": 64K, 64k, 64KiB and 65536 are the same). It must be at least 1.
func parseSize(s string) (int64, error) {
	num, mult := s, int64(1)
	upper := strings.ToUpper(s)
	for _, suf := range []string{"IB", "B"} {
		if strings.HasSuffix(upper, suf) && len(upper) > len(suf) {
			c := upper[len(upper)-len(suf)-1]
			if c == 'K' || c == 'M' || c == 'G' {
				upper = upper[:len(upper)-len(suf)]
				num = num[:len(upper)]
				break
			}
		}
	}
	if n := len(upper); n > 0 {
		switch upper[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			num = num[:n-1]
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil && num != "" && strings.Trim(num, "0123456789") == "" { // digits only: out of range
		return 0, fmt.Errorf("invalid size %q: too large; the most is %d bytes", s, math.MaxInt)
	}
	if err != nil || num == "" || num[0] == '+' || num[0] == '-' {
		return 0, fmt.Errorf("invalid size %q: want a number of bytes, optionally with a K, M or G suffix", s)
	}
	if v < 1 {
		return 0, fmt.Errorf("invalid size %q: must be at least 1 byte", s)
	}
	if v > math.MaxInt64/mult || v*mult > math.MaxInt {
		return 0, fmt.Errorf("invalid size %q: too large; the most is %d bytes", s, math.MaxInt)
	}
	return v * mult, nil
}

// restoreAtime puts back the access time f had when before was taken, if
// reading f has since moved it (OpenBSD moves it on every read; Linux's
// relatime once a day, unless O_NOATIME was set, as segment.ReadHeader
// does for the owner), so that looking at an object never refreshes it.
// It goes through f's descriptor, never the path, which by now may name
// another file. The error is only worth a warning.
func restoreAtime(f *os.File, before facts) error {
	after, err := fstatFacts(f, before.Path)
	if err != nil || after.Atime.Equal(before.Atime) {
		return err
	}
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) { err = unixutil.SetAtime(int(fd), before.Atime, after.Mtime) })
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("reading %s moved its access time; restoring it: %v", quoted(before.Path), err)
	}
	return nil
}
