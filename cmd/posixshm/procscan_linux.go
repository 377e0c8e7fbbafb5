//go:build linux && !openbsdsim

package main

// procRoot is where the proc file system that tells which processes use a
// file is mounted.
const procRoot = "/proc"
