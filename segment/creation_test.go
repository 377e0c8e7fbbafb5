package segment_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// tempFiles returns the temporary files of new segments in d.
func tempFiles(t *testing.T, d posixshm.Dir) []string {
	t.Helper()
	des, err := os.ReadDir(string(d))
	if err != nil {
		t.Fatal(err)
	}
	var temps []string
	for _, de := range des {
		if posixshm.IsTempName(de.Name()) {
			temps = append(temps, filepath.Join(string(d), de.Name()))
		}
	}
	return temps
}

// creations are the ways a new segment is built before its name leads
// to it: an unnamed file (O_TMPFILE, where there is one) and a temporary
// name (elsewhere, and in the openbsdsim build).
var creations = []string{"default", "tempname"}

// useCreation makes this process build new segments as how says, until
// the end of the test.
func useCreation(t *testing.T, how string) {
	if how == "tempname" {
		unixutil.NoTmpfile = true
		t.Cleanup(func() { unixutil.NoTmpfile = false })
	}
}

// TestCreate_KilledBeforeLinking: a creator that has built its segment but
// not yet linked it onto its name leaves no object: openers find none at
// once, without waiting for it, and once it is killed the next
// OpenOrCreate creates the segment, removing the temporary file the dead
// creator left, if any.
func TestCreate_KilledBeforeLinking(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, how := range creations {
		t.Run(how, func(t *testing.T) {
			useCreation(t, how)
			d := segDir(t)
			creator := startServer(t, d, 0, false, false, "publishwait=60000000", how)
			creator.send("open built")
			creator.expect("publishing")
			start := time.Now()
			if _, err := segment.Open("built", in(d, nil)); !errors.Is(err, fs.ErrNotExist) || time.Since(start) > time.Second/2 {
				t.Fatalf("Open while the creator builds it: %v after %v; want ErrNotExist at once", err, time.Since(start))
			}
			temps := tempFiles(t, d)
			if how == "tempname" && len(temps) != 1 {
				t.Fatalf("temporary files while the creator builds: %q, want one", temps)
			}
			creator.kill()
			s, err := segment.OpenOrCreate("built", 64, in(d, &segment.Options{InitTimeout: 100 * time.Millisecond}))
			if err != nil || !s.Creator() {
				t.Fatalf("OpenOrCreate after the creator died: %v", err)
			}
			defer s.Close()
			if temps := tempFiles(t, d); len(temps) != 0 {
				t.Errorf("left: %q", temps)
			}
		})
	}
}

// TestCreate_WaitsForLiveCreator: while another process builds the
// segment under its temporary name, Create and OpenOrCreate wait for it,
// up to InitTimeout, and then give ErrNotInitialized saying so; once it
// has linked the segment, they find it.
func TestCreate_WaitsForLiveCreator(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	useCreation(t, "tempname")
	d := segDir(t)
	const wait = 200 * time.Millisecond
	creator := startServer(t, d, 0, false, false, "publishwait=500000", "tempname") // 0.5 s
	creator.send("open slow")
	creator.expect("publishing")
	opts := in(d, &segment.Options{InitTimeout: wait})
	start := time.Now()
	_, err := segment.OpenOrCreate("slow", 64, opts)
	if !errors.Is(err, segment.ErrNotInitialized) || !strings.Contains(err.Error(), "another process") || time.Since(start) < wait {
		t.Fatalf("OpenOrCreate while another builds it: %v after %v; want ErrNotInitialized after InitTimeout", err, time.Since(start))
	}
	r, ok := creator.reply()
	if !ok || field(r, "creator") != "true" {
		t.Fatalf("creator: %s", r)
	}
	if _, err := segment.Create("slow", 64, opts); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create once it exists: %v, want ErrExist", err)
	}
	s, err := segment.OpenOrCreate("slow", 64, in(d, &segment.Options{InitTimeout: 5 * time.Second}))
	if err != nil || s.Creator() {
		t.Fatalf("OpenOrCreate once it exists: %v", err)
	}
	s.Close()
}

// TestOpenOrCreate_RacingCreators: processes racing to OpenOrCreate one
// name, each building its own segment before linking it: exactly one
// links its own, and every other opens that one.
func TestOpenOrCreate_RacingCreators(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, how := range creations {
		t.Run(how, func(t *testing.T) {
			useCreation(t, how)
			d := segDir(t)
			const procs, rounds = 4, 10
			var ss [procs]*server
			for i := range ss {
				ss[i] = startServer(t, d, 0, true, false, "publishpause=1000", how)
			}
			for round := range rounds {
				for _, s := range ss {
					s.send("open race")
				}
				creators, ids := 0, map[string]bool{}
				for _, s := range ss {
					r, ok := s.reply()
					if !ok {
						t.Fatalf("round %d: %s", round, r)
					}
					if field(r, "creator") == "true" {
						creators++
					}
				}
				// The creator has written its id by now: all share it.
				for _, s := range ss {
					ids[field(s.do("stat"), "id")] = true
				}
				for _, s := range ss {
					s.do("close")
				}
				if creators != 1 || len(ids) != 1 {
					t.Fatalf("round %d: %d creators, openers saw ids %v", round, creators, ids)
				}
			}
			if temps := tempFiles(t, d); len(temps) != 0 {
				t.Errorf("left: %q", temps)
			}
		})
	}
}

// BenchmarkCreate: Create, Close and Unlink of a segment in a tmpfs
// directory, built as each way does it: under its name, as before
// creation was atomic and as layouts that cannot link still do ("named");
// in an O_TMPFILE file linked onto the name ("tmpfile", Linux); under a
// temporary name with the creation lock, then linked ("tempname", as on
// OpenBSD). Compare the ratios within one run.
func BenchmarkCreate(b *testing.B) {
	for _, how := range []string{"named", "tmpfile", "tempname"} {
		b.Run(how, func(b *testing.B) {
			d := segDir(b)
			var l posixshm.Layout = d
			switch how {
			case "named":
				l = namedLayout{d}
			case "tempname":
				unixutil.NoTmpfile = true
				defer func() { unixutil.NoTmpfile = false }()
			}
			opts := &segment.Options{Layout: l}
			cpu := cpuTime()
			for b.Loop() {
				s, err := segment.Create("bench", 4096, opts)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				if err := d.Unlink("bench"); err != nil {
					b.Fatal(err)
				}
			}
			// On a loaded machine the wall time mostly measures waiting
			// for a CPU; the process's CPU time does not.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time (user and system) this process has used, in
// nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
