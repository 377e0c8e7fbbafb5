package posixshm

import "time"

// Other systems' file conventions, rooted at a test directory, for the
// black-box tests (package posixshm_test) that race real processes
// against them.

// GlibcDir is Linux's convention (glibc and musl) rooted at dir.
func GlibcDir(dir string) Layout { return glibcDir(dir) }

// IllumosDir is the convention of illumos and Solaris rooted at dir, with a
// lock wait of a millisecond instead of libc's second.
func IllumosDir(dir string) Layout {
	d := newIllumosDir(dir)
	d.lockWait = time.Millisecond
	return d
}
