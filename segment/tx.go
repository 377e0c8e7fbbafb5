package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"unsafe"

	"github.com/posixshm/posixshm/internal/memfault"
	"github.com/posixshm/posixshm/lock"
)

// Errors of transactions. They reach the caller inside an *fs.PathError
// whose Op names the method; test for them with errors.Is.
var (
	// ErrNoTxLog: the segment has no undo log, so it cannot run
	// transactions. Create it with Options.TxLog; version 2 segments,
	// written by an earlier release, never have one.
	ErrNoTxLog = errors.New("segment has no undo log (create it with Options.TxLog)")
	// ErrTxLogFull: the undo log has no room for the snapshot. Nothing
	// was recorded for it, so the range must not be changed; the
	// transaction stays open, and Abort rolls back what it changed so far
	// (Commit keeps it). Create the segment with a larger Options.TxLog.
	ErrTxLogFull = errors.New("undo log full")
	// ErrTxRange: the range is not inside the data region.
	ErrTxRange = errors.New("range outside the data region")
	// ErrTxDone: Commit or Abort has ended the transaction.
	ErrTxDone = errors.New("transaction already committed or aborted")
	// ErrTxAbandoned: the undo log still holds a transaction whose holder
	// unlocked the segment without Commit or Abort (Segment.Unlock in the
	// middle of a transaction). Snapshot refuses to add to it; Abort rolls
	// it back, after which transactions work again.
	ErrTxAbandoned = errors.New("undo log holds a transaction its holder left open (unlocked without Commit or Abort): Abort rolls it back")
)

// A Tx is a transaction on a segment's data: changes that other processes
// taking the lock see all or none of, even if the process making them is
// killed half-way (see the package documentation). Begin starts it and takes the lock;
// before changing bytes of the data region, record them with Snapshot (or
// change them with Write, which does both); Commit keeps the changes,
// Abort rolls them back, and both release the lock.
//
// The lock belongs to the process's attachment (see Segment), and so does
// a transaction: while one is open, Begin and Lock of the process's other
// goroutines wait, as they would for Lock. A Tx is for one goroutine at a
// time (it may be handed over, as a locked lock may); other goroutines
// must not touch the data while it is open. The lock is not reentrant:
// Begin while the process holds the lock waits for ever, as Lock would.
// End a transaction with Commit or Abort, never with Segment.Unlock, and
// do not Wait in one (Wait releases the lock): that leaves the transaction
// in the log while others take the lock, and the next transaction's first
// Snapshot fails with ErrTxAbandoned until an Abort rolls it back. After
// Segment.Unlock the Tx's methods fail with an error wrapping
// lock.ErrNotHeld and write nothing, since the log and the data may be
// another holder's by then. A Tx
// must not be used after Commit or Abort has returned: the segment's next
// Begin returns the same Tx (Begin allocates nothing).
type Tx struct {
	s    *Segment
	head *uint32 // the undo log's head word (txlog.go), in the mapping
	ent  []byte  // the log's entry area, in the mapping
	data []byte  // the data region

	// The log as this transaction wrote it: end bytes of entries, the head
	// value of the newest (0: none) and the range it covers.
	end            int
	last           uint32
	lastOff, lastN int
	open           bool
}

// setupTx prepares s.tx for a segment whose attachment has an undo log.
func (s *Segment) setupTx(a *attachment) {
	if a.logSize == 0 {
		return
	}
	s.tx = Tx{
		s:    s,
		head: (*uint32)(unsafe.Pointer(&a.mem[a.logOff])),
		ent:  a.mem[a.logOff+logControl : a.logOff+a.logSize : a.logOff+a.logSize],
		data: s.data,
	}
}

