package sem

// GlibcDir is glibc's layout rooted at dir, for the black-box tests:
// GlibcDir("/dev/shm") is Linux's convention in every build (the
// openbsdsim build's own is OpenBSD's), any other directory keeps a test's
// semaphores apart.
func GlibcDir(dir string) Layout { return GlibcLayout(dir, 0) }

// PageSize is the size of an OpenBSD semaphore's file.
var PageSize = pageSize
