//go:build unix && !linux && !openbsd

package sem

import "time"

// Elsewhere (FreeBSD, NetBSD, macOS, illumos...) this package does not
// reach the system's own sleep primitive: waiters poll, backing off up to
// maxPoll, and a post has nobody to wake. Only Dir, OpenBSD's format, is
// available there, shared with Go programs.
func futexWait(addr *uint32, val uint32, d time.Duration) error { return errNoFutex }

func futexWake(addr *uint32, n int) {}
