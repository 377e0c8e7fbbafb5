package posixshm

// Other systems' file conventions, rooted at a test directory, for the
// black-box tests (package posixshm_test) that race real processes
// against them.

// GlibcDir is Linux's convention (glibc and musl) rooted at dir.
func GlibcDir(dir string) Layout { return glibcDir(dir) }
