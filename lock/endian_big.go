//go:build armbe || arm64be || m68k || mips || mips64 || mips64p32 || ppc || ppc64 || s390 || s390x || shbe || sparc || sparc64

package lock

// bigEndian: the state half (lower address) is the high half of a uint64.
const bigEndian = true
