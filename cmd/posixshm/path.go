package main

func init() {
	register(&command{
		name:     "path",
		args:     "[--dir DIR] [--] NAME...",
		summary:  "print the file behind each name",
		setFlags: dirFlag,
		help: `Print, one per line, the file that shm_open(NAME) uses. Nothing is opened or created.

examples:
  posixshm path /myobject            # this system's convention (OpenBSD: /tmp/<sha256>.shm)
  posixshm path --dir /tmp /myobject # OpenBSD's layout rooted at /tmp, on any system
  posixshm path -- -odd-name         # names may begin with "-" after "--"`,
		run: runPath,
	})
}

func runPath(c *cli, names []string) int {
	if len(names) == 0 {
		return c.usageError("no NAME given")
	}
	l := c.layout()
	status := exitOK
	for _, name := range names {
		p, err := l.Path(name)
		if err != nil {
			c.fail(err)
			status = exitFail
			continue
		}
		c.stdout.Write([]byte(quoted(p) + "\n"))
	}
	return status
}
