package posixshm

import (
	"crypto/sha256"
	"strings"
	"unsafe"
)

// Suffixes of the files that OpenBSD's libc creates in /tmp: shm_open(3)
// objects end in ".shm", sem_open(3) semaphores in ".sem".
const (
	ShmSuffix = ".shm"
	SemSuffix = ".sem"
)

// hashedLen is the length of the file name part that OpenBSD derives from a
// name: 64 lowercase hex digits of its SHA-256.
const hashedLen = 2 * sha256.Size

// checkName reports whether name can be passed to a C shm_open at all.
// A C string ends at its first NUL byte, so a Go name containing NUL has no
// C equivalent: hashing it whole would name an object no C program can reach,
// hashing a prefix would silently alias another name. Both are surprises, so
// such names are refused with EINVAL.
func checkName(name string) error {
	if strings.IndexByte(name, 0) >= 0 {
		return errNUL
	}
	return nil
}

// appendHashed appends dir + "/" + hex(sha256(name)) + suffix to dst, exactly
// as OpenBSD's shm_open.c builds its path: the whole name is hashed, leading
// slash included, with no other validation. It does not allocate when dst has
// room.
func appendHashed(dst []byte, dir, name, suffix string) []byte {
	// Sum256 neither keeps nor modifies its argument, so viewing the string's
	// bytes in place is safe and avoids copying long names.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(name), len(name)))
	dst = append(dst, dir...)
	if len(dir) == 0 || dir[len(dir)-1] != '/' {
		dst = append(dst, '/')
	}
	const digits = "0123456789abcdef"
	for _, b := range sum {
		dst = append(dst, digits[b>>4], digits[b&0x0f])
	}
	return append(dst, suffix...)
}

// hashedPath is the string form of appendHashed.
func hashedPath(dir, name, suffix string) string {
	buf := make([]byte, 0, len(dir)+1+hashedLen+len(suffix))
	buf = appendHashed(buf, dir, name, suffix)
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

// IsHashedName reports whether base (a file name without directory) has the
// form OpenBSD's libc gives its objects: 64 lowercase hex digits and suffix
// (ShmSuffix or SemSuffix). Listing tools use it to pick objects out of a
// shared directory such as /tmp.
func IsHashedName(base, suffix string) bool {
	if len(base) != hashedLen+len(suffix) || !strings.HasSuffix(base, suffix) {
		return false
	}
	for i := 0; i < hashedLen; i++ {
		c := base[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
