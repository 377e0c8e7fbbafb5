//go:build !linux || openbsdsim

package main

// procRoot is empty: no proc file system here says which processes map or
// hold open a file (OpenBSD has none; others differ from Linux's), so gc
// never removes objects that are not segments.
const procRoot = ""

// sameFiles is never called where procRoot is empty.
func sameFiles(a, b int) bool { return false }
