package segment_test

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posixshm/posixshm/segment"
)

var removeOpts = &segment.Options{RemoveWhenUnused: true}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestRemoveWhenUnused_Close: the last Close removes the file, whichever
// process makes it.
func TestRemoveWhenUnused_Close(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	s := mustCreate(t, d, "rm", 64, removeOpts)
	path := s.Path()
	if info, _ := s.Stat(); !info.RemoveWhenUnused {
		t.Fatal("flag not recorded")
	}
	// Handles of this process share one attachment.
	o, err := segment.Open("rm", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	if !exists(t, path) {
		t.Fatal("removed while this process still had it open")
	}
	other := startServer(t, d, 0, false, false)
	other.do("openx rm")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !exists(t, path) {
		t.Fatal("removed while another process was attached")
	}
	if got := other.do("stat"); field(got, "unlinked") != "false" {
		t.Fatalf("the other process: %s", got)
	}
	other.do("close")
	if exists(t, path) {
		t.Fatal("not removed by its last user's Close")
	}
	// Without the flag, the file stays.
	k := mustCreate(t, d, "keep", 64, nil)
	k.Close()
	if !exists(t, k.Path()) {
		t.Fatal("a segment without the flag was removed")
	}
}

// TestRemoveWhenUnused_Killed: users that die leave the file; the next
// opener finds every other attachment dead and removes it.
func TestRemoveWhenUnused_Killed(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	path := segPath(t, d, "dead")
	a := startServer(t, d, 0, true, false)
	id := field(a.do("open dead"), "id")
	b := startServer(t, d, 0, true, false)
	if got := field(b.do("open dead"), "id"); got != id {
		t.Fatalf("second opener got segment %s, want %s", got, id)
	}
	a.kill()
	b.kill()
	if !exists(t, path) {
		t.Fatal("file gone with no Close")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	u, err := segment.Users(f)
	f.Close() // this process is not attached: no lock to lose
	if err != nil || u.InUse() {
		t.Fatalf("Users after the kills: %+v, %v", u, err)
	}
	if _, err := segment.Open("dead", in(d, nil)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a segment whose users all died: %v, want fs.ErrNotExist", err)
	}
	if exists(t, path) {
		t.Fatal("Open left the dead segment")
	}

	// OpenOrCreate starts afresh.
	c := startServer(t, d, 0, true, false)
	old := field(c.do("open dead"), "id")
	c.kill()
	s, err := segment.OpenOrCreate("dead", 64, in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Creator() || strconv.FormatUint(binary.NativeEndian.Uint64(s.Bytes()), 10) == old {
		t.Fatalf("OpenOrCreate attached to the dead segment (creator %v)", s.Creator())
	}
	if info, _ := s.Stat(); info.RemoveWhenUnused {
		t.Fatal("the fresh segment took the flag from the dead one, not from its options")
	}
}

// TestRemoveWhenUnused_NameReused: a segment whose name was removed by
// hand and given to a new segment does not remove the new one.
func TestRemoveWhenUnused_NameReused(t *testing.T) {
	d := segDir(t)
	a := mustCreate(t, d, "reused", 64, removeOpts)
	if err := a.Unlink(); err != nil {
		t.Fatal(err)
	}
	b := mustCreate(t, d, "reused", 64, removeOpts)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !exists(t, b.Path()) {
		t.Fatal("closing the unlinked segment removed its successor")
	}
	if info, err := b.Stat(); err != nil || info.Unlinked {
		t.Fatalf("successor: %+v, %v", info, err)
	}
}

// stressRounds is the number of rounds of TestRemoveWhenUnused_Stress:
// $POSIXSHM_STRESS_ROUNDS, or a short run.
func stressRounds(short int) int {
	if n, err := strconv.Atoi(os.Getenv("POSIXSHM_STRESS_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return short
}

// TestRemoveWhenUnused_Stress: 8 processes open, close, check and get
// killed with SIGKILL at random moments, for a fixed number of rounds. No
// process ever finds itself attached to a removed segment (Stat's
// Unlinked); whenever some process is attached, the name leads to the
// segment they all share; when none is, the file is either gone or left by
// killed users only, and the next opener removes it. At the end, after
// the survivors close, the file is gone.
func TestRemoveWhenUnused_Stress(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const procs = 8
	rounds := stressRounds(40)
	d := segDir(t)
	path := segPath(t, d, "churn")
	seed := uint64(time.Now().UnixNano())
	if n, err := strconv.ParseUint(os.Getenv("POSIXSHM_STRESS_SEED"), 10, 64); err == nil {
		seed = n
	}
	t.Logf("seed %d (POSIXSHM_STRESS_SEED repeats it)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	// Openers pause up to 2 ms between mapping the file and attaching,
	// and creators before publishing the header, so that closes, removals
	// and kills land in those windows often.
	const pause, publishPause = "attachpause=2000", "publishpause=2000"
	type proc struct {
		s        *server
		attached bool
	}
	var ps [procs]proc
	for i := range ps {
		ps[i].s = startServer(t, d, 0, true, false, pause, publishPause)
	}
	kills, opens, closes, removedByOpen, emptyRemoved := 0, 0, 0, 0, 0
	for round := range rounds {
		// Every process gets a command; some are killed while they run
		// it, at a random moment.
		cmds := make([]string, procs)
		for i := range ps {
			switch r := rng.IntN(10); {
			case !ps[i].attached && r < 7:
				cmds[i] = "open churn"
			case ps[i].attached && r < 4:
				cmds[i] = "close"
			case ps[i].attached:
				cmds[i] = "stat"
			}
			if cmds[i] != "" {
				ps[i].s.send(cmds[i])
			}
		}
		// A creator killed between its open(2) and its creation lock
		// leaves an empty file, which openers cannot tell from another
		// program's new object (creation.go): they fail with
		// ErrNotInitialized, and it is removed by hand, as documented.
		abandonedEmpty := false
		// Now and then every process dies, leaving the file to the next
		// opener; else one in eight.
		massacre := rng.IntN(10) == 0
		victims := map[int]bool{}
		for i := range ps {
			if massacre || rng.IntN(8) == 0 {
				victims[i] = true
			}
		}
		if len(victims) > 0 {
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		}
		for i := range ps {
			if victims[i] {
				ps[i].s.kill()
				ps[i] = proc{s: startServer(t, d, 0, true, false, pause, publishPause)}
				kills++
				continue
			}
			if cmds[i] == "" {
				continue
			}
			r, ok := ps[i].s.reply()
			if !ok && cmds[i] == "open churn" && strings.Contains(r, "file is empty") {
				abandonedEmpty = true // see below
				continue
			}
			if !ok {
				t.Fatalf("round %d: process %d: %s: %s", round, i, cmds[i], r)
			}
			if field(r, "unlinked") == "true" {
				t.Fatalf("round %d: process %d is attached to a removed segment: %s: %s", round, i, cmds[i], r)
			}
			switch cmds[i] {
			case "open churn":
				ps[i].attached = true
				opens++
			case "close":
				ps[i].attached = false
				closes++
			}
		}
		// Quiet now: check the invariant.
		if st, err := os.Stat(path); abandonedEmpty && err == nil && st.Size() == 0 {
			os.Remove(path)
			emptyRemoved++
		}
		id := ""
		for i := range ps {
			if !ps[i].attached {
				continue
			}
			r := ps[i].s.do("stat")
			if field(r, "unlinked") != "false" {
				t.Fatalf("round %d: process %d is attached to a removed segment: %s", round, i, r)
			}
			if id == "" {
				id = field(r, "id")
			} else if got := field(r, "id"); got != id {
				t.Fatalf("round %d: processes attached to two segments: %s and %s", round, id, got)
			}
		}
		if id != "" {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("round %d: processes are attached but the file is gone: %v", round, err)
			}
			data := binary.NativeEndian.Uint64(raw[16:]) // the data offset
			if got := strconv.FormatUint(binary.NativeEndian.Uint64(raw[data:]), 10); got != id {
				t.Fatalf("round %d: the name leads to segment %s, processes are attached to %s", round, got, id)
			}
		} else if exists(t, path) {
			// Left by killed users: the next opener removes it.
			_, err := segment.Open("churn", in(d, nil))
			if st, serr := os.Stat(path); errors.Is(err, segment.ErrNotInitialized) && serr == nil && st.Size() == 0 {
				os.Remove(path) // the empty file of a creator killed at once, as above
				emptyRemoved++
				continue
			}
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("round %d: nobody attached, the file remains, and Open said %v", round, err)
			}
			if exists(t, path) {
				t.Fatalf("round %d: Open did not remove a segment nobody uses", round)
			}
			removedByOpen++
		}
	}
	for i := range ps {
		if ps[i].attached {
			ps[i].s.do("close")
		}
	}
	if exists(t, path) {
		t.Fatal("the last users closed, the file remains")
	}
	t.Logf("%d rounds: %d opens, %d closes, %d kills, %d leftovers removed by an opener, %d empty files of creators killed at once removed by hand",
		rounds, opens, closes, kills, removedByOpen, emptyRemoved)
}

// TestRemoveWhenUnused_RemovedWhileAttaching: an opener that has mapped
// the file when its last user removes it must not stay attached to the
// removed file: Open finds no segment, OpenOrCreate creates a new one.
func TestRemoveWhenUnused_RemovedWhileAttaching(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	for _, create := range []bool{false, true} {
		user := startServer(t, d, 0, true, false)
		old := field(user.do("open late"), "id")
		paused, resume := make(chan bool), make(chan bool)
		undo := segment.SetAttachHook(func() { paused <- true; <-resume })
		type result struct {
			s   *segment.Segment
			err error
		}
		res := make(chan result)
		go func() {
			var r result
			if create {
				r.s, r.err = segment.OpenOrCreate("late", 64, in(d, nil))
			} else {
				r.s, r.err = segment.Open("late", in(d, nil))
			}
			res <- r
		}()
		<-paused // mapped, not attached
		undo()
		user.do("close") // the last user: removes the file
		if exists(t, segPath(t, d, "late")) {
			t.Fatal("the last user's Close did not remove the file")
		}
		resume <- true
		r := <-res
		if !create {
			if !errors.Is(r.err, fs.ErrNotExist) {
				t.Fatalf("Open racing the removal: %v, %v; want fs.ErrNotExist", r.s, r.err)
			}
			continue
		}
		if r.err != nil {
			t.Fatal(r.err)
		}
		info, err := r.s.Stat()
		if err != nil || info.Unlinked || !r.s.Creator() ||
			strconv.FormatUint(binary.NativeEndian.Uint64(r.s.Bytes()), 10) == old {
			t.Fatalf("OpenOrCreate racing the removal: creator %v, %+v, %v", r.s.Creator(), info, err)
		}
		r.s.Close()
	}
}

// TestRemoveWhenUnused_Gate: two openers arrive while the last user is
// removing the file (between its check and its unlink). They must wait
// for the removal and find no segment, not attach to the file being
// removed and keep it between them (as they would if they did not wait,
// or did not check the name after waiting: each pauses after its claim,
// so that each sees the other attached).
func TestRemoveWhenUnused_Gate(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	for range 2 {
		user := startServer(t, d, 0, true, false, "removepause=200000")
		user.do("open gate")
		o1 := startServer(t, d, 0, true, false, "claimpause=50000")
		o2 := startServer(t, d, 0, true, false, "claimpause=50000")
		user.send("close")
		time.Sleep(50 * time.Millisecond) // the user is in its pause now
		o1.send("openx gate")
		o2.send("openx gate")
		if r, ok := user.reply(); !ok {
			t.Fatalf("close: %s", r)
		}
		for _, o := range []*server{o1, o2} {
			r, ok := o.reply()
			if ok {
				t.Fatalf("an opener attached to the segment being removed: %s; now: %s", r, o.do("stat"))
			}
			if !strings.Contains(r, "no such file") {
				t.Fatalf("opener: %s, want no such file", r)
			}
		}
		for _, s := range []*server{user, o1, o2} {
			s.kill()
		}
	}
}

// TestRemoveWhenUnused_CloseTogether: the last two users close at once.
// Each must release its claim before it looks for others, or each would
// see the other and neither remove the file.
func TestRemoveWhenUnused_CloseTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	a := startServer(t, d, 0, true, false, "detachpause=50000")
	b := startServer(t, d, 0, true, false, "detachpause=50000")
	a.do("open together")
	b.do("open together")
	a.send("close")
	b.send("close")
	for _, s := range []*server{a, b} {
		if r, ok := s.reply(); !ok {
			t.Fatalf("close: %s", r)
		}
	}
	if exists(t, segPath(t, d, "together")) {
		t.Fatal("both users closed, the file remains")
	}
}

// TestCreate_KilledBeforePublishing: in a layout that cannot link (one of
// the caller's own; macOS's and FreeBSD's kernel objects), where a segment
// is created under its name, a creator killed before it publishes the
// header is waited for while it lives, and not after: the file of a
// segment that removes itself when unused is removed by the next opener,
// any other gives ErrNotInitialized at once.
func TestCreate_KilledBeforePublishing(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d := segDir(t)
	const wait = 300 * time.Millisecond
	opts := in(d, &segment.Options{InitTimeout: wait})
	for _, remove := range []bool{true, false} {
		creator := startServer(t, d, 0, remove, false, "publishwait=60000000", "named")
		creator.send("open unpublished")
		creator.expect("publishing")
		path := segPath(t, d, "unpublished")
		start := time.Now()
		if _, err := segment.Open("unpublished", opts); !errors.Is(err, segment.ErrNotInitialized) || time.Since(start) < wait {
			t.Fatalf("Open while the creator lives: %v after %v, want ErrNotInitialized after InitTimeout", err, time.Since(start))
		}
		creator.kill()
		// A dead creator is not waited for: with a long InitTimeout,
		// returning well before it shows that, where comparing with the
		// short one would break under load.
		start = time.Now()
		_, err := segment.Open("unpublished", in(d, &segment.Options{InitTimeout: time.Minute}))
		took := time.Since(start)
		if took >= time.Minute {
			t.Errorf("Open waited %v for a dead creator", took)
		}
		if remove {
			if !errors.Is(err, fs.ErrNotExist) || exists(t, path) {
				t.Fatalf("Open after the creator of a remove-when-unused segment died: %v (file left: %v), want it removed", err, exists(t, path))
			}
			continue
		}
		if !errors.Is(err, segment.ErrNotInitialized) || !strings.Contains(err.Error(), "creator died") || !exists(t, path) {
			t.Fatalf("Open after the creator died: %v, want ErrNotInitialized saying so, and the file left", err)
		}
	}
}
