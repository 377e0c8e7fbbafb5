package segment_test

// Crash tests of transactions, with real processes killed by SIGKILL:
// TestTx_KillAtEveryStep stops a process at every step of Snapshot,
// Write, Commit and Abort in turn, and the process recovering after it at
// every step of the recovery; TestTx_Torture is the bank torture, a killer
// sending SIGKILL at random, mostly to the holder of the lock. Both check
// the bank's invariants (bank_test.go) after every recovery and at the
// end. A short run of each is part of the normal tests; TX_TORTURE=N runs
// the torture until N kills (split between 2, 4 and 8 processes) and the
// step test with a kill at every recovery step after every step.

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

const txHelperEnv = "POSIXSHM_TX_HELPER"

// txLong is the number of kills TX_TORTURE asks for, 0 for a short run.
func txLong(t *testing.T) int {
	s := os.Getenv("TX_TORTURE")
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("TX_TORTURE=%q: want a number of kills such as 10000", s)
	}
	return n
}

// txOpts are the options of the bank segment: a log for the largest
// transfer, and stale checks every 2 ms, so that recoveries come fast.
func txOpts(d posixshm.Dir) *segment.Options {
	return in(d, &segment.Options{TxLog: bankTxLog, StaleAfter: 2 * time.Millisecond})
}

// newBank creates the bank segment called name in d.
func newBank(t *testing.T, d posixshm.Dir, name string) *segment.Segment {
	s := mustCreate(t, d, name, bankSize, txOpts(d))
	if err := s.Lock(); err != nil {
		t.Fatal(err)
	}
	bankInit(s.Bytes())
	s.Unlock()
	return s
}

// txHelper returns the command that runs a helper process in mode.
func txHelper(d posixshm.Dir, mode string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestTx_HelperProcess$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"),
		txHelperEnv+"="+strings.Join(append([]string{mode, string(d)}, args...), "\n"))
	cmd.Stderr = os.Stderr
	return cmd
}

// killAtStep makes this process kill itself with SIGKILL at the n-th call
// of the transaction hook whose step name starts with prefix (n ≤ 0:
// never), saying so on stdout first.
func killAtStep(prefix string, n int) {
	count := 0
	segment.SetTxHook(func(step string) {
		if !strings.HasPrefix(step, prefix) {
			return
		}
		if count++; count == n {
			fmt.Printf("killed at %s\n", step)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			for {
				time.Sleep(time.Second)
			}
		}
	})
}

