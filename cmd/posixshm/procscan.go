package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
)

// Who maps or holds open a file that is not a segment, as fuser(1) finds
// out: from the maps and the descriptor tables of every thread of every
// process in /proc, on Linux.
// Segments need none of this (their users hold record locks that the
// kernel vouches for); other objects have nothing else.

// fileKey identifies a file: its device and inode numbers.
type fileKey struct{ dev, ino uint64 }

func (fa facts) key() fileKey { return fileKey{fa.Dev, fa.Ino} }

// A proc is a process, for messages.
type proc struct {
	pid  int
	comm string
}

func (p proc) String() string {
	if p.comm == "" {
		return "pid " + strconv.Itoa(p.pid)
	}
	return "pid " + strconv.Itoa(p.pid) + " (" + quoted(p.comm) + ")"
}

// procUsers is what a scan of /proc found about some files.
type procUsers struct {
	// unknown, if not empty, says why no scan could tell who uses a file
	// (no /proc, or processes hidden from it): every file counts as
	// possibly in use. none says that there is no /proc at all.
	unknown string
	none    bool
	// users are the processes that map or hold open each file.
	users map[fileKey][]proc
	// unreadable are the processes whose maps or descriptors could not
	// be read, with why: any of them may use any file.
	unreadable []unreadableProc
}

type unreadableProc struct {
	proc
	err error
}

// initPIDNamespace is the inode number of the initial PID namespace
// (PROC_PID_INIT_INO in the kernel's include/linux/proc_ns.h).
const initPIDNamespace = 0xEFFFFFFC

// scanProc finds, as fuser(1) does, which of the files in want each
// process but this one maps (/proc/PID/maps) or holds open in any of its
// threads' descriptor tables (/proc/PID/task/TID/fd), from the proc file
// system mounted at root ("" where there is none). Only processes visible in it can be seen: scanProc
// says so (unknown) when this process runs in a PID namespace of its
// own, whose /proc shows none of the processes outside it, or when
// /proc hides other users' processes (hidepid) from a user other than
// root.
func scanProc(root string, want map[fileKey]bool, self, euid int) procUsers {
	var pu procUsers
	if root == "" {
		pu.unknown, pu.none = "this system has no /proc that tells which processes use it", true
		return pu
	}
	selfDir := filepath.Join(root, strconv.Itoa(self))
	if _, err := os.Stat(filepath.Join(selfDir, "maps")); err != nil {
		pu.unknown, pu.none = fmt.Sprintf("%s is not a proc file system that shows this process (%v)", root, unwrapPath(err)), true
		return pu
	}
	var st unix.Stat_t
	if err := unixutil.IgnoringEINTR(func() error { return unix.Stat(filepath.Join(selfDir, "ns", "pid"), &st) }); err != nil {
		pu.unknown = fmt.Sprintf("cannot tell which PID namespace this process runs in (%v)", err)
		return pu
	} else if st.Ino != initPIDNamespace {
		pu.unknown = "posixshm runs in a PID namespace of its own (a container), and processes outside it, which may use the object, are not in its /proc"
		return pu
	}
	if euid != 0 {
		if opt := hidepid(filepath.Join(selfDir, "mountinfo"), root); opt != "" {
			pu.unknown = fmt.Sprintf("%s is mounted with %s, which hides other users' processes from uid %d", root, opt, euid)
			return pu
		}
	}
	pu.users = map[fileKey][]proc{}
	if len(want) == 0 {
		return pu // nothing to look for
	}
	des, err := os.ReadDir(root)
	if err != nil {
		pu.unknown = fmt.Sprintf("cannot list %s (%v)", root, unwrapPath(err))
		return pu
	}
	for _, de := range des {
		pid, err := strconv.Atoi(de.Name())
		if err != nil || pid == self {
			continue
		}
		dir := filepath.Join(root, de.Name())
		p := proc{pid: pid, comm: readComm(dir)}
		found, err := procFiles(dir, pid, want)
		switch {
		case gone(err):
			continue // exited meanwhile
		case err != nil:
			pu.unreadable = append(pu.unreadable, unreadableProc{p, err})
		}
		for k := range found {
			pu.users[k] = append(pu.users[k], p)
		}
	}
	return pu
}

