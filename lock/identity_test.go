package lock

import (
	"testing"
	"unsafe"

	"pgregory.net/rapid"
)

// world is a fake process table for judgeProcess.
type world map[int]struct {
	state byte
	start uint64
}

func (w world) exists(pid int) bool { _, ok := w[pid]; return ok }

func (w world) stat(pid int) (byte, uint64, bool) {
	p, ok := w[pid]
	return p.state, p.start, ok
}

func TestJudgeProcess(t *testing.T) {
	me := Holder{Tag: 100, Stamp: 5000}
	w := world{
		100: {'R', 5000},
		200: {'S', 3000},            // alive, started at 3000
		300: {'Z', 3000},            // zombie
		400: {'S', 1<<32 + 3000},    // start time beyond 32 bits: stamp 3000
		500: {'S', 1 << 32},         // low bits 0: stamp 1
		600: {'S', 0xffff_fff0 + 0}, // for wrap-around
	}
	noProc := func(pid int) (byte, uint64, bool) { return 0, 0, false }
	for _, tc := range []struct {
		name string
		h    Holder
		stat func(int) (byte, uint64, bool)
		dead bool
	}{
		{"our pid, earlier stamp: a predecessor", Holder{100, 4000}, nil, true},
		{"our pid, no stamp recorded", Holder{100, 0}, nil, true},
		{"our pid, later stamp: another PID namespace", Holder{100, 6000}, nil, false},
		{"no such process", Holder{999, 3000}, nil, true},
		{"no such process, no stamp", Holder{999, 0}, nil, true},
		{"alive, same stamp", Holder{200, 3000}, nil, false},
		{"alive, no stamp", Holder{200, 0}, nil, false},
		{"alive, started after the holder: pid reused", Holder{200, 2000}, nil, true},
		{"alive, started before the holder: another PID namespace", Holder{200, 4000}, nil, false},
		{"zombie", Holder{300, 3000}, nil, true},
		{"zombie, no stamp", Holder{300, 0}, nil, true},
		{"start time above 32 bits", Holder{400, 3000}, nil, false},
		{"start time with low bits 0", Holder{500, 1}, nil, false},
		{"reuse across the 32-bit wrap", Holder{600, 0xffff_ff00}, nil, true},
		{"no /proc: kill(2) says alive", Holder{200, 1}, noProc, false},
	} {
		stat := tc.stat
		if stat == nil {
			stat = w.stat
		}
		if got := judgeProcess(me, tc.h, w.exists, stat); got != tc.dead {
			t.Errorf("%s: judgeProcess(%+v) = %v, want %v", tc.name, tc.h, got, tc.dead)
		}
	}
	// Without a stamp of our own (no /proc), our PID with any stamp is a
	// predecessor's.
	if !judgeProcess(Holder{Tag: 100}, Holder{100, 7}, w.exists, w.stat) {
		t.Error("our pid with a stamp, ours unknown: want dead")
	}
}

// TestJudgeProcess_NeverDeadWhileHolderRuns: whatever the process table,
// a holder that is the process now running with its PID, with its own
// start time as stamp, is never judged dead.
func TestJudgeProcess_NeverDeadWhileHolderRuns(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		me := Holder{Tag: rapid.Uint32Range(1, MaxTag).Draw(t, "me"), Stamp: rapid.Uint32().Draw(t, "mystamp")}
		pid := rapid.IntRange(1, MaxTag).Draw(t, "pid")
		if pid == int(me.Tag) {
			t.Skip("the holder is not us")
		}
		start := rapid.Uint64().Draw(t, "start")
		state := rapid.SampledFrom([]byte("RSDT")).Draw(t, "state")
		w := world{pid: {state, start}, int(me.Tag): {'R', 1}}
		stamp := stampOf(start)
		if rapid.Bool().Draw(t, "nostamp") {
			stamp = 0
		}
		if judgeProcess(me, Holder{Tag: uint32(pid), Stamp: stamp}, w.exists, w.stat) {
			t.Fatalf("live holder pid %d (start %d, stamp %d) judged dead", pid, start, stamp)
		}
	})
}

func TestWord_Layout(t *testing.T) {
	h := Holder{Tag: MaxTag, Stamp: 0xfedcba98}
	v := pack(h, true) | waitersBit | starvingBit
	if got := holderOf(v); got != h {
		t.Fatalf("holderOf(pack(%+v)) = %+v", h, got)
	}
	state, stamp := Split64(toMem(v))
	if state != MaxTag|waitersBit|starvingBit || stamp != h.Stamp {
		t.Fatalf("Split64 = %#x, %#x", state, stamp)
	}
	if fromMem(toMem(v)) != v {
		t.Fatal("fromMem(toMem(v)) != v")
	}
	// In memory the state half is at the lower address, where futex(2)
	// and a 32-bit view of the word find it.
	mem := toMem(v)
	if got := *(*uint32)(unsafe.Pointer(&mem)); got != state {
		t.Fatalf("state half in memory %#x, want %#x", got, state)
	}
	if HolderPID(state) != MaxTag || !Waiters(state) || !Starving(state) || Narrow(state) {
		t.Fatal("state half accessors")
	}
	// A 32-bit writer replaces the state half alone, with the narrow bit:
	// the stamp left in the other half is not its holder's.
	narrow := pack(Holder{Tag: 77, Stamp: 5}, false)
	if narrow != 77|narrowBit {
		t.Fatalf("pack of a 32-bit word = %#x, want the Tag and the narrow bit", narrow)
	}
	left := narrow | waitersBit | uint64(h.Stamp)<<stampShift
	if got := holderOf(left); got != (Holder{Tag: 77}) {
		t.Fatalf("holderOf of a 32-bit holder over an old stamp = %+v, want no stamp", got)
	}
	if state, stamp := Split64(toMem(left)); HolderPID(state) != 77 || !Narrow(state) || !Waiters(state) || stamp != 0 {
		t.Fatalf("Split64 of a 32-bit holder over an old stamp = %#x, %#x", state, stamp)
	}
}