// TestTx_HelperProcess is not a test: it is the helper process.
func TestTx_HelperProcess(t *testing.T) {
	spec, ok := os.LookupEnv(txHelperEnv)
	if !ok {
		t.Skip("helper process only")
	}
	args := strings.Split(spec, "\n")
	mode, d, args := args[0], posixshm.Dir(args[1]), args[2:]
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "tx helper:", mode, err)
		os.Exit(2)
	}
	violation := func(err error) {
		fmt.Printf("VIOLATION %v\n", err)
		os.Exit(3)
	}
	s, err := segment.Open(args[0], txOpts(d))
	if err != nil {
		fail(err)
	}
	b := s.Bytes()
	arg := func(i int) int {
		n, _ := strconv.Atoi(args[i])
		return n
	}
	switch mode {
	case "script": // args: name, seed, k, transfers, legs. Transfers, killed at the k-th step.
		killAtStep("", arg(2))
		rng := rand.New(rand.NewPCG(uint64(arg(1)), 0))
		for i := range arg(3) {
			tx, err := s.Begin()
			if _, err := bankRollback(err); err != nil {
				fail(err)
			}
			seq, nonce, err := bankTransfer(tx, b, rng, arg(4))
			if err != nil {
				fail(err)
			}
			if i%3 == 1 {
				err = tx.Abort()
			} else if err = tx.Commit(); err == nil {
				fmt.Println("commit", seq, nonce)
			}
			if err != nil {
				fail(err)
			}
		}
		fmt.Println("done")
	case "die": // args: name, off, bytes. Begins, writes bytes at off, and dies holding the lock.
		tx, err := s.Begin()
		if err != nil {
			fail(err)
		}
		if err := tx.Write(arg(1), []byte(args[2])); err != nil {
			fail(err)
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		for {
			time.Sleep(time.Second)
		}
	case "recover-pause": // args: name. Takes the lock over and stops at the first step of its recovery, to be killed.
		segment.SetTxHook(func(step string) {
			if strings.HasPrefix(step, "recover: ") {
				fmt.Println("paused")
				for {
					time.Sleep(time.Second)
				}
			}
		})
		s.Lock()
		fail(errors.New("the recovery did not stop"))
	case "recover": // args: name, k, lock|begin. Takes the lock, killed at the k-th step of a recovery.
		killAtStep("recover: ", arg(1))
		var err error
		var tx *segment.Tx
		if args[2] == "begin" {
			tx, err = s.Begin()
		} else {
			err = s.Lock() // a plain Lock rolls back too
		}
		rolled, err := bankRollback(err)
		if err != nil {
			fail(err)
		}
		if err := bankCheck(b, nil); err != nil {
			violation(err)
		}
		if rolled != nil {
			fmt.Println("recovered", rolled.Entries, rolled.Bytes)
		}
		if tx != nil {
			err = tx.Commit()
		} else {
			err = s.Unlock()
		}
		if err != nil {
			fail(err)
		}
	case "worker": // args: name, seed. Transfers until stopped, checking after every recovery.
		rng := rand.New(rand.NewPCG(uint64(arg(1)), uint64(os.Getpid())))
		fmt.Println("ready")
		for i := 0; !bankStopped(b); i++ {
			if i%50 == 49 { // a check under a plain Lock
				rolled, err := bankRollback(s.Lock())
				if err != nil {
					fail(err)
				}
				if err := bankCheck(b, nil); err != nil {
					violation(err)
				}
				if rolled != nil {
					fmt.Println("recovered", rolled.Entries, rolled.Bytes)
				}
				s.Unlock()
				continue
			}
			tx, err := s.Begin()
			rolled, err := bankRollback(err)
			if err != nil {
				fail(err)
			}
			if rolled != nil || i%16 == 0 {
				if err := bankCheck(b, nil); err != nil {
					violation(err)
				}
				if rolled != nil {
					fmt.Println("recovered", rolled.Entries, rolled.Bytes)
				}
			}
			seq, nonce, err := bankTransfer(tx, b, rng, bankMaxLegs)
			if err != nil {
				fail(err)
			}
			if rng.IntN(10) == 0 {
				if err := tx.Abort(); err != nil {
					fail(err)
				}
				fmt.Println("abort")
			} else {
				if err := tx.Commit(); err != nil {
					fail(err)
				}
				fmt.Println("commit", seq, nonce)
			}
		}
	default:
		fail(errors.New("unknown mode"))
	}
	os.Exit(0)
}

// txRun is the outcome of one helper process.
type txRun struct {
	killed    bool          // by SIGKILL
	step      string        // where it killed itself, if it did
	done      bool          // a script that ran to its end
	recovered int           // recoveries it reported
	violation string        // the first violation it reported
	ready     chan struct{} // closed when a worker says it is ready
}

// ledger collects what the helpers report: the transfers committed
// (seq -> nonce), recoveries, aborts, violations.
type ledger struct {
	mu         sync.Mutex
	committed  map[uint64]uint64
	commits    int
	aborts     int
	recovered  int // recoveries of a dead holder's lock
	rolledBack int // of which rolled back a transaction (a nonempty log)
	violations []string
}

