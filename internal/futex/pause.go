//go:build amd64 || 386 || arm64

package futex

// Pause tells the CPU that the caller spins on a word in memory: PAUSE on
// x86 (which also stops the memory-order mis-speculation that otherwise
// costs the spinner a pipeline flush when the word changes), YIELD on
// arm64. It takes some tens of cycles and touches no memory. Go has no
// public form of it: the runtime's procyield (the same instructions) is
// internal, and reachable only through go:linkname, which this module does
// not use; an assembly function of our own costs one call more.
func Pause()
