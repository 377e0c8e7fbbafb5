//go:build (arm && !arm.7) || mips || mipsle

package lock

// Atomic64 reports whether 64-bit atomic operations are atomic between
// processes on this GOARCH, which New64 needs. It is false here: Go
// implements them with a lock inside the process (always on 32-bit MIPS;
// on ARM built for GOARM < 7 unless the CPU at run time has LDREXD/STREXD
// with LPAE, which cannot be known when compiling), so New64 works in
// 32-bit mode on the state half.
const Atomic64 = false