// read reads a helper's output until it ends, into l and r.
func (l *ledger) read(sc *bufio.Scanner, r *txRun) {
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		l.mu.Lock()
		switch f[0] {
		case "commit":
			seq, _ := strconv.ParseUint(f[1], 10, 64)
			nonce, _ := strconv.ParseUint(f[2], 10, 64)
			l.committed[seq] = nonce
			l.commits++
		case "abort":
			l.aborts++
		case "recovered":
			l.recovered++
			r.recovered++
			if f[1] != "0" {
				l.rolledBack++
			}
		case "ready":
			if r.ready != nil {
				close(r.ready)
			}
		case "killed":
			r.step = strings.Join(f[2:], " ")
		case "done":
			r.done = true
		case "VIOLATION":
			l.violations = append(l.violations, sc.Text())
			if r.violation == "" {
				r.violation = sc.Text()
			}
		}
		l.mu.Unlock()
	}
}

// run runs a helper to its end and returns what it did.
func (l *ledger) run(t *testing.T, cmd *exec.Cmd) txRun {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var r txRun
	l.read(bufio.NewScanner(out), &r)
	err = cmd.Wait()
	r.killed = killedBy9(err)
	if err != nil && !r.killed && r.violation == "" {
		t.Fatalf("helper %v: %v", cmd.Args, err)
	}
	return r
}

// killedBy9 reports whether a process's exit error says SIGKILL.
func killedBy9(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws, ok := ee.Sys().(syscall.WaitStatus)
		return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
	}
	return false
}

// check takes the lock of s (recovering if the last holder died), checks
// the bank against everything reported committed, and releases it.
func (l *ledger) check(t *testing.T, s *segment.Segment, when string) {
	t.Helper()
	rolled, err := bankRollback(s.Lock())
	if err != nil {
		t.Fatalf("%s: Lock: %v", when, err)
	}
	if rolled != nil {
		l.mu.Lock()
		l.recovered++
		if rolled.Entries != 0 {
			l.rolledBack++
		}
		l.mu.Unlock()
	}
	l.mu.Lock()
	err = bankCheck(s.Bytes(), l.committed)
	l.mu.Unlock()
	s.Unlock()
	if err != nil {
		t.Fatalf("%s (recovery: %v): %v", when, rolled, err)
	}
}

// TestTx_KillAtEveryStep: a process running transfers (committed and
// aborted) is killed at its first step, then, in a new bank state, at its
// second, and so on until it runs to its end; after each kill a process
// recovering is killed at each step of the recovery in turn (in the short
// run, after every 10th kill), until one recovers. The invariants hold
// after every recovery.
func TestTx_KillAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	long := txLong(t) > 0
	d := segDir(t)
	s := newBank(t, d, "steps")
	l := &ledger{committed: map[uint64]uint64{}}
	kills, recoveryKills, steps := 0, 0, map[string]int{}
	// Short: a committed and an aborted transfer of up to 4 accounts,
	// recoveries killed after every 10th kill. Long: three transfers (the
	// third committed) of up to 16, recoveries killed after every kill.
	transfers, legs, every := 2, 4, 10
	if long {
		transfers, legs, every = 3, bankMaxLegs, 1
	}
	for k := 1; ; k++ {
		r := l.run(t, txHelper(d, "script", "steps", "7", strconv.Itoa(k), strconv.Itoa(transfers), strconv.Itoa(legs)))
		if r.violation != "" {
			t.Fatal(r.violation)
		}
		if r.done {
			if k < 3*transfers {
				t.Fatalf("the script ran to its end with a kill at step %d", k)
			}
			break
		}
		if !r.killed || r.step == "" {
			t.Fatalf("step %d: the script neither finished nor killed itself: %+v", k, r)
		}
		kills++
		steps[r.step[:strings.IndexByte(r.step, ':')]]++
		for j := 1; ; j++ {
			if k%every != 0 {
				j = 0 // one recovery, not killed
			}
			how := []string{"begin", "lock"}[(k+j)%2]
			rr := l.run(t, txHelper(d, "recover", "steps", strconv.Itoa(j), how))
			if rr.violation != "" {
				t.Fatalf("after a kill at step %d (%s), recovery %d: %s", k, r.step, j, rr.violation)
			}
			if !rr.killed {
				break
			}
			recoveryKills++
			steps["recover"]++
		}
		l.check(t, s, fmt.Sprintf("after a kill at step %d (%s)", k, r.step))
	}
	if steps["snapshot"] == 0 || steps["write"] == 0 || steps["commit"] == 0 || steps["abort"] == 0 || steps["recover"] == 0 {
		t.Fatalf("kills by kind %v: some step was never hit", steps)
	}
	t.Logf("%d kills in transactions, %d in recoveries (by kind %v); %d transfers committed; 0 violations",
		kills, recoveryKills, steps, len(l.committed))
}

