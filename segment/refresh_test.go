package segment_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/posixshm/posixshm/segment"
)

// eightDaysAgo is older than daily(8)'s -atime +7.
// eightDaysAgo is a time daily(8) would act on, to the microsecond: where
// there is no O_NOATIME (OpenBSD, the openbsdsim build) looking at a file
// puts its access time back with futimes(2), which keeps microseconds.
func eightDaysAgo() time.Time {
	return time.Now().Add(-8*24*time.Hour - time.Hour).Truncate(time.Microsecond)
}

// age sets both times of the segment's file to when.
func age(t *testing.T, s *segment.Segment, when time.Time) {
	t.Helper()
	if err := os.Chtimes(s.Path(), when, when); err != nil {
		t.Fatal(err)
	}
}

// recent reports whether the segment's file was accessed within a minute.
func recent(t *testing.T, path string) bool {
	t.Helper()
	atime, _ := segStat(t, path)
	return time.Since(time.Unix(0, atime)) < time.Minute
}

func stamp(t *testing.T, s *segment.Segment) time.Time {
	t.Helper()
	info, err := s.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return info.Refreshed
}

func TestSegment_RefreshOnOpen(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "r", 8, nil)
	age(t, s, eightDaysAgo())
	before := stamp(t, s)
	o, err := segment.Open("r", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if !recent(t, s.Path()) {
		t.Fatal("opening a segment with an old access time did not refresh it")
	}
	if _, mtime := segStat(t, s.Path()); time.Since(time.Unix(0, mtime)) > time.Minute {
		t.Error("modification time not refreshed")
	}
	if !stamp(t, s).After(before) {
		t.Error("shared stamp not advanced")
	}
}

// TestSegment_RefreshOnOpen_Fresh: a fresh segment costs no futimes.
func TestSegment_RefreshOnOpen_Fresh(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "f", 8, nil)
	tenMinutesAgo := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	age(t, s, tenMinutesAgo)
	o, err := segment.Open("f", in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.Lock(); err != nil {
		t.Fatal(err)
	}
	o.Unlock()
	if atime, _ := segStat(t, s.Path()); atime != tenMinutesAgo.UnixNano() {
		t.Fatalf("a fresh segment was refreshed: atime %v", time.Unix(0, atime))
	}
}

// TestSegment_RefreshOnLock: taking the lock refreshes once the shared
// stamp is older than the interval.
func TestSegment_RefreshOnLock(t *testing.T) {
	const interval = 40 * time.Millisecond
	opts := &segment.Options{RefreshInterval: interval}
	d := segDir(t)
	s := mustCreate(t, d, "l", 8, opts)
	for _, take := range []struct {
		name string
		lock func() error
	}{
		{"Lock", s.Lock},
		{"TryLock", func() error { _, err := s.TryLock(); return err }},
		{"LockContext", func() error { return s.LockContext(context.Background()) }},
	} {
		age(t, s, eightDaysAgo())
		before := stamp(t, s)
		// Once the stamp is older than the interval, the next lock
		// refreshes. Nothing else refreshes here, so lock until the file
		// is fresh: that the timer which marks the stamp due has fired
		// is not a matter of a fixed sleep on a loaded machine.
		for deadline := time.Now().Add(10 * time.Second); ; {
			time.Sleep(interval)
			if err := take.lock(); err != nil {
				t.Fatal(err)
			}
			s.Unlock()
			if recent(t, s.Path()) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s with a stale stamp did not refresh within 10s", take.name)
			}
		}
		if !stamp(t, s).After(before) {
			t.Fatalf("%s did not advance the stamp", take.name)
		}
	}
}

// TestSegment_RefreshOnLock_Shared: once one user advanced the shared
// stamp, the others do not call futimes again within the interval.
func TestSegment_RefreshOnLock_Shared(t *testing.T) {
	// Long enough that b.Lock, right after a.Lock, finds the stamp that
	// a.Lock advanced fresh even on a loaded machine.
	const interval = time.Second
	opts := &segment.Options{RefreshInterval: interval}
	d := segDir(t)
	a := mustCreate(t, d, "s", 8, opts)
	b, err := segment.Open("s", in(d, opts))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	time.Sleep(interval + interval/2) // both handles now consider the stamp due
	age(t, a, eightDaysAgo())
	a.Lock()
	a.Unlock()
	if !recent(t, a.Path()) {
		t.Fatal("first lock did not refresh")
	}
	old := eightDaysAgo()
	age(t, a, old)
	b.Lock()
	b.Unlock()
	if atime, _ := segStat(t, a.Path()); atime != old.UnixNano() {
		t.Fatal("second user refreshed again although the shared stamp was fresh")
	}
}

func TestSegment_RefreshDisabled(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "off", 8, nil)
	s.Close()
	old := eightDaysAgo()
	os.Chtimes(segPath(t, d, "off"), old, old)
	o, err := segment.Open("off", in(d, &segment.Options{RefreshInterval: -1}))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	o.Lock()
	o.Unlock()
	if atime, _ := segStat(t, o.Path()); atime != old.UnixNano() {
		t.Fatal("refreshed although refresh-on-use is off")
	}
	if err := o.Refresh(); err != nil {
		t.Fatal(err)
	}
	if !recent(t, o.Path()) {
		t.Fatal("explicit Refresh did nothing")
	}
}

func TestSegment_Refresh(t *testing.T) {
	s := mustCreate(t, segDir(t), "x", 8, nil)
	age(t, s, eightDaysAgo())
	before := stamp(t, s)
	time.Sleep(time.Millisecond)
	if err := s.Refresh(); err != nil {
		t.Fatal(err)
	}
	if !recent(t, s.Path()) || !stamp(t, s).After(before) {
		t.Fatal("Refresh did not refresh the file and the stamp")
	}
}

func TestSegment_KeepAlive(t *testing.T) {
	d := segDir(t)
	s := mustCreate(t, d, "k", 8, &segment.Options{RefreshInterval: -1})
	age(t, s, eightDaysAgo())
	ctx, cancel := context.WithCancel(context.Background())
	errc := s.KeepAlive(ctx, 10*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for !recent(t, s.Path()) {
		if time.Now().After(deadline) {
			t.Fatal("KeepAlive did not refresh")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	for err := range errc {
		t.Errorf("KeepAlive: %v", err)
	}

	// Closing the segment stops it as well.
	s2, err := segment.Create("k2", 8, in(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	errc = s2.KeepAlive(context.Background(), time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	s2.Close()
	select {
	case _, ok := <-errc:
		if ok {
			_, ok = <-errc
		}
		if ok {
			t.Fatal("KeepAlive channel not closed after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("KeepAlive did not stop after Close")
	}
}

func TestReadHeader_KeepsAtime(t *testing.T) {
	s := mustCreate(t, segDir(t), "ro", 8, nil)
	old := eightDaysAgo().Truncate(time.Second)
	age(t, s, old)
	f, err := os.Open(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := segment.ReadHeader(f); err != nil {
		t.Fatal(err)
	}
	if atime, mtime := segStat(t, s.Path()); atime != old.UnixNano() || mtime != old.UnixNano() {
		t.Fatal("ReadHeader moved the file's times: looking is not using")
	}
}

// BenchmarkTimeNow is the clock read that refresh-on-use avoids on every
// lock: compare with BenchmarkSegment_LockUnlock.
func BenchmarkTimeNow(b *testing.B) {
	var sink int64
	for b.Loop() {
		sink += time.Now().UnixNano()
	}
	_ = sink
}
