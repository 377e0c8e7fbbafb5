//go:build !linux || openbsdsim

// Command semcmp compares package sem with glibc's semaphores; it runs on
// Linux only (glibc, futex).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "semcmp: Linux only (glibc's semaphores)")
	os.Exit(1)
}
