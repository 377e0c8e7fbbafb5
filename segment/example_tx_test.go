package segment_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// A bank of accounts, one int64 each, that processes move money between.
// A transfer is a transaction: a process killed half-way through one
// leaves nothing half-done, because the next process to take the lock
// rolls it back first.
func ExampleSegment_Begin() {
	dir, err := os.MkdirTemp("", "posixshm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// An undo log of 1 KiB: room for 40 snapshots of 8 bytes.
	opts := &segment.Options{Layout: posixshm.Dir(dir), TxLog: 1024}
	s, err := segment.Create("/bank", 8*100, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	b, ne := s.Bytes(), binary.NativeEndian
	balance := func(i int) int64 { return int64(ne.Uint64(b[8*i:])) }

	transfer := func(from, to int, amount int64) error {
		tx, err := s.Begin()
		if err != nil && !errors.Is(err, lock.ErrOwnerDead) {
			return err
		}
		// With ErrOwnerDead, a process died in a transaction and Begin
		// rolled it back: the balances are consistent all the same.
		if balance(from) < amount {
			return tx.Abort() // nothing changed; releases the lock
		}
		// Record each account before changing it.
		if err := tx.Snapshot(8*from, 8); err != nil {
			tx.Abort()
			return err
		}
		ne.PutUint64(b[8*from:], uint64(balance(from)-amount))
		// Write records and writes in one call.
		var to8 [8]byte
		ne.PutUint64(to8[:], uint64(balance(to)+amount))
		if err := tx.Write(8*to, to8[:]); err != nil {
			tx.Abort() // puts back account from too
			return err
		}
		return tx.Commit()
	}

	ne.PutUint64(b[0:], 100) // account 0 opens with 100
	if err := transfer(0, 1, 30); err != nil {
		log.Fatal(err)
	}
	if err := transfer(1, 2, 50); err != nil { // too much: aborted
		log.Fatal(err)
	}
	fmt.Println(balance(0), balance(1), balance(2))

	// A transaction that is abandoned half-way, as a crash would leave
	// it, is rolled back by Abort (or, after a crash, by the next Begin or
	// Lock in any process).
	tx, _ := s.Begin()
	tx.Snapshot(0, 16)
	ne.PutUint64(b[0:], 0) // 70 gone...
	tx.Abort()             // ...and back
	fmt.Println(balance(0), balance(1), balance(2))
	// Output:
	// 70 30 0
	// 70 30 0
}
