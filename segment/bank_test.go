package segment_test

// The bank of the crash tests: accounts moved between in transactions,
// with a journal of the committed transfers kept in the same segment and
// changed in the same transactions, so that the journal is exactly as
// crash-consistent as what it checks.
//
// The data region, in native-endian 64-bit words:
//
//	offset         what
//	     0         stop: set by the parent (atomically, outside the lock) to end the workers
//	     8         seq: transfers committed so far
//	    64         balances of bankAccounts accounts
//	    64+8000    checkpoint: each account's balance before the transfers still in the ring
//	    64+16000   ring: the last bankRing committed transfers, transfer seq in record (seq-1) % bankRing
//
// A record (bankRecord bytes): seq, nonce (random, reported by the
// committer to the parent), legs k (2 to 16), k account numbers (16-bit),
// k signed amounts that sum to 0. A transfer that overwrites a record of
// the ring first folds it into the checkpoint, in the same transaction.
//
// So, whatever happened, at every moment under the lock:
//   - the balances sum to bankAccounts*bankInitial;
//   - every balance is its checkpoint plus the amounts of the ring's
//     records for that account: the balances are exactly the committed
//     transfers (a transaction half-applied, or half-rolled-back, shows as
//     a balance, a checkpoint or a record out of step);
//   - the ring holds transfers seq-bankRing+1 to seq, each in its place,
//     each summing to 0;
//   - every transfer a process reported committed is still there (its
//     nonce in its record while the ring holds it; seq never goes back).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"unsafe"

	"github.com/posixshm/posixshm/segment"
)

const (
	bankAccounts = 1000
	bankInitial  = 1000
	bankRing     = 64
	bankRecord   = 192
	bankMaxLegs  = 16

	bankStop       = 0
	bankSeq        = 8
	bankBalances   = 64
	bankCheckpoint = bankBalances + 8*bankAccounts
	bankRingOff    = bankCheckpoint + 8*bankAccounts
	bankSize       = bankRingOff + bankRing*bankRecord
	// The most a transfer logs: the record, seq, and the balances and
	// checkpoints of 16 accounts, each with a 16-byte entry header.
	bankTxLog = (16 + bankRecord) + (16 + 8) + 2*bankMaxLegs*(16+8)
)

var ne = binary.NativeEndian

func word(b []byte, off int) int64 { return int64(ne.Uint64(b[off:])) }

// bankInit sets the balances and checkpoints of a new bank.
func bankInit(b []byte) {
	for i := range bankAccounts {
		ne.PutUint64(b[bankBalances+8*i:], bankInitial)
		ne.PutUint64(b[bankCheckpoint+8*i:], bankInitial)
	}
}

// bankStopped reports whether the parent has said stop.
func bankStopped(b []byte) bool {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&b[bankStop]))) != 0
}

