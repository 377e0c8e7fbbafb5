// Package segment maps POSIX shared memory objects with a small versioned
// header in front of their data: magic, version, sizes, created-at, a
// shared refreshed-at stamp, on cache lines of their own a crash-robust
// lock word (package lock) and a notify word, a table of the processes
// attached to the segment, the name it was created under, and optionally
// an undo log for crash-atomic transactions.
//
// [Create], [Open] and [OpenOrCreate] create and attach to a segment by
// name; many processes may call OpenOrCreate at once and exactly one
// initialises it. Where the name leads is [Options].Layout: this system's
// own shm_open convention by default (so C programs that call shm_open with
// the same name open the same object), or OpenBSD's layout rooted at any
// directory with a posixshm.Dir.
//
//	s, err := segment.OpenOrCreate("/counter", 4096, nil)
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	if err := s.Lock(); errors.Is(err, lock.ErrOwnerDead) {
//		// the previous holder died holding the lock: repair s.Bytes(),
//		// or use transactions, which repair themselves (see below)
//	}
//	defer s.Unlock()
//
// # Why segments refresh themselves
//
// Mapping and using a shared memory object never updates its file times,
// and OpenBSD's daily(8) removes files in /tmp whose access time is more
// than 7 days old (3 in older releases): a week after creation a live
// object vanishes, and new processes get ENOENT. Segments refresh
// themselves as they are used: opening one, or taking its lock, sets the
// file's times to now when they are older than an interval (an hour by
// default), so daily(8) never deletes a segment in use; see
// [Segment.Refresh] for the policy and [Segment.KeepAlive] for processes
// that hold a segment without using it.
//
// # Who is attached
//
// Every process that opens a segment attaches to it, and Close detaches.
// The header's attachment table ([Slot], [Options].Slots entries, 64 by
// default) records each attached process, but the kernel decides who is
// attached: an attached process holds a write lock (a record lock, fcntl
// F_SETLK) on the one byte of the segment's file that stands for its slot,
// and the kernel drops that lock when the process dies, however it dies
// and in whichever PID namespace it runs. [Segment.Attached] and [Users]
// ask the kernel (F_GETLK) which of those locks are held, so they never
// count a dead process, nor miss a live one whose PID they cannot see.
// On Linux that lock is an open file description lock: it belongs to the
// descriptor's open file description, not to the process. A process that
// passes its segment's descriptor to a child (os/exec's ExtraFiles,
// SCM_RIGHTS; the package's descriptors are close-on-exec, so only a
// deliberate pass does this) stays attached as long as the child holds
// the descriptor, even after it was killed: its slot stays taken, Users
// lists it, the segment is not removed as unused, and a lock it held is
// recovered only once the child closes the descriptor or exits (in one
// run, 5.2 s after the kill, when the child exited). Let a child Open the
// segment itself. Where record locks are POSIX locks (OpenBSD), they
// belong to the process, and a child never holds its parent's.
// A process that finds every slot held by a live process attaches all the
// same, without a slot (the overflow count in the header records it, and
// it holds a lock on a byte past the end of the segment, so it counts as
// long as it lives).
//
// Only write locks count, and only a process that may write the file can
// take them. Anybody who may read it (a segment created with Perm 0644, an
// opener stopped halfway through attaching) can take read locks on any of
// its bytes, which count for nothing: Attached, Users and gc ask F_GETLK
// about a read lock, which a read lock does not conflict with, so they
// never see one as an attachment. A read lock does keep others from
// write-locking the bytes it covers; an opener passes such bytes (one
// failed try skips the whole lock, and the search for an overflow byte
// gives up after a few thousand tries, never a million), and an opener
// that finds no byte at all attaches "pinned": it keeps the removal gate
// (below) shared for as long as it is attached, so that nobody removes the
// segment meanwhile. A pinned attachment is invisible to other processes'
// Attached and Users, and its lock holder is judged dead once nobody holds
// the gate; removal waits until it has detached.
//
// All Segments of one file in a process share one descriptor, one mapping
// and one attachment. This matters where record locks are POSIX locks
// (OpenBSD, and elsewhere but Linux): they belong to the process, and the
// kernel drops ALL of a process's locks on a file when ANY of its
// descriptors of that file is closed. So the library never closes a
// descriptor that may lead to a file the process is attached to: as
// SQLite's unix VFS keeps one record per inode, the process keeps one
// record per file it holds record locks on (shared with package
// posixshm), and every descriptor the library opened and then refuses or
// no longer needs (a file refused because someone made a hard link to
// it, reached by another name or in a race; a retry; a size mismatch) is
// kept open on that record until the process's last Segment of the file
// is closed. At most 16 are kept per name: after that, the library
// refuses to open that name again (EAGAIN) until then, rather than keep
// more. Open refuses a file with more than one link, as the layouts'
// Open do, even one this process is attached to already.
//
// What remains is the program's own descriptors: one it opens itself
// (posixshm.Open, os.Open, a posixshm.Dir's Open, to call ReadHeader or
// Users on) and closes with Close drops the process's attachment in the
// eyes of every other process (its slot could be taken, a lock it holds
// taken over by a waiter, its segment removed when unused). Close such a
// descriptor with CloseFile, which keeps it open until the attachment
// ends (so each one stays open until then: a process that opens and
// closes the file again and again while attached, to ask Users every
// second, say, gathers a descriptor each time; ask [Segment.Attached]
// instead), or open the segment again with Open (which shares the
// attachment). Linux uses open file description locks (F_OFD_SETLK),
// which have no such trap; the package still shares one descriptor per
// file there, so that Linux runs the same code as OpenBSD (the build tag
// openbsdsim selects POSIX locks on Linux, to test them).
//
// macOS's and FreeBSD's own shm_open objects are kernel objects, not
// files, and take no record locks (fcntl F_SETLK fails with EBADF). There,
// and only there, attachments are judged by the PID in their slot, with
// kill(pid, 0): a process in another PID namespace, or a new process that
// was given a dead one's PID, then counts as attached, and attachments
// without a slot cannot be checked at all (each one ever made counts).
// A posixshm.Dir on those systems holds files, with record locks.
//
// # The lock
//
// The lock word (package lock, lock.New64) identifies its holder by
// attachment: the holder's slot (Tag = slot + 1) and the slot's generation
// (Stamp), written by the one compare-and-swap that takes the lock. A
// waiter that has waited Options.StaleAfter asks the kernel whether the
// holder's attachment lock is still held (F_GETLK), and recovers the lock
// with lock.ErrOwnerDead when it is not, or when the slot's generation
// has moved on. So a holder in another PID namespace (a container sharing
// /dev/shm) is judged by its record lock, never by a PID that means
// something else here; a new process given a dead holder's PID is a new
// attachment with a slot of its own; and the check needs pledge's "flock"
// promise, never "proc": no kill(2), no /proc. An attachment without a
// slot holds the lock as the byte it locks past the segment's end; a
// pinned one as its PID, and counts as alive while anybody else holds the
// removal gate (which readers can make last). No
// attachment takes the slot (or byte) of a holder that died holding the
// lock until a waiter has recovered it.
//
// The lock belongs to the process's attachment: goroutines of the process
// exclude each other in Lock, and any of its Segments of the file may
// Unlock. Other processes recover it (ErrOwnerDead) as soon as the
// attachment ends: when the process dies, or closes its last Segment of
// the file while holding the lock.
//
// Where 64-bit atomics do not reach across processes (lock.Atomic64
// false: ARM before v7, 32-bit MIPS) the word records the slot alone (with
// lock's narrow bit, so that a process built with 64-bit atomics on the
// same machine judges such a holder by its record lock alone), and
// one window is left: a waiter that has just found the holder's record
// lock gone may take over the lock of a new attachment that, meanwhile,
// took the same slot after the holder unlocked and detached, and locked
// (identity.go). On macOS's and FreeBSD's kernel objects the check falls
// back to kill(pid, 0) on the PID the holder's slot records.
//
// Under OpenBSD's pledge(2), a process using segments in a directory
// needs "stdio rpath wpath cpath" to open and create them, "fattr" to
// refresh them and "flock" for attachments, the lock's stale check and
// removal when unused; "proc" is never needed.
//
// # Waiting for data
//
// The header's notify line holds package lock's notify word and a
// notification count. [Segment.Wait] and [Segment.WaitContext] make the
// segment's lock a condition variable (a lock.Cond over the notify word):
// a process checks a condition on the data under the lock, and while it
// does not hold, waits, which releases the lock and takes it again once
// another process has changed the data and called [Segment.Notify] or
// [Segment.NotifyAll]:
//
//	s.Lock()
//	for !ready(s.Bytes()) {
//		s.Wait() // releases the lock while it sleeps
//	}
//	... take what is ready ...
//	s.Unlock()
//	s.NotifyAll() // if others wait for what this changed
//
// As with any condition variable, a return from Wait is a hint: check the
// condition again. There is one notify word per segment, so waiters for
// different conditions share it: NotifyAll wakes them all (use it when not
// every waiter can act on the change); Notify wakes one. Nothing is
// recorded per waiter in shared memory, so a waiter killed at any point
// leaves nothing behind, and a notifier never waits for anyone; a wake-up
// lost to a process killed at the wrong moment costs the waiters at most
// Options.StaleAfter (lock.DefaultRecheck, 100 ms, if 0), after which each
// looks at the notify word by itself. A notification with nobody waiting
// makes no system call: it adds 1 to the count and loads the notify word.
//
// [Segment.WaitNotification] waits without the lock, for a notification
// made after a mark taken with [Segment.Notifications]: it is for
// processes with nothing to check under the lock, such as posixshm wait,
// which shell scripts and cron jobs use to wake each other. Processes
// using package lock's Cond and Semaphore on words of their own in the data
// region coordinate just as well: the notify word is for the common case.
//
// Sleeping does not refresh the segment (see [Segment.Refresh]); waking
// up does, since it takes the lock (or, for WaitNotification, counts as
// use). A process that may wait longer than the refresh interval while
// nobody else uses the segment, on a system that cleans /tmp as OpenBSD's
// daily(8) does, should keep it alive with [Segment.KeepAlive], as
// posixshm wait does.
//
// # Removing unused segments
//
// A segment created with [Options].RemoveWhenUnused removes its file when
// its last live user detaches. If its users all die without closing it,
// the next process to open it finds every other attachment dead, removes
// it and starts afresh. Any other segment can be removed once nobody is
// attached with [RemoveUnused], which is what "posixshm gc" does. Users
// are the processes attached through this package: a program that maps
// the same file by other means (C, Python) takes no slot and is not
// counted, so the file can be removed while such a program maps it (its
// mapping stays valid; the name no longer leads to it).
// Attachment and removal follow one rule, under a record lock on the
// file's first byte (the removal gate: every opener holds it shared while
// it attaches, a remover exclusively), so that no process is ever left
// attached to a removed segment while others create a new one under its
// name; see remove.go.
//
// Nothing waits for the gate for ever. Whoever may read the file may hold
// it shared for as long as it likes (only processes that may write the
// file can hold it exclusively, and removers, creators and openers hold it
// for a few system calls). Close then waits at most a second for it, and
// while it waits other Segments of the process open and close as usual;
// if it cannot have the gate it leaves the segment, detached and intact,
// and returns an error wrapping [ErrNotRemoved]: the next user (who finds
// every other attachment dead) or gc removes it. An opener that finds
// every other attachment dead and cannot have the gate at once attaches to
// the segment as it is. Openers wait for the gate shared, which only a
// writer blocks, at most a second, then fail with syscall.EAGAIN. So a
// reader can postpone removal for as long as it holds the gate. It can
// also deny one thing more: the recovery of a pinned holder's lock. A
// reader that read-locks every slot byte and the overflow range makes
// every new opener attach pinned, and a pinned holder is judged dead only
// once nobody else holds the gate shared: a pinned holder killed holding
// the lock is not recovered while the reader holds the gate, or while
// another pinned attachment lives, and the lock's waiters wait until then
// (Lock for ever, LockContext until its context ends). Record locks
// cannot tell a reader's read lock from a pinned attachment's, and no
// byte is safe from a read lock, so nothing better is known that never
// takes a live holder's lock; keep segments whose lock matters from
// users who must not hold it up (Perm 0600, the default).
//
// # Creators that die
//
// Creation is atomic where the layout's objects are files in a directory
// (every posixshm.Dir, and the system conventions of Linux, OpenBSD,
// NetBSD, DragonFly and illumos): Create and OpenOrCreate build the
// segment complete, sized, with its header published and the creator
// attached, in a file its name does not lead to, and then link(2) it
// onto the name (posixshm.CreateUnnamed); a name that exists by then
// makes the link fail, as O_EXCL would, and OpenOrCreate opens the
// segment that is there. A creator killed at any moment leaves no
// segment, or a complete one: never a name that the next OpenOrCreate
// cannot open. On Linux the file being built has no name at all
// (O_TMPFILE). Elsewhere (OpenBSD) it has a temporary name in the same
// directory, .posixshm-new- and 64 hex digits, one per segment name, and
// its creator holds a record lock on it until it is linked: the next
// creator of the name removes one whose creator died, and so does
// posixshm gc, and a creator that finds a live one waits for it, up to
// Options.InitTimeout, and then fails with ErrNotInitialized.
//
// Layouts that cannot link (macOS's and FreeBSD's kernel objects, and
// layouts of the caller's own) create the file under its name, empty, and
// then size it and publish the header. There the creator holds a write
// lock on the file's first byte from just after it creates the file until
// it has published the header. An opener that finds the header
// unpublished waits (up to Options.InitTimeout) only while that lock is
// held; once the creator has died, it removes the file if what the
// creator wrote says the segment removes itself when unused (nobody can
// be attached to it yet), and otherwise fails with ErrNotInitialized at
// once. A creator killed between creating the file and taking the lock
// leaves an empty file, and one killed before it wrote the header a file
// of zeros; macOS's and FreeBSD's objects take no record locks at all, so
// there every creator that dies before it publishes leaves such a file.
//
// An empty file, or one of zeros, cannot be told from another program's
// new object (shm_open and ftruncate make exactly that), so wherever it
// comes from (such a layout, another program, an earlier release of this
// package) nothing removes it: opening it fails with ErrNotInitialized,
// and it stays until somebody removes it. Only a file that carries a
// header our creator wrote, with the creation lock free, is taken for
// abandoned: removed by the next opener if it removes itself when unused,
// and by posixshm gc once idle.
//
// # Transactions: updates a crash cannot leave half-done
//
// A segment created with [Options].TxLog has an undo log (located by the
// header, see [HeaderSize]), and its data can be changed in transactions,
// as PMDK's libpmemobj changes persistent memory with
// pmemobj_tx_add_range: [Segment.Begin] takes the lock; [Tx.Snapshot]
// records bytes of the data region before the caller changes them
// ([Tx.Write] records and writes); [Tx.Commit] keeps the changes and
// [Tx.Abort] puts the recorded bytes back, and both release the lock.
//
//	tx, err := s.Begin()
//	if err != nil && !errors.Is(err, lock.ErrOwnerDead) {
//		return err // (with ErrOwnerDead a dead holder's transaction was rolled back)
//	}
//	b := s.Bytes()
//	tx.Snapshot(from, 8) // before changing b[from:from+8]
//	tx.Snapshot(to, 8)
//	put(b[from:], get(b[from:])-amount)
//	put(b[to:], get(b[to:])+amount)
//	return tx.Commit()
//
// A process killed at any instant of a transaction leaves the log able to
// put back exactly the bytes the data had before it, or an empty log and
// the transaction's bytes. The next process to take the lock (Begin, Lock,
// TryLock, LockContext or Wait) replays the dead holder's log, newest
// entry first, before it returns: it gets a [*RollbackError], which
// matches lock.ErrOwnerDead and says how many bytes were put back, and
// consistent data, not a repair job.
//
// The log lies at the header's TxLogOffset, TxLogSize bytes: a 64-byte
// control line, whose first 4 bytes are the head word (0: empty; else 1 +
// the offset of the newest entry in the entry area), then the entry area,
// entries one after another from its offset 0, each at a multiple of 8:
//
//	offset size field
//	     0    8 data offset of the recorded bytes, in the data region
//	     8    4 their length n
//	    12    4 link: 1 + the offset of the entry before, 0 for the first
//	    16    n the bytes as they were, then padding to a multiple of 8
//
// Memory outlives a process, so unlike persistent memory nothing needs
// flushing: only the order of the stores matters, and it is this:
//
//	Begin     B1  lock word: the compare-and-swap that takes the lock
//	Snapshot  S1  the entry's header (data offset, length, link to the
//	              entry before) into the log, past its published entries
//	          S2  the old bytes of the range into the entry
//	          S3  the log's head word := 1 + the entry's offset: an atomic
//	              (release) store, after S1 and S2 in program order
//	(caller)  W   the caller's own stores into the range, only after
//	              Snapshot has returned (Write makes them itself, after S3)
//	Commit    C1  head := 0, atomically: the commit point
//	          C2  lock word: the compare-and-swap that releases the lock
//	Abort and R1  for each entry the head reaches, newest first: its old
//	recovery      bytes into the data region
//	          R2  head := 0, atomically
//	          R3  (Abort) the lock word is released; (recovery) the lock
//	              call returns
//
// Why a crash between any two instructions is safe: a process killed by
// SIGKILL stops between two instructions, and every store it made before
// is in the shared memory (the stores of one thread reach memory in the
// order it made them as far as anyone who learns of its death can tell:
// the kernel releases its record locks, by which a waiter judges it dead,
// only after it has stopped, and the atomics order the compiler's stores).
// Take any point:
//
//   - Before S3 of entry k, the head reaches entries 1 to k-1, each written
//     whole before its own S3; the bytes of entry k may be torn, but no link
//     leads to them. The caller has changed no byte outside ranges 1 to k-1
//     (it changes a range only after its Snapshot returned), and the first
//     entry that covers a byte recorded it before any change: so replaying
//     1 to k-1 newest first leaves every byte with its value from before
//     the transaction. Between S3 of entry k and C1 the same holds with
//     entries 1 to k.
//   - After C1 the log is empty and the data are the transaction's: a
//     holder killed before C2 leaves nothing to roll back, and its
//     successor is told so (RollbackError.Entries 0).
//   - During R1, nothing changes the log (entries lie outside the data
//     region, and R1 writes only there), so a recovery killed half-way is
//     redone whole by the next process to take the lock: replaying is
//     idempotent. After R2 the log is empty and the data are as before.
//
// The head word is 32 bits, atomic on every platform, 32-bit ones without
// 64-bit atomics included. The log's entries are checked before they are
// replayed (inside the log, one after another from its start, ranges inside
// the data region): a log another writer scribbled on gives ErrCorrupt
// (inside the RollbackError) and is emptied unreplayed, never a fault. A
// file truncated under the log makes the transaction's methods fail with
// ErrTruncated.
//
// What stays the caller's job: changes made without a transaction (under
// Lock) are not recorded, so a process that dies in the middle of them
// leaves them half-done, as before; effects outside the segment (files
// written, messages sent, memory of the process) are not rolled back, so
// make them after Commit, or make them repeatable; and a range must be
// recorded before it is changed. The lock belongs to the process's
// attachment, and so does a transaction: while one is open, Begin and Lock
// of the process's other goroutines wait; a Tx is used by one goroutine at
// a time. Where 64-bit atomics do not reach across processes (lock.Atomic64
// false) the lock's one window (see above) is also a transaction's: a
// waiter that took over a live holder's lock would roll back that
// holder's transaction under it.
//
// # Errors
//
// Errors are *fs.PathError values whose Path is the caller's name. A file
// that is not a segment, or is corrupt, truncated or of another version,
// gives one of the sentinels [ErrNotSegment], [ErrVersion], [ErrTruncated],
// [ErrSizeMismatch], [ErrNotInitialized] and [ErrCorrupt], wrapped in an
// error that names the file; [ReadHeader] documents which check gives
// which. Version 1 segments, written by earlier releases, give ErrVersion:
// remove them and create them again. Version 2 segments, written by the
// release before this one, open and work as before; they lack what
// version 3 added (see [HeaderSize]): the name they were created under
// and an undo log, so [Segment.Begin] refuses them with [ErrNoTxLog].
// Errors of the layout's shm_open are passed on as package posixshm
// returns them.
//
// A fault is an error, too. Another process that may write a segment's
// file can truncate it under the mapping, and touching a mapped page past
// the end of a file raises SIGBUS, which would crash the program. Every
// access of the package to the header, the table and the words (Lock,
// Unlock, Wait, Notify, Refresh, Close, Stat, opening a segment this
// process has open already, creating one in a temporary file that others
// may truncate, a transaction's methods and the undo log's replay, ...)
// runs under debug.SetPanicOnFault and
// returns an error wrapping ErrTruncated instead; a lock waiter asleep on
// the word finds out within its stale interval. The calls that return no
// error do nothing (Notify, NotifyAll) or return 0 (Notifications). What
// remains the caller's: its own accesses to [Segment.Bytes], which fault
// as any mapping does, and package lock's words of its own in the data
// region. [Segment.ReadAt] and [Segment.WriteAt] copy in and out of the
// data region and return ErrTruncated where Bytes would fault.
//
// A full file system faults too. A new segment's file is sparse: tmpfs
// (Linux's /dev/shm, OpenBSD's mfs or tmpfs /tmp) charges each page when
// it is first touched, so Create succeeds for a segment larger than the
// memory left, and a store into a page that cannot be had raises SIGBUS
// (writing through WriteAt returns ErrTruncated). [Options.Prealloc]
// reserves the whole file when it is created, before it gets its name: a
// shortage is then ENOSPC from Create, which leaves nothing behind, and
// no access faults for want of space afterwards.
//
// The guard is not free on the lock's uncontended path: Lock and Unlock
// each pay two calls of SetPanicOnFault and a deferred call, about 8-13 ns
// together on a 2-core VM, next to the 2.5-3 ns of each compare-and-swap
// of a bare lock.Mutex (see BenchmarkSegment_LockUnlockRatio). Nothing
// cheaper catches a fault: SetPanicOnFault is per goroutine and must be
// put back, and only a deferred call can recover.
package segment
