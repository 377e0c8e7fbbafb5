package main

import (
	"flag"
	"fmt"

	"github.com/posixshm/posixshm/segment"
)

// defaultSize is the data size of a segment made without --size: one page
// on the systems we run on.
const defaultSize = 4096

func init() {
	register(&command{
		name:    "create",
		args:    "[--dir DIR] [--size BYTES] [--] NAME",
		summary: "create a segment: header, lock word and data",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			fs.String("size", fmt.Sprint(defaultSize), "data size in `BYTES`; a K, M or G suffix multiplies by 1024, 1024² or 1024³")
		},
		help: `Create a new posixshm segment called NAME: a shared memory object holding a
versioned header (with the lock word and the last-refresh stamp) followed by
BYTES of zeroed data. An object that already exists is an error (EEXIST); it
is never reused or truncated. On success the file's path is printed.

BYTES is a number with an optional suffix: 64K, 64KiB and 65536 are the same;
so are 1M and 1048576, 1G and 1073741824. It must be at least 1.

examples:
  posixshm create /myseg                     # 4096 data bytes, this system's convention
  posixshm create --size 1M /big             # one MiB of data
  posixshm create --dir /var/tmp/app -- -odd # OpenBSD's layout rooted at /var/tmp/app`,
		run: runCreate,
	})
}

func runCreate(c *cli, args []string) int {
	if len(args) != 1 {
		return c.usageError("want exactly one NAME, got %s", plural(len(args), "argument"))
	}
	size, err := parseSize(c.flag("size").(string))
	if err != nil {
		return c.usageError("--size: %v", err)
	}
	s, err := segment.Create(args[0], int(size), c.segOptions())
	if err != nil {
		c.fail(err)
		return exitFail
	}
	fmt.Fprintln(c.stdout, quoted(s.Path()))
	if err := s.Close(); err != nil {
		c.fail(err)
		return exitFail
	}
	return exitOK
}
