//go:build linux && openbsdsim

package posixshm

// The openbsdsim build runs OpenBSD's glue on Linux (see the README's
// platform table): the system convention is OpenBSD's, as in
// open_openbsd.go, so Open and Unlink use /tmp/<sha256-hex(name)>.shm.
var native Layout = OpenBSD