// TestTx_Torture: N processes move money between the accounts in
// transactions, some aborted on purpose, while a killer sends SIGKILL at
// random, three times in four to the holder of the lock, and starts a new
// process in the dead one's place. Every process checks the invariants
// whenever it recovers a dead holder's lock, and every 16 transfers; the
// test checks them, and that every transfer reported committed is still
// there, every 100 kills and at the end.
func TestTx_Torture(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	total := txLong(t)
	ns := []int{2, 8}
	perRun := 40
	if total > 0 {
		ns = []int{2, 4, 8}
		perRun = (total + len(ns) - 1) / len(ns)
	}
	var sum txTotals
	for _, n := range ns {
		t.Run(strconv.Itoa(n)+"p", func(t *testing.T) {
			tot := txTorture(t, n, perRun)
			t.Logf("%d processes: %v", n, tot)
			sum.add(tot)
		})
	}
	t.Logf("torture totals: %v", sum)
}

type txTotals struct {
	kills, holderKills, commits, aborts, recovered, rolledBack, checks int
}

func (a *txTotals) add(b txTotals) {
	a.kills += b.kills
	a.holderKills += b.holderKills
	a.commits += b.commits
	a.aborts += b.aborts
	a.recovered += b.recovered
	a.rolledBack += b.rolledBack
	a.checks += b.checks
}

func (a txTotals) String() string {
	return fmt.Sprintf("%d kills (%d of the holder), %d transfers committed, %d aborted, %d recoveries of a dead holder's lock "+
		"(%d rolling back a transaction), %d checks by the test, 0 violations",
		a.kills, a.holderKills, a.commits, a.aborts, a.recovered, a.rolledBack, a.checks)
}

