//go:build !((arm && !arm.7) || mips || mipsle)

package lock

// Atomic64 reports whether 64-bit atomic operations are atomic between
// processes on this GOARCH, which New64 needs. It is false where Go
// emulates them with a lock inside the process (sync/atomic on 32-bit
// MIPS, and on ARM built for GOARM < 7 when the CPU lacks LDREXD/STREXD
// with LPAE): there New64 works in 32-bit mode on the state half.
const Atomic64 = true
