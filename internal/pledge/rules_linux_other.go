//go:build linux && !amd64 && !arm64

package pledge

// No table for this architecture yet: Supported reports it and Confine
// refuses. A table needs the AUDIT_ARCH value and, for numbers that differ
// from the generic ABI, its own list as in rules_linux_amd64.go.
var (
	arch  archInfo
	rules []rule
)