func txTorture(t *testing.T, n, kills int) txTotals {
	d := segDir(t)
	s := newBank(t, d, "bank")
	l := &ledger{committed: map[uint64]uint64{}}
	type worker struct {
		cmd  *exec.Cmd
		done chan txRun
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	start := func() *worker {
		w := &worker{cmd: txHelper(d, "worker", "bank", strconv.FormatUint(rng.Uint64(), 10)), done: make(chan txRun, 1)}
		out, err := w.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan struct{})
		go func() {
			r := txRun{ready: ready}
			l.read(bufio.NewScanner(out), &r)
			r.killed = killedBy9(w.cmd.Wait())
			w.done <- r
		}()
		// Kill only workers at work: one killed while it starts up
		// tests nothing.
		select {
		case <-ready:
		case r := <-w.done:
			t.Fatalf("worker exited before it was ready: %+v", r)
		}
		return w
	}
	ws := make([]*worker, n)
	for i := range ws {
		ws[i] = start()
	}
	defer func() {
		for _, w := range ws {
			w.cmd.Process.Kill()
			<-w.done
		}
	}()
	var tot txTotals
	for tot.kills < kills {
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		victim := rng.IntN(n)
		if rng.IntN(4) != 0 { // the holder, waiting a little for one of ours
		holder:
			for range 50 {
				if info, err := s.Stat(); err == nil && info.LockHolder != 0 {
					for i, w := range ws {
						if w.cmd.Process.Pid == info.LockHolder {
							victim = i
							tot.holderKills++
							break holder
						}
					}
				}
				time.Sleep(50 * time.Microsecond)
			}
		}
		w := ws[victim]
		w.cmd.Process.Signal(syscall.SIGKILL)
		if r := <-w.done; r.violation != "" {
			t.Fatal(r.violation)
		} else if !r.killed {
			t.Fatalf("worker %d exited by itself", victim)
		}
		tot.kills++
		ws[victim] = start()
		if tot.kills%100 == 0 {
			l.check(t, s, fmt.Sprintf("after %d kills", tot.kills))
			tot.checks++
		}
	}
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&s.Bytes()[bankStop])), 1)
	for i, w := range ws {
		select {
		case r := <-w.done:
			if r.violation != "" {
				t.Fatal(r.violation)
			}
			if r.killed {
				t.Fatalf("worker %d was killed after the stop", i)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("worker %d did not stop", i)
		}
		w.done <- txRun{} // for the deferred cleanup
	}
	l.check(t, s, "at the end")
	tot.checks++
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.violations) > 0 {
		t.Fatalf("%d violations, the first: %s", len(l.violations), l.violations[0])
	}
	tot.commits, tot.aborts, tot.recovered, tot.rolledBack = l.commits, l.aborts, l.recovered, l.rolledBack
	if tot.commits == 0 || tot.aborts == 0 {
		t.Fatalf("%v: no commits or no aborts", tot)
	}
	return tot
}

// TestTx_RecoveryKilledWhileOthersWait: a holder dies in a transaction;
// the process that takes its lock over is killed in the middle of the
// rollback while two more processes wait for the lock, one in Begin, one
// in Lock. One of them takes the lock over again and rolls the same
// transaction back (the log is as the first holder left it); the bank's
// invariants hold for both and at the end.
func TestTx_RecoveryKilledWhileOthersWait(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	s := newBank(t, d, "wait3")
	l := &ledger{committed: map[uint64]uint64{}}
	// A transfer of up to 16 legs killed at its 9th step, with two
	// snapshots published and their ranges maybe changed.
	r := l.run(t, txHelper(d, "script", "wait3", "7", "9", "1", strconv.Itoa(bankMaxLegs)))
	if !r.killed || !strings.HasPrefix(r.step, "snapshot") && !strings.HasPrefix(r.step, "write") {
		t.Fatalf("the first holder: %+v, want killed in its transaction", r)
	}
	rec := txHelper(d, "recover-pause", "wait3")
	out, err := rec.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	if sc := bufio.NewScanner(out); !sc.Scan() || sc.Text() != "paused" {
		rec.Process.Kill()
		rec.Wait()
		t.Fatalf("the recoverer did not stop in its recovery: %q", sc.Text())
	}
	runs := make(chan txRun, 2)
	for _, how := range []string{"begin", "lock"} {
		cmd := txHelper(d, "recover", "wait3", "0", how)
		go func() { runs <- l.run(t, cmd) }()
	}
	// Let them reach the wait (if one has not, it finds the recoverer
	// dead when it gets there: the same outcome, less tested).
	time.Sleep(100 * time.Millisecond)
	rec.Process.Signal(syscall.SIGKILL)
	if err := rec.Wait(); !killedBy9(err) {
		t.Fatalf("the recoverer: %v", err)
	}
	recovered := 0
	for range 2 {
		r := <-runs
		if r.violation != "" {
			t.Fatal(r.violation)
		}
		recovered += r.recovered
	}
	if recovered != 1 || l.rolledBack != 1 {
		t.Fatalf("%d recoveries (%d rolling back), want 1 rolling back the first holder's transaction", recovered, l.rolledBack)
	}
	l.check(t, s, "at the end")
}
