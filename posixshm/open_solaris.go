package posixshm

// illumos and Solaris libc keep objects in /tmp as .SHMD<name>, guarded by
// .SHML<name> lock files. This file also builds for GOOS=illumos, which
// satisfies the solaris build constraint.
var native Layout = newIllumosDir(illumosShmDir)
