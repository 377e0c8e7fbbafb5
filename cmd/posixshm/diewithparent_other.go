//go:build (!linux && !freebsd) || openbsdsim

package main

import "os/exec"

// parentDeathSignal says whether dieWithParent works on this system:
// OpenBSD, NetBSD, DragonFly, macOS, illumos and Solaris have no
// parent-death signal, so a child outlives a parent killed with SIGKILL
// (lock's and demo's help say so).
const parentDeathSignal = false

// dieWithParent does nothing here; see parentDeathSignal.
func dieWithParent(cmd *exec.Cmd) {}