// Begin takes the segment's lock, waiting as Lock does, and starts a
// transaction. The segment must have an undo log (Options.TxLog); else
// Begin fails with ErrNoTxLog, without the lock.
//
// If the previous holder of the lock died, Begin (like Lock) first rolls
// back the transaction it left open, and returns a usable Tx together
// with a *RollbackError, which matches lock.ErrOwnerDead with errors.Is
// and says how many bytes were restored: the data is then as it was
// before that transaction (or as the holder's last Commit left it, if it
// had none open). Any other error comes without a Tx or the lock. If
// there is an error other than a *RollbackError, it will be of type
// *fs.PathError.
func (s *Segment) Begin() (*Tx, error) {
	tx := &s.tx
	if tx.head == nil {
		return nil, &fs.PathError{Op: "begin", Path: s.name, Err: ErrNoTxLog}
	}
	// Lock rolls back a dead holder's transaction (lockError).
	err := s.Lock()
	if err != nil && !errors.Is(err, lock.ErrOwnerDead) {
		return nil, err
	}
	tx.start()
	return tx, err
}

// start opens the transaction; the caller has just taken the lock.
func (tx *Tx) start() {
	raceAcquire(unsafe.Pointer(tx))
	tx.end, tx.last, tx.lastN, tx.open = 0, 0, 0, true
}

// Snapshot records the bytes Bytes()[off:off+n] in the undo log, as they
// are now, so that Abort, or the recovery after a crash, can put them
// back; change them only after Snapshot has returned nil. A range inside
// the one recorded last needs no new entry. It fails with an error
// wrapping ErrTxRange if the range is not inside the data region,
// ErrTxLogFull if the log has no room for it, ErrTxAbandoned (see Tx),
// ErrTxDone after Commit or Abort, fs.ErrClosed after Close,
// lock.ErrNotHeld if the lock was released under it (see Tx), and
// ErrTruncated if the segment's file was truncated under it; nothing is
// recorded then, and the transaction stays open (Abort rolls it back).
// The error will be of type *fs.PathError.
func (tx *Tx) Snapshot(off, n int) error { return tx.record("snapshot", off, n, nil) }

// Write records Bytes()[off:off+len(b)] as Snapshot does, then copies b
// there. It fails as Snapshot does, and then copies nothing (but for
// ErrTruncated, which may stop the copy part-way: Abort puts it back).
func (tx *Tx) Write(off int, b []byte) error { return tx.record("write", off, len(b), b) }

// record is Snapshot (b nil) and Write.
func (tx *Tx) record(op string, off, n int, b []byte) (err error) {
	if err := tx.usable(op); err != nil {
		return err
	}
	if off < 0 || n < 0 || off > len(tx.data)-n {
		// (Not off+n, which may overflow.)
		return tx.error(op, fmt.Errorf("%d bytes at %d, in a data region of %d: %w", n, off, len(tx.data), ErrTxRange))
	}
	// Inside the newest entry's range: its old bytes are older still.
	covered := n == 0 || tx.lastN != 0 && off >= tx.lastOff && off+n <= tx.lastOff+tx.lastN
	// (n first: entrySize of a huge n would overflow a 32-bit int.)
	if !covered && (n > len(tx.ent) || entrySize(n) > len(tx.ent)-tx.end) {
		return tx.error(op, fmt.Errorf("%d bytes need %d bytes of the undo log, %d of %d are left: %w",
			n, entryHeader+(int64(n)+7)&^7, len(tx.ent)-tx.end, len(tx.ent), ErrTxLogFull))
	}
	// The log and the data are in the mapping: a file truncated under
	// them is an error (fault.go), with the cheap guard of the lock's
	// paths, since Snapshot is as hot.
	g := faultGuard{old: debug.SetPanicOnFault(true)}
	defer g.end(tx.s, op, &err)
	if !covered {
		if tx.end == 0 && atomic.LoadUint32(tx.head) != 0 {
			g.done = true
			return tx.error(op, ErrTxAbandoned)
		}
		tx.append(off, n)
	}
	if b != nil {
		tx.copyIn(off, b)
	}
	g.done = true
	return nil
}

