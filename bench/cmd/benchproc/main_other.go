//go:build !linux || openbsdsim

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "benchproc: Linux only, like bench/run (and not the openbsdsim build: it measures Linux's futex and /proc paths)")
	os.Exit(1)
}
