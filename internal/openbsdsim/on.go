//go:build linux && openbsdsim

package openbsdsim

// Enabled reports whether this is the openbsdsim build.
const Enabled = true
