package main

import (
	"flag"
	"os"

	"github.com/posixshm/posixshm/posixshm"
)

// layout is where names are resolved: OpenBSD's layout in a directory
// (posixshm.Dir) or this system's own convention.
type layout interface {
	Path(name string) (string, error)
	Open(name string, flag int, perm os.FileMode) (*os.File, error)
	Unlink(name string) error
	CreateSegment(name string, size int, opts *posixshm.SegmentOptions) (*posixshm.Segment, error)
	OpenSegment(name string, opts *posixshm.SegmentOptions) (*posixshm.Segment, error)
}

// system is this system's own shm_open convention.
type system struct{}

func (system) Path(name string) (string, error) { return posixshm.Path(name) }
func (system) Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	return posixshm.Open(name, flag, perm)
}
func (system) Unlink(name string) error { return posixshm.Unlink(name) }
func (system) CreateSegment(name string, size int, opts *posixshm.SegmentOptions) (*posixshm.Segment, error) {
	return posixshm.CreateSegment(name, size, opts)
}
func (system) OpenSegment(name string, opts *posixshm.SegmentOptions) (*posixshm.Segment, error) {
	return posixshm.OpenSegment(name, opts)
}

// dirFlag adds the --dir flag every command that resolves names has.
func dirFlag(fs *flag.FlagSet) {
	fs.String("dir", "", "use OpenBSD's layout rooted at `DIR` instead of this system's convention")
}

// layout returns the layout the --dir flag selected.
func (c *cli) layout() layout {
	if c.dir != "" {
		return posixshm.Dir(c.dir)
	}
	return system{}
}

// dirArg is the --dir flag as given, for commands suggested in messages.
func (c *cli) dirArg() string {
	if c.dir == "" {
		return ""
	}
	return " --dir " + c.dir
}
