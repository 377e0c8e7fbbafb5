package segment

import "golang.org/x/sys/unix"

// SetNoRecordLocks makes this process judge attachments by PID, as on
// objects that take no record locks (macOS, FreeBSD), and returns a
// function that undoes it.
func SetNoRecordLocks() (undo func()) {
	noRecordLocks = true
	return func() { noRecordLocks = false }
}

// OFDLocks reports whether record locks belong to open file descriptions
// (Linux) rather than to processes (POSIX, and the openbsdsim build tag).
const OFDLocks = cmdSetLk != unix.F_SETLK

// SetAttachHook makes every open of this process call f between mapping
// the file and attaching to it, and returns a function that undoes it.
func SetAttachHook(f func()) (undo func()) {
	testHookAttach = f
	return func() { testHookAttach = nil }
}

// SetRemoveHook makes every removal of this process call f between its
// check that nobody is attached and its unlink, and returns a function
// that undoes it.
func SetRemoveHook(f func()) (undo func()) {
	testHookRemove = f
	return func() { testHookRemove = nil }
}

// SetClaimedHook makes every gated claim of this process (every open,
// not a create) call f between taking its slot and checking the name (and,
// for a segment that removes itself when unused, the other attachments),
// and returns a function that undoes it.
func SetClaimedHook(f func()) (undo func()) {
	testHookClaimed = f
	return func() { testHookClaimed = nil }
}

// SetDetachHook makes the last detach of each attachment of this process
// call f before it releases its claim, and returns a function that undoes
// it.
func SetDetachHook(f func()) (undo func()) {
	testHookDetach = f
	return func() { testHookDetach = nil }
}

// SetSizedHook makes every Create of this process call f once it has sized
// and mapped the new file, before it writes the header, and returns a
// function that undoes it.
func SetSizedHook(f func()) (undo func()) {
	testHookSized = f
	return func() { testHookSized = nil }
}

// SetPublishHook makes every Create of this process call f just before it
// publishes the header, and returns a function that undoes it.
func SetPublishHook(f func()) (undo func()) {
	testHookPublish = f
	return func() { testHookPublish = nil }
}

// OverflowBase is the file offset of the first overflow attachment's
// record-lock byte, and MaxOverflowProbes bounds one search for a free
// one.
const (
	OverflowBase      = overflowBase
	MaxOverflowProbes = maxOverflowProbes
)

// SetTxHook makes every step of this process's transactions (Snapshot,
// Write, Commit, Abort, recovery) call f with the step's name, and returns
// a function that undoes it.
func SetTxHook(f func(step string)) (undo func()) {
	testHookTx = f
	return func() { testHookTx = nil }
}
