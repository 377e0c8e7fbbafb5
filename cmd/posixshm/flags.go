package main

import (
	"errors"
	"flag"
	"strconv"
	"time"
)

// The flag package's own duration and int flags say only "parse error"
// for a value they cannot read; these say what they want instead.

// durationFlag adds a duration flag, read by time.ParseDuration.
func durationFlag(fs *flag.FlagSet, name string, value time.Duration, usage string) {
	d := durationValue(value)
	fs.Var(&d, name, usage)
}

type durationValue time.Duration

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a number and a unit, such as 500ms, 2s, 10m or 1h30m")
	}
	*d = durationValue(v)
	return nil
}

func (d *durationValue) String() string { return time.Duration(*d).String() }
func (d *durationValue) Get() any       { return time.Duration(*d) }

// intFlag adds a flag that holds a whole number.
func intFlag(fs *flag.FlagSet, name string, value int, usage string) {
	n := intValue(value)
	fs.Var(&n, name, usage)
}

type intValue int

func (n *intValue) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, strconv.IntSize)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return errors.New("too large")
	case err != nil:
		return errors.New("want a whole number, such as 4")
	}
	*n = intValue(v)
	return nil
}

func (n *intValue) String() string { return strconv.Itoa(int(*n)) }
func (n *intValue) Get() any       { return int(*n) }
