//go:build !amd64 && !386 && !arm64

package futex

// Pause is a spin-wait hint to the CPU where it has one; on this
// architecture, a call that does nothing.
//
//go:noinline
func Pause() {}
