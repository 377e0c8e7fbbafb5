package pledge

import "golang.org/x/sys/unix"

// The generic ABI arm64 uses: every call it has is in rules_linux.go.
var (
	arch      = archInfo{audit: unix.AUDIT_ARCH_AARCH64}
	archRules []rule
)
