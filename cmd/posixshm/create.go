package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// defaultSize is the data size of a segment made without --size: one page
// on the systems we run on.
const defaultSize = 4096

func init() {
	register(&command{
		name:    "create",
		args:    "[--dir DIR] [--size BYTES] [--mode MODE] [--slots N] [--remove-when-unused] [--tx-log BYTES] [--prealloc | --sparse] [--] NAME",
		summary: "create a segment: header, lock word and data",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			fs.String("size", fmt.Sprint(defaultSize), "data size in `BYTES`; a K, M or G suffix multiplies by 1024, 1024² or 1024³")
			fs.String("mode", "0600", "permission bits of the new object, in octal `MODE`; the umask applies, and OpenBSD's layout keeps only 0600 of them")
			intFlag(fs, "slots", segment.DefaultSlots, fmt.Sprintf("an attachment table of `N` slots: N processes attached at once with a slot each (1 to %d)", segment.MaxSlots))
			fs.Bool("remove-when-unused", false, "remove the segment when its last user detaches (recorded in the header: every user follows it)")
			fs.String("tx-log", "0", "an undo log of `BYTES` for crash-atomic transactions (segment.Begin); K, M or G suffixes; 0: none")
			fs.Bool("prealloc", false, "reserve the whole file now: a shortage is an error (ENOSPC) now, never SIGBUS in a user later")
			fs.Bool("sparse", false, "create a segment larger than the free space of its file system anyway")
		},
		help: `Create a new posixshm segment called NAME: a shared memory object holding a
versioned header (with the lock word and the last-refresh stamp) followed by
BYTES of zeroed data. An object that already exists is an error (EEXIST); it
is never reused or truncated. On success the file's path is printed.

BYTES is a number with an optional suffix: 64K, 64KiB and 65536 are the same;
so are 1M and 1048576, 1G and 1073741824. It must be at least 1.

--mode, --slots, --remove-when-unused and --tx-log set the segment package's
Options (Perm, Slots, RemoveWhenUnused, TxLog) of the same names; --prealloc
sets Prealloc. A segment made with --remove-when-unused is removed when its
last user detaches, create included, so create stays attached after it has
printed the path, until it is interrupted (SIGINT, SIGTERM or SIGHUP): start
it in the background, then the programs that use the segment; it goes when
the last of them and create have detached.

Memory. A new segment's file is sparse: tmpfs (Linux's /dev/shm, and /tmp
where it is a tmpfs or mfs) charges each page only when a process first
touches it. A segment larger than the memory left is created all the same,
and the process that touches the first page that cannot be had dies of
SIGBUS. So create refuses a segment whose file is larger than the free space
of the file system it goes on (statfs of its directory), unless --sparse
says to create it anyway (for a segment whose pages will not all be used).
--prealloc reserves the whole file before the segment gets its name
(fallocate(2) on Linux, posix_fallocate(2) on FreeBSD, a zero written into
every page elsewhere): a shortage is then an error now (ENOSPC) that leaves
nothing behind, and no page can fault later; the memory is charged from the
start, used or not. Objects that live in the kernel (FreeBSD's and macOS's
own) have no file system to ask: there the check is not made. ZFS cannot
reserve a file (it stores zeros as holes, and copies on write): keep
segments on tmpfs.

examples:
  posixshm create /myseg                     # 4096 data bytes, this system's convention
  posixshm create --size 1M /big             # one MiB of data
  posixshm create --size 8G --prealloc /huge # reserved now: ENOSPC rather than SIGBUS later
  posixshm create --mode 0660 --slots 8 /team
  posixshm create --remove-when-unused /session & ./workers; kill $!  # gone once all detach
  posixshm create --tx-log 64K /ledger       # for crash-atomic transactions
  posixshm create --dir /var/tmp/app -- -odd # OpenBSD's layout rooted at /var/tmp/app`,
		run: runCreate,
	})
}