// readComm returns the command name of the process whose /proc directory
// is dir, or "" if it cannot be read.
func readComm(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// unreadableText says which processes' entries could not be read: "the
// open files of 3 processes could not be read (pid 1 (systemd): ...)".
func (pu procUsers) unreadableText() string {
	const most = 2
	s := make([]string, 0, most)
	for _, p := range pu.unreadable[:min(len(pu.unreadable), most)] {
		s = append(s, p.String()+": "+p.err.Error())
	}
	if len(pu.unreadable) > most {
		s = append(s, "...")
	}
	return fmt.Sprintf("the maps and descriptors of %s could not be read (%s)",
		plural(len(pu.unreadable), "process"), strings.Join(s, "; "))
}

// procFiles returns the files in want that the process pid, whose /proc
// directory is dir, maps or holds open through any of its threads, and an
// error if it could not read all of that (what it found is still
// returned). The thread group leader's own entries are not enough: when
// it has exited (pthread_exit) while other threads live on, its maps and
// its descriptor table read empty; and a thread that called
// unshare(CLONE_FILES) holds descriptors in a table of its own. So the
// maps, which all threads share, are read from a live task, and every
// distinct descriptor table is read, each once.
func procFiles(dir string, pid int, want map[fileKey]bool) (map[fileKey]bool, error) {
	found := map[fileKey]bool{}
	tids, err := taskIDs(filepath.Join(dir, "task"))
	if err != nil {
		return found, err
	}
	taskDir := func(tid int) string {
		if tid == pid {
			return dir
		}
		return filepath.Join(dir, "task", strconv.Itoa(tid))
	}
	// The address space, which all threads share: the maps of the first
	// task that shows any (usually the leader; its maps read empty once
	// it has exited).
	for _, tid := range tids {
		maps, err := os.ReadFile(filepath.Join(taskDir(tid), "maps"))
		if err != nil {
			if tid != pid && gone(err) {
				continue // this thread exited meanwhile
			}
			return found, unwrapPath(err)
		}
		for _, k := range mappedFiles(maps) {
			if want[k] {
				found[k] = true
			}
		}
		if len(maps) > 0 {
			break
		}
	}
	// The descriptor tables: the leader's, then that of every task whose
	// table is none of those read already. Most threads share the
	// leader's, and one kcmp(2) per thread says so, far cheaper than a
	// stat(2) per descriptor per thread.
	var firstErr error
	read := []int{pid}
	if err := openFiles(filepath.Join(dir, "fd"), want, found); err != nil {
		if gone(err) {
			return found, err
		}
		firstErr = err
	}
	for _, tid := range tids {
		if tid == pid || slices.ContainsFunc(read, func(r int) bool { return sameFiles(r, tid) }) {
			continue
		}
		err := openFiles(filepath.Join(taskDir(tid), "fd"), want, found)
		switch {
		case err == nil:
			read = append(read, tid)
		case gone(err):
			// this thread exited meanwhile
		case firstErr == nil:
			firstErr = fmt.Errorf("thread %d: %w", tid, err)
		}
	}
	return found, firstErr
}

// taskIDs returns the thread IDs listed in a /proc/PID/task directory.
func taskIDs(dir string) ([]int, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, unwrapPath(err)
	}
	tids := make([]int, 0, len(des))
	for _, de := range des {
		if tid, err := strconv.Atoi(de.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// openFiles adds to found the files in want that the descriptor table
// shown by the /proc directory fdDir (PID/fd or PID/task/TID/fd) holds
// open. It returns the first error, unless the table's entries could not
// even be listed, in which case it returns that.
func openFiles(fdDir string, want, found map[fileKey]bool) error {
	des, err := os.ReadDir(fdDir)
	if err != nil {
		return unwrapPath(err)
	}
	var firstErr error
	for _, de := range des {
		var st unix.Stat_t
		// stat(2) follows the descriptor's link to the open file itself,
		// even one that has lost its name.
		err := unixutil.IgnoringEINTR(func() error { return unix.Stat(filepath.Join(fdDir, de.Name()), &st) })
		switch {
		case err == nil:
			if k := (fileKey{uint64(st.Dev), uint64(st.Ino)}); want[k] {
				found[k] = true
			}
		case errors.Is(err, syscall.ENOENT):
			// closed meanwhile
		case firstErr == nil:
			firstErr = fmt.Errorf("descriptor %s: %w", de.Name(), err)
		}
	}
	return firstErr
}

// mappedFiles returns the files that the lines of a /proc/PID/maps file
// map: "start-end perms offset major:minor inode [path]", the device in
// hexadecimal, the inode in decimal (0 for anonymous memory).
func mappedFiles(maps []byte) []fileKey {
	var keys []fileKey
	sc := bufio.NewScanner(bytes.NewReader(maps))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		major, minor, ok := strings.Cut(f[3], ":")
		maj, err1 := strconv.ParseUint(major, 16, 32)
		mnr, err2 := strconv.ParseUint(minor, 16, 32)
		ino, err3 := strconv.ParseUint(f[4], 10, 64)
		if !ok || err1 != nil || err2 != nil || err3 != nil || ino == 0 {
			continue
		}
		keys = append(keys, fileKey{linuxDev(maj, mnr), ino})
	}
	return keys
}

// linuxDev is the device number major:minor as Linux's stat(2) reports it
// (the kernel's new_encode_dev, glibc's makedev).
func linuxDev(major, minor uint64) uint64 {
	return (major&0xfffff000)<<32 | (major&0xfff)<<8 | (minor&0xffffff00)<<12 | minor&0xff
}

// hidepid returns the hidepid option of the proc file system mounted at
// root, as /proc/self/mountinfo (file) shows it, if it hides other users'
// processes altogether ("hidepid=2", "hidepid=invisible"), or "".
func hidepid(file, root string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || f[4] != root || g[0] != "proc" {
			continue
		}
		for _, o := range strings.Split(g[2], ",") {
			if o == "hidepid=2" || o == "hidepid=invisible" {
				return o
			}
		}
	}
	return ""
}

// gone reports whether err says that a process has exited.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}