// append writes the entry for data[off:off+n] after the log's last one
// and publishes it: the order of stores the package documentation argues
// for. The caller has checked the range and the room.
func (tx *Tx) append(off, n int) {
	e := tx.ent[tx.end:]
	putEntryHeader(e, off, n, tx.last)
	txStep("snapshot: entry header written")
	if n == 8 { // one word, the common case, without a call of memmove
		binary.NativeEndian.PutUint64(e[entryHeader:], binary.NativeEndian.Uint64(tx.data[off:]))
	} else {
		copy(e[entryHeader:entryHeader+n], tx.data[off:off+n])
	}
	txStep("snapshot: old bytes written")
	// Publish: a release store, after every byte of the entry. Only now
	// may the caller change the range.
	head := uint32(tx.end) + 1
	atomic.StoreUint32(tx.head, head)
	txStep("snapshot: published")
	tx.last, tx.end = head, tx.end+entrySize(n)
	tx.lastOff, tx.lastN = off, n
}

// copyIn is Write's copy; a test hook can stop it half-way.
func (tx *Tx) copyIn(off int, b []byte) {
	if testHookTx != nil && len(b) > 1 {
		copy(tx.data[off:], b[:len(b)/2])
		txStep("write: half written")
		b, off = b[len(b)/2:], off+len(b)/2
	}
	copy(tx.data[off:], b)
}

// Commit ends the transaction, keeping its changes, and releases the lock.
// The changes are durable from the store that empties the log: a process
// killed after it leaves them in place, one killed before leaves them to
// be rolled back. It fails with ErrTxDone after Commit or Abort, and
// lock.ErrNotHeld if the lock was released under it (see Tx), without
// touching the log or the lock; and with ErrTruncated if the file was
// truncated under the log (the lock is released all the same). The error
// will be of type *fs.PathError.
func (tx *Tx) Commit() error {
	if err := tx.usable("commit"); err != nil {
		return err
	}
	var err error
	if tx.end != 0 {
		txStep("commit: about to empty the log")
		err = tx.empty()
		txStep("commit: log emptied")
	}
	return tx.finish("commit", err)
}

// empty stores 0 into the log's head: Commit's commit point.
func (tx *Tx) empty() (err error) {
	g := faultGuard{old: debug.SetPanicOnFault(true)}
	defer g.end(tx.s, "commit", &err)
	atomic.StoreUint32(tx.head, 0)
	g.done = true
	return nil
}

// Abort ends the transaction, putting back every byte it recorded, newest
// snapshot first, and releases the lock. It fails with ErrTxDone after
// Commit or Abort, and lock.ErrNotHeld if the lock was released under it
// (see Tx), without touching the log, the data or the lock; with
// ErrCorrupt if the log was overwritten by someone else (nothing is rolled
// back then, and the log is emptied) and ErrTruncated if the file was
// truncated under it, releasing the lock in both cases. The error will be
// of type *fs.PathError.
func (tx *Tx) Abort() error {
	if err := tx.usable("abort"); err != nil {
		return err
	}
	var err error
	if _, _, hf := tx.s.rollback("abort: "); hf != nil {
		hf.File = tx.s.path
		err = tx.error("abort", hf)
	}
	return tx.finish("abort", err)
}

// finish ends the transaction and releases the lock; err is what went
// wrong before.
func (tx *Tx) finish(op string, err error) error {
	tx.open = false
	raceRelease(unsafe.Pointer(tx))
	if uerr := tx.s.Unlock(); uerr != nil && err == nil {
		err = &fs.PathError{Op: op, Path: tx.s.name, Err: uerr}
	}
	return err
}

// usable checks that the transaction is open on an open segment.
func (tx *Tx) usable(op string) error {
	switch {
	case !tx.open:
		return tx.error(op, ErrTxDone)
	case tx.s.state.Load()&stClosed != 0:
		return tx.error(op, fs.ErrClosed)
	case tx.s.mu.Holder().Tag != tx.s.att.Self().Tag:
		// Released under the transaction (Segment.Unlock): the log and
		// the data may be another holder's now. One atomic load.
		return tx.error(op, fmt.Errorf("the lock was released in the middle of the transaction: %w", lock.ErrNotHeld))
	}
	return nil
}

func (tx *Tx) error(op string, err error) error {
	return &fs.PathError{Op: op, Path: tx.s.name, Err: err}
}