func runCreate(c *cli, args []string) int {
	if len(args) != 1 {
		return c.usageError("want exactly one NAME, got %s", plural(len(args), "argument"))
	}
	name := args[0]
	size, err := parseSize(c.flag("size").(string))
	if err != nil {
		return c.usageError("--size: %v", err)
	}
	opts := c.segOptions()
	if opts.Perm, err = parseMode(c.flag("mode").(string)); err != nil {
		return c.usageError("--mode: %v", err)
	}
	if opts.Slots = c.flag("slots").(int); opts.Slots < 1 || opts.Slots > segment.MaxSlots {
		return c.usageError("--slots: %d out of range 1..%d", opts.Slots, segment.MaxSlots)
	}
	if s := c.flag("tx-log").(string); !zeroSize(s) {
		n, err := parseSize(s)
		if err != nil {
			return c.usageError("--tx-log: %v", err)
		}
		if n > segment.MaxTxLog {
			return c.usageError("--tx-log: %s is more than the most, %d bytes", s, segment.MaxTxLog)
		}
		opts.TxLog = int(n)
	}
	opts.RemoveWhenUnused = c.flag("remove-when-unused").(bool)
	opts.Prealloc = c.flag("prealloc").(bool)
	sparse := c.flag("sparse").(bool)
	if opts.Prealloc && sparse {
		return c.usageError("--prealloc and --sparse: a file cannot be both reserved and sparse")
	}
	if !opts.Prealloc && !sparse {
		// With --prealloc, the reservation itself is the check.
		if msg := c.tooLarge(name, int(size), opts); msg != "" {
			c.errorf("create %s: %s", quoted(name), msg)
			return exitFail
		}
	}
	var stay context.Context
	if opts.RemoveWhenUnused {
		// Before the segment exists: a signal that comes as soon as it
		// does must still close it.
		var stop func()
		stay, stop = signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer stop()
	}
	s, err := segment.Create(name, int(size), opts)
	if err != nil {
		c.fail(err)
		return exitFail
	}
	fmt.Fprintln(c.stdout, quoted(s.Path()))
	if stay != nil {
		<-stay.Done() // attached until interrupted: see the help text
	}
	if err := s.Close(); err != nil {
		c.fail(err)
		return exitFail
	}
	return exitOK
}

// tooLarge says why the segment that Create(name, size, opts) would make
// does not fit in the free space of the file system it goes on, or returns
// "" if it fits or that cannot be told (no such directory, an object that
// lives in the kernel, options Create refuses with an error of its own, a
// name that is taken).
func (c *cli) tooLarge(name string, size int, opts *segment.Options) string {
	need, err := segment.FileSize(name, size, opts)
	if err != nil {
		return ""
	}
	dir, ok := objectDir(opts.Layout, name)
	if !ok {
		return ""
	}
	if p, err := opts.Layout.Path(name); err == nil {
		if _, err := os.Lstat(p); err == nil {
			return "" // taken: Create says so (EEXIST), which --sparse would not cure
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		return ""
	}
	sp, err := unixutil.FreeSpace(int(d.Fd()))
	d.Close()
	free := sp.Avail
	if geteuid() == 0 {
		free = sp.Free // root may use the blocks reserved for it
	}
	if err != nil || sp.Total == 0 || need <= free { // Total 0: a file system without a limit
		return ""
	}
	return fmt.Sprintf("its file needs %d bytes (%s), more than the %d (%s) free in %s; "+
		"created sparse, it would kill the first process to touch a page the file system cannot supply (SIGBUS): "+
		"--prealloc reserves the memory now or fails, --sparse creates it anyway",
		need, humanSize(need), free, humanSize(free), quoted(dir))
}

// objectDir returns the directory in which the object called name lives in
// layout l, or false for an object that lives in the kernel (FreeBSD's and
// macOS's, whose "path" is the name itself) or a name l refuses.
func objectDir(l posixshm.Layout, name string) (string, bool) {
	p, err := l.Path(name)
	if err != nil || p == name {
		return "", false
	}
	return filepath.Dir(p), true
}

// parseMode parses an object's permission bits, in octal. The owner needs
// to read and write a segment to open it.
func parseMode(s string) (fs.FileMode, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	switch {
	case err != nil || s == "" || s[0] == '+':
		return 0, fmt.Errorf("invalid mode %q: want octal permission bits, such as 0600 or 660", s)
	case v > 0o777:
		return 0, fmt.Errorf("invalid mode %q: only the permission bits (at most 0777)", s)
	case v&0o600 != 0o600:
		return 0, fmt.Errorf("mode %s: the owner needs read and write permission (0600) to open a segment", s)
	}
	return fs.FileMode(v), nil
}

// zeroSize reports whether s is a size of zero bytes as parseSize would
// read it, suffix and all ("0", "0K", "00MiB"): parseSize refuses those,
// since most sizes must be at least a byte, but a zero undo log is none.
func zeroSize(s string) bool {
	t := strings.TrimLeft(s, "0")
	if t == s {
		return false
	}
	if t == "" {
		return true
	}
	_, err := parseSize("1" + t)
	return err == nil
}
