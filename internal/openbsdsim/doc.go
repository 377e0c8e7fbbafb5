// Package openbsdsim tells tests whether this is the openbsdsim build: Go
// on Linux, built with -tags openbsdsim, which selects the glue that the
// OpenBSD build selects (the system's convention in /tmp, no O_NOATIME,
// no /proc, no futex, record locks rather than OFD locks) wherever that
// glue is not a raw OpenBSD system call. The README's platform table
// lists what is simulated and what is not.
package openbsdsim
