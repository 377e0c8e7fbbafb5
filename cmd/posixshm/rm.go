package main

func init() {
	register(&command{
		name:     "rm",
		args:     "[--dir DIR] [--] NAME...",
		summary:  "remove objects (shm_unlink)",
		setFlags: dirFlag,
		help: `Remove each object as shm_unlink(NAME) does. Processes that have it mapped keep
using it; new ones can no longer open it.

examples:
  posixshm rm /myobject
  posixshm rm --dir /var/tmp/app -- -odd-name`,
		run: runRm,
	})
}

func runRm(c *cli, names []string) int {
	if len(names) == 0 {
		return c.usageError("no NAME given")
	}
	l := c.layout()
	status := exitOK
	for _, name := range names {
		if err := l.Unlink(name); err != nil {
			c.fail(err)
			status = exitFail
		}
	}
	return status
}
