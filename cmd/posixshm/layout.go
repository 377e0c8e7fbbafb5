package main

import (
	"flag"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/sem"
)

// dirFlag adds the --dir flag every command that resolves names has.
func dirFlag(fs *flag.FlagSet) {
	fs.String("dir", "", "use OpenBSD's layout rooted at `DIR` instead of this system's convention")
}

// layout returns the layout the --dir flag selected.
func (c *cli) layout() posixshm.Layout {
	if c.dir != "" {
		return posixshm.Dir(c.dir)
	}
	return posixshm.System()
}

// segOptions returns segment options for the layout the --dir flag
// selected.
func (c *cli) segOptions() *segment.Options {
	return &segment.Options{Layout: c.layout()}
}

// dirArg is the --dir flag as given, for commands suggested in messages.
func (c *cli) dirArg() string {
	if c.dir == "" {
		return ""
	}
	return " --dir " + shellQuote(c.dir)
}

// semLayout returns the named semaphores' layout the --dir flag selected:
// OpenBSD's format rooted at DIR, or this system's sem_open convention.
func (c *cli) semLayout() sem.Layout {
	if c.dir != "" {
		return sem.Dir(c.dir)
	}
	return sem.System()
}

// semFlag adds --sem, for commands that take semaphores' names too.
func semFlag(fs *flag.FlagSet) {
	fs.Bool("sem", false, "the NAMEs are named semaphores (sem_open's), not shared memory objects")
}

// humanFlag adds -h (and --human-readable): sizes as ls -h shows them.
// It takes the place of -h as a request for help in the commands that
// have it, as in ls(1); --help still asks for help.
func humanFlag(fs *flag.FlagSet) {
	h := new(bool)
	fs.BoolVar(h, "h", false, "sizes in powers of 1024, as ls -h shows them (4.9K, 1.0M); same as --human-readable")
	fs.BoolVar(h, "human-readable", false, "sizes in powers of 1024, as ls -h shows them (4.9K, 1.0M)")
}
