package main

import (
	"errors"
	"flag"
	"io/fs"
)

func init() {
	register(&command{
		name:    "rm",
		args:    "[--dir DIR] [-f] [--] NAME...",
		summary: "remove objects (shm_unlink)",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			f := new(bool)
			fs.BoolVar(f, "f", false, "a NAME that does not exist is no error, as with rm -f; same as --force")
			fs.BoolVar(f, "force", false, "a NAME that does not exist is no error, as with rm -f")
		},
		help: `Remove each object as shm_unlink(NAME) does. Processes that have it mapped keep
using it; new ones can no longer open it.

With -f (--force), a NAME that does not exist is not an error, and no NAME at
all is not a usage error, as with rm -f: "posixshm rm -f NAME" leaves NAME
absent whether it was there or not. Other errors (permission, a name the
convention refuses) are still errors.

examples:
  posixshm rm /myobject
  posixshm rm -f /maybe-there               # in cleanup scripts
  posixshm rm --dir /var/tmp/app -- -odd-name`,
		run: runRm,
	})
}

func runRm(c *cli, names []string) int {
	force := c.flag("f").(bool)
	if len(names) == 0 && !force {
		return c.usageError("no NAME given")
	}
	l := c.layout()
	status := exitOK
	for _, name := range names {
		if err := l.Unlink(name); err != nil && !(force && errors.Is(err, fs.ErrNotExist)) {
			c.fail(err)
			status = exitFail
		}
	}
	return status
}