// rollback replays the undo log backwards, if it holds a transaction, and
// empties it. The caller holds the lock. steps prefixes the test hook's
// step names. A log that does not check (walkLog) is emptied without
// replaying anything, and reported as ErrCorrupt: only another writer
// scribbling on it can make it so.
func (s *Segment) rollback(steps string) (entries, n int, hf *headerError) {
	tx := &s.tx
	if !memfault.Catch(func() {
		head := atomic.LoadUint32(tx.head)
		if head == 0 {
			return
		}
		var problem string
		if _, _, problem = walkLog(tx.ent, head, len(tx.data), nil); problem == "" {
			// Idempotent: every entry puts back bytes from the log, which
			// nothing changes until the head is 0, so a recovery killed
			// half-way is redone whole by the next. The counts are those
			// of the entries put back.
			entries, n, problem = walkLog(tx.ent, head, len(tx.data), func(off int, old []byte) {
				copy(tx.data[off:], old)
				txStep(steps + "entry restored")
			})
		}
		if problem != "" {
			what := "not rolled back"
			if entries != 0 { // changed between the walks: a writer at work
				what = "rolled back in part"
			}
			hf = fault(ErrCorrupt, "undo log: "+problem+" ("+what+": repair the data)")
		}
		atomic.StoreUint32(tx.head, 0)
		txStep(steps + "log emptied")
	}) {
		hf = fault(ErrTruncated, errTruncatedMapped)
	}
	return entries, n, hf
}

// recoverTx finishes a lock call that took the lock over from a dead
// holder (err matches lock.ErrOwnerDead) on a segment with an undo log:
// it rolls back the transaction the holder left open.
func (s *Segment) recoverTx(err error) error {
	entries, n, hf := s.rollback("recover: ")
	re := &RollbackError{Name: s.name, Entries: entries, Bytes: n, Err: err}
	if hf != nil {
		re.Log = segmentError(s.name, s.path, hf)
	}
	return re
}

// A RollbackError is the error of Begin, Lock, TryLock, LockContext and
// Wait on a segment with an undo log when they took the lock over from a
// holder that died: errors.Is(err, lock.ErrOwnerDead) holds and the lock
// is held, as without a log, but the transaction the holder left open has
// been rolled back first. Entries and Bytes say how much was put back: 0
// means the holder had no transaction open, so the data is as its last
// Commit left it (unless it changed the data without a transaction, under
// Lock). Log is not nil if the log could not be replayed (it wraps
// ErrCorrupt or ErrTruncated): the data may then be half-changed, as
// without a log, and Entries and Bytes count only what was put back.
type RollbackError struct {
	Name    string // the segment's name
	Entries int    // snapshots rolled back
	Bytes   int    // bytes they restored
	Err     error  // the lock's error: a *lock.OwnerDeadError
	Log     error  // why the log was not replayed, or nil
}

func (e *RollbackError) Error() string {
	who := "previous lock holder"
	var od *lock.OwnerDeadError
	if errors.As(e.Err, &od) && od.PID != 0 {
		who += " (pid " + strconv.Itoa(od.PID) + ")"
	}
	s := "segment " + e.Name + ": " + who + " died; lock acquired"
	switch {
	case e.Log != nil:
		return s + "; its undo log was not replayed (" + e.Log.Error() + "): repair the protected data"
	case e.Entries == 0:
		return s + "; it had no transaction open: the data is as its last commit left it, apart from what it changed under a plain Lock"
	}
	return s + "; its transaction was rolled back (" + strconv.Itoa(e.Entries) + " snapshots, " +
		strconv.Itoa(e.Bytes) + " bytes): the data is as it was before that transaction"
}

// Unwrap gives the lock's error and the log's.
func (e *RollbackError) Unwrap() []error {
	if e.Log != nil {
		return []error{e.Err, e.Log}
	}
	return []error{e.Err}
}

// testHookTx, if set, is called at each step of Snapshot, Write, Commit,
// Abort and recovery: the crash tests stop the process there.
var testHookTx func(step string)

func txStep(step string) {
	if testHookTx != nil {
		testHookTx(step)
	}
}
