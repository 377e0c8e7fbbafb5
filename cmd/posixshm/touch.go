package main

import (
	"os"

	"github.com/posixshm/posixshm/posixshm"
)

func init() {
	register(&command{
		name:     "touch",
		args:     "[--dir DIR] [--] NAME...",
		summary:  "set existing objects' access and modification times to now",
		setFlags: dirFlag,
		help: `Open each existing object through the same checks as shm_open (never creating one,
never following a link) and set its access and modification times to now, so that
OpenBSD's daily(8), which deletes files in /tmp not accessed for days, keeps it.

Under OpenBSD's layout (on OpenBSD, or with --dir) shm_open opens an object for its
owner only: anyone else gets EPERM, root included. Run touch as the user who owns the
objects, from that user's crontab.

examples:
  posixshm touch /myobject
  # in the owner's crontab on OpenBSD (crontab -e as that user), every hour:
  0 * * * * /usr/local/bin/posixshm touch /myobject /other`,
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
		if err := touch(l, name); err != nil {
			c.fail(err)
			status = exitFail
		}
	}
	return status
}

func touch(l posixshm.Layout, name string) error {
	f, err := l.Open(name, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return posixshm.Touch(f)
}
