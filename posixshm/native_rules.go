package posixshm

import (
	"crypto/md5"
	"encoding/binary"
	"strconv"
	"strings"
	"syscall"
)

// This file holds each system's shm_open name rules and name → path
// mapping as pure functions: no system calls, so they are table-tested on
// Linux (native_test.go) while only the glue in open_<os>.go differs.
// Every function starts with checkName: a Go name with a NUL byte has no C
// equivalent on any system. Refusals are *NameError values that unwrap to
// the errno the system's C function sets.

// slashRule is the rule NetBSD and illumos share: "as per POSIX" the name
// begins with a slash, and they forbid any other (EINVAL).
func slashRule(name string) error {
	if name == "" || name[0] != '/' {
		return &NameError{Reason: "name does not start with \"/\"", Errno: syscall.EINVAL}
	}
	if strings.IndexByte(name[1:], '/') >= 0 {
		return &NameError{Reason: "name contains a \"/\" after the first", Errno: syscall.EINVAL}
	}
	return nil
}

// NetBSD (lib/librt/shm.c, rev 1.3): objects are files in a tmpfs at
// /var/shm named ".shmobj_" + the name without its leading slash.
const (
	netbsdShmDir    = "/var/shm"
	netbsdObjPrefix = ".shmobj_"
	// netbsdDirMode is SHMFS_DIR_MODE: the directory must be world
	// writable and sticky, as a tmpfs mounted for shm_open is.
	netbsdDirMode = 0o1777
	// pathMax is PATH_MAX on the BSDs and illumos: the size of the buffer
	// NetBSD's libc formats the path into.
	pathMax = 1024
)

// netbsdName applies NetBSD's rules and returns the object's file name (no
// directory). "As per POSIX" the name must begin with a slash and may
// contain no other (EINVAL); "/" alone is accepted and names the file
// ".shmobj_". A path that does not fit PATH_MAX, or a file name over
// NAME_MAX, is ENAMETOOLONG, as snprintf and then open(2) report there.
func netbsdName(dir, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if err := slashRule(name); err != nil {
		return "", err
	}
	file := netbsdObjPrefix + name[1:]
	if len(dir)+1+len(file) >= pathMax {
		return "", &NameError{Reason: "path longer than PATH_MAX", Errno: syscall.ENAMETOOLONG}
	}
	if len(file) > nameMax {
		return "", &NameError{Reason: "file name .shmobj_<name> longer than NAME_MAX", Errno: syscall.ENAMETOOLONG}
	}
	return file, nil
}

// DragonFly (lib/libc/gen/posixshm.c, from FreeBSD 4's): objects are files
// in /var/run/shm, named by the name with all its leading slashes removed.
const dragonflyShmDir = "/var/run/shm"

// dragonflyName applies DragonFly's rules and returns the object's file
// name. DragonFly's libc strips leading slashes and passes the rest to
// openat(2) unchecked, so "/a/b" would descend into a subdirectory and
// "/../x" would leave /var/run/shm; we refuse both: a name that still
// contains a slash, or is "." or "..", is EINVAL. An empty rest is ENOENT
// (what openat(2) of "" returns there); over NAME_MAX is ENAMETOOLONG.
func dragonflyName(name string) (string, error) {
	return trimmedName(name, syscall.ENOENT)
}

// dragonflyCheckFlags: DragonFly's shm_open refuses O_WRONLY (EINVAL),
// because write-only memory cannot be mapped; every other flag is passed
// to open(2).
func dragonflyCheckFlags(flag int) error {
	if flag&syscall.O_ACCMODE == syscall.O_WRONLY {
		return syscall.EINVAL
	}
	return nil
}

// illumos and Solaris (usr/src/lib/libc/port/rt/shm.c, pos4obj.c,
// pos4obj.h in illumos-gate): objects are files in /tmp named by a type
// prefix and the name without its slash. The data lives in ".SHMD"+name;
// a ".SHML"+name file, created with O_EXCL, is a lock held around every
// shm_open and shm_unlink.
const (
	illumosShmDir   = "/tmp"
	illumosDataType = ".SHMD" // SHM_DATA_TYPE
	illumosLockType = ".SHML" // SHM_LOCK_TYPE
	// illumosNameMax stands for pathconf("/tmp/", _PC_NAME_MAX), which
	// libc asks once; it is 255 on tmpfs, UFS and ZFS alike.
	illumosNameMax = 255
)

// illumosCheck is __pos4obj_check: the name must start with a slash and
// contain no other (EINVAL); the rest may be at most nameMax (and
// PATH_MAX) bytes (ENAMETOOLONG). "/" alone is accepted.
func illumosCheck(name string, nameMax int) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := slashRule(name); err != nil {
		return err
	}
	if n := len(name) - 1; n > pathMax || n > nameMax {
		return &NameError{Reason: "name longer than NAME_MAX (" + strconv.Itoa(nameMax) + " bytes)", Errno: syscall.ENAMETOOLONG}
	}
	return nil
}