// bankTransfer runs one transfer in tx: 2 to maxLegs random accounts, random
// amounts summing to 0, the record in the ring (folding the one it
// replaces into the checkpoint), seq. It returns the transfer's seq and
// nonce. It uses Write for some changes and Snapshot with a change by
// hand for others, as callers do.
func bankTransfer(tx *segment.Tx, b []byte, rng *rand.Rand, maxLegs int) (seq, nonce uint64, err error) {
	set := func(off int, v int64) error {
		if rng.IntN(2) == 0 {
			var w [8]byte
			ne.PutUint64(w[:], uint64(v))
			return tx.Write(off, w[:])
		}
		if err := tx.Snapshot(off, 8); err != nil {
			return err
		}
		ne.PutUint64(b[off:], uint64(v))
		return nil
	}
	seq = uint64(word(b, bankSeq)) + 1
	rec := bankRingOff + bankRecord*int((seq-1)%bankRing)
	if seq > bankRing { // fold the transfer this one replaces into the checkpoint
		k := int(word(b, rec+16))
		for i := range k {
			a := int(ne.Uint16(b[rec+24+2*i:]))
			c := bankCheckpoint + 8*a
			if err := set(c, word(b, c)+word(b, rec+56+8*i)); err != nil {
				return 0, 0, err
			}
		}
	}
	k := 2 + rng.IntN(maxLegs-1)
	var r [bankRecord]byte
	nonce = rng.Uint64()
	ne.PutUint64(r[0:], seq)
	ne.PutUint64(r[8:], nonce)
	ne.PutUint64(r[16:], uint64(k))
	accts := rng.Perm(bankAccounts)[:k]
	var sum int64
	for i, a := range accts {
		amount := int64(rng.IntN(201)) - 100
		if i == k-1 {
			amount = -sum
		}
		sum += amount
		ne.PutUint16(r[24+2*i:], uint16(a))
		ne.PutUint64(r[56+8*i:], uint64(amount))
	}
	if err := tx.Write(rec, r[:]); err != nil {
		return 0, 0, err
	}
	for i, a := range accts {
		off := bankBalances + 8*a
		if err := set(off, word(b, off)+int64(ne.Uint64(r[56+8*i:]))); err != nil {
			return 0, 0, err
		}
	}
	if err := set(bankSeq, int64(seq)); err != nil {
		return 0, 0, err
	}
	return seq, nonce, nil
}

// bankCheck checks the invariants of the bank b, whose lock the caller
// holds, and that every transfer in committed (seq -> nonce, as reported)
// is still there; it returns what is wrong, or nil.
func bankCheck(b []byte, committed map[uint64]uint64) error {
	var sum, csum int64
	for i := range bankAccounts {
		sum += word(b, bankBalances+8*i)
		csum += word(b, bankCheckpoint+8*i)
	}
	if sum != bankAccounts*bankInitial || csum != bankAccounts*bankInitial {
		return fmt.Errorf("balances sum to %d, checkpoints to %d, want %d", sum, csum, bankAccounts*bankInitial)
	}
	seq := uint64(word(b, bankSeq))
	want := make([]int64, bankAccounts)
	for i := range want {
		want[i] = word(b, bankCheckpoint+8*i)
	}
	for s := max(1, int64(seq)-bankRing+1); s <= int64(seq); s++ {
		rec := bankRingOff + bankRecord*int((s-1)%bankRing)
		k := word(b, rec+16)
		if word(b, rec) != s || k < 2 || k > bankMaxLegs {
			return fmt.Errorf("ring record of transfer %d holds transfer %d with %d legs", s, word(b, rec), k)
		}
		var rsum int64
		for i := range int(k) {
			a := int(ne.Uint16(b[rec+24+2*i:]))
			amount := word(b, rec+56+8*i)
			if a >= bankAccounts {
				return fmt.Errorf("transfer %d names account %d", s, a)
			}
			want[a] += amount
			rsum += amount
		}
		if rsum != 0 {
			return fmt.Errorf("transfer %d sums to %d", s, rsum)
		}
	}
	for i, w := range want {
		if got := word(b, bankBalances+8*i); got != w {
			return fmt.Errorf("account %d holds %d, its checkpoint and the journal say %d (seq %d)", i, got, w, seq)
		}
	}
	for s, nonce := range committed {
		switch {
		case s > seq:
			return fmt.Errorf("transfer %d was committed, but seq is back at %d", s, seq)
		case s+bankRing > seq:
			rec := bankRingOff + bankRecord*int((s-1)%bankRing)
			if uint64(word(b, rec+8)) != nonce {
				return fmt.Errorf("transfer %d was committed with nonce %#x, the journal holds %#x", s, nonce, word(b, rec+8))
			}
		}
	}
	return nil
}

// bankRollback returns the *segment.RollbackError of a lock call that
// recovered a dead holder's lock, nil if err is nil, and fails on any
// other error (a log that could not be replayed included).
func bankRollback(err error) (*segment.RollbackError, error) {
	var re *segment.RollbackError
	switch {
	case err == nil:
		return nil, nil
	case errors.As(err, &re) && re.Log == nil:
		return re, nil
	}
	return nil, err
}
