package main

import (
	"errors"
	"io/fs"

	"github.com/posixshm/posixshm/segment"
)

// openSeg opens the existing segment called name for c's command, or says
// on stderr why it cannot (with the command to create it, if it is
// missing) and returns nil.
func (c *cli) openSeg(name string) *segment.Segment {
	seg, err := segment.Open(name, c.segOptions())
	if err == nil {
		return seg
	}
	if why := tooShort(c.layout(), name, err); why != "" {
		c.errorf("%s %s: %s", c.name, quoted(name), why)
		return nil
	}
	c.fail(err)
	if errors.Is(err, fs.ErrNotExist) {
		c.errorf("%s %s: create the segment first: posixshm create%s -- %s", c.name, quoted(name), c.dirArg(), shellQuote(name))
	}
	return nil
}