// illumosPath is __pos4obj_name for a name that passed illumosCheck. A
// short name maps to dir/<type><name without slash>. A name longer than
// nameMax - len(type), which would not fit as one file name with its
// prefix, maps to dir/.<hash>/<type>/<name without slash>, where hash is
// illumosHash of the name without its slash. It also returns the two
// directories of the long form (nil for the short form), which libc
// creates with mode 0777 before use and removes when empty.
func illumosPath(dir, name, typ string, nameMax int) (path string, dirs []string) {
	rest := name[1:]
	if len(rest) <= nameMax-len(typ) {
		return dir + "/" + typ + rest, nil
	}
	hashDir := dir + "/." + illumosHash(rest)
	typeDir := hashDir + "/" + typ
	return typeDir + "/" + rest, []string{hashDir, typeDir}
}

// illumosHash is __pos4obj_md5toa(md5(s)): the 16-byte digest read as
// four native-endian 32-bit words, each printed with "%.8x". On a
// little-endian machine (every illumos and Solaris port Go has) that
// reverses the bytes within each word, so it is not the usual hex digest.
func illumosHash(s string) string {
	sum := md5.Sum([]byte(s))
	const digits = "0123456789abcdef"
	var out [2 * md5.Size]byte
	for i := 0; i < md5.Size; i += 4 {
		w := binary.NativeEndian.Uint32(sum[i:])
		for j := 7; j >= 0; j-- {
			out[2*i+j] = digits[w&0xf]
			w >>= 4
		}
	}
	return string(out[:])
}

// FreeBSD (sys/kern/uipc_shm.c: kern_shm_open2, shm_copyin_path): objects
// live in the kernel, keyed by the whole name. The name must start with a
// slash (EINVAL); it may contain more slashes, which mean nothing. A name
// that does not fit MAXPATHLEN with its NUL is ENAMETOOLONG (copyinstr).
// The kernel also checks the flags: O_RDONLY or O_RDWR, nothing but
// O_CREAT, O_EXCL, O_TRUNC and O_CLOEXEC (EINVAL); we leave that to it.
func freebsdCheckName(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if name == "" || name[0] != '/' {
		return &NameError{Reason: "name does not start with \"/\"", Errno: syscall.EINVAL}
	}
	if len(name) >= pathMax {
		return &NameError{Reason: "name longer than MAXPATHLEN-1 (1023 bytes)", Errno: syscall.ENAMETOOLONG}
	}
	return nil
}

// darwinNameMax is PSHMNAMLEN in bsd/kern/posix_shm.c (xnu): the longest
// name, in bytes, that macOS keeps.
const darwinNameMax = 31

// darwinCheckName applies macOS's rules (pshm_get_name in xnu's
// bsd/kern/posix_shm.c): the kernel copies at most PSHMNAMLEN+1 bytes
// with the NUL, so a longer name is ENAMETOOLONG, and an empty one is
// EINVAL. No slash is required: "/x" and "x" are different objects. The
// kernel checks the flags itself (only an access mode of 3 is refused).
func darwinCheckName(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if name == "" {
		return &NameError{Reason: "empty name", Errno: syscall.EINVAL}
	}
	if len(name) > darwinNameMax {
		return &NameError{Reason: "name longer than PSHMNAMLEN (31 bytes)", Errno: syscall.ENAMETOOLONG}
	}
	return nil
}

// netbsdCheckDir is the decision of NetBSD's _shm_check_fs, given what
// statvfs(2) and stat(2) say of /var/shm: its f_fstypename must be
// "tmpfs" (MOUNT_TMPFS) and its mode must include 01777
// (SHMFS_DIR_MODE). Otherwise shm_open and shm_unlink fail with ENOTSUP.
// It returns why the directory is refused, or 0.
func netbsdCheckDir(fstypename string, mode uint32) (string, syscall.Errno) {
	if fstypename != "tmpfs" {
		return "file system is " + fstypename + ", not the tmpfs NetBSD's shm_open requires", syscall.ENOTSUP
	}
	if mode&netbsdDirMode != netbsdDirMode {
		return "directory mode lacks 01777, which NetBSD's shm_open requires", syscall.ENOTSUP
	}
	return "", 0
}

// illumosDirOwner decides whether a hashed directory of a long name, owned
// by uid with mode mode, is safe for the caller (effective uid euid) to
// work in, and returns why not, or "". Its owner can rename, remove and
// replace its entries at will, so it must be the caller's own, or root's
// with the sticky bit set (then nobody else can touch entries they do not
// own). libc makes these directories mode 0777 without the sticky bit, so
// one made by another user is refused.
func illumosDirOwner(uid, mode uint32, euid int) string {
	switch {
	case int64(uid) == int64(euid):
		return ""
	case uid == 0 && mode&syscall.S_ISVTX != 0:
		return ""
	case uid == 0:
		return "directory of a long name belongs to root without the sticky bit, so whoever may write to it could replace its entries; refusing it"
	}
	return "directory of a long name belongs to uid " + strconv.FormatUint(uint64(uid), 10) +
		", not to the caller (uid " + strconv.Itoa(euid) + ") or to root with the sticky bit: its owner could replace its entries; refusing it"
}
