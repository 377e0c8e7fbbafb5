//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "benchproc: Linux only, like bench/run")
	os.Exit(1)
}
