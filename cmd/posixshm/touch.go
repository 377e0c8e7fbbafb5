package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/sem"
)

func init() {
	register(&command{
		name:    "touch",
		args:    "[--dir DIR] [--sem] [--] NAME...",
		summary: "set existing objects' access and modification times to now",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			semFlag(fs)
		},
		help: `Open each existing object through the same checks as shm_open (never creating one,
never following a link) and set its access and modification times to now, so that
OpenBSD's daily(8), which deletes files in /tmp not accessed for days, keeps it.

Under OpenBSD's layout (on OpenBSD, or with --dir) shm_open opens an object for its
owner only: anyone else gets EPERM, root included. Run touch as the user who owns the
objects, from that user's crontab.

With --sem the NAMEs are named semaphores (sem_open's: OpenBSD's
/tmp/<sha256>.sem, which daily(8) deletes as it deletes objects).

examples:
  posixshm touch /myobject
  # in the owner's crontab on OpenBSD (crontab -e as that user), every hour:
  0 * * * * /usr/local/bin/posixshm touch /myobject /other
  0 * * * * /usr/local/bin/posixshm touch --sem /jobs`,
		run: runTouch,
	})
}

func runTouch(c *cli, names []string) int {
	if len(names) == 0 {
		return c.usageError("no NAME given")
	}
	l := c.layout()
	status := exitOK
	for _, name := range names {
		if c.flag("sem").(bool) {
			if err := touchSem(c.semLayout(), name); err != nil {
				c.fail(err)
				status = exitFail
			}
			continue
		}
		if err := touch(l, name); err != nil {
			c.failRefresh(l, name, err)
			status = exitFail
		}
	}
	return status
}

// failRefresh reports err, from refreshing the object called name in l.
// When the object belongs to someone else, it says so and who may refresh
// it, rather than only "permission denied" about a file path.
func (c *cli) failRefresh(l posixshm.Layout, name string, err error) {
	if why := notOwner(l, name, err); why != "" {
		c.errorf("%s %s: not refreshed: %s", c.name, quoted(name), why)
		return
	}
	c.fail(err)
}

// objectFacts returns the lstat(2) facts of the file behind the object
// called name in l, for messages; false if there are none.
func objectFacts(l posixshm.Layout, name string) (facts, bool) {
	path, err := l.Path(name)
	if err != nil {
		return facts{}, false
	}
	fa, err := lstatFacts(path)
	return fa, err == nil
}

// notOwner explains a permission error about the object called name that
// belongs to another user, or returns "" when err is not one. Only an
// object's owner may set its times to now, and root where the convention
// lets root open other users' objects: everywhere but in OpenBSD's layout,
// whose shm_open opens only objects the caller owns, even for root.
func notOwner(l posixshm.Layout, name string, err error) string {
	if !errors.Is(err, fs.ErrPermission) {
		return ""
	}
	fa, ok := objectFacts(l, name)
	euid := geteuid()
	openbsd := dailyApplies(l)
	if !ok || int64(fa.Uid) == int64(euid) || (euid == 0 && !openbsd) {
		return "" // ours, or we are root and root may: something else is wrong
	}
	who := "uid " + strconv.FormatUint(uint64(fa.Uid), 10)
	if n := (owners{}).name(fa.Uid); n != "" {
		who += " (" + n + ")"
	}
	cause := error(syscall.EACCES)
	var errno syscall.Errno
	if errors.As(err, &errno) {
		cause = errno
	}
	if openbsd {
		return fmt.Sprintf("it belongs to %s, and only its owner can refresh it: OpenBSD's shm_open opens no one else's objects, not even root's (%v)", who, cause)
	}
	return fmt.Sprintf("it belongs to %s, and only its owner or root can refresh it (%v)", who, cause)
}

func touch(l posixshm.Layout, name string) error {
	f, err := l.Open(name, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return posixshm.Touch(f)
}

// touchSem sets the times of the semaphore called name in l to now.
func touchSem(l sem.Layout, name string) error {
	s, err := l.Open(name, 0, 0, 0)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Refresh()
}
