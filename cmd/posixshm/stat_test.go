package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// statSeg runs "posixshm stat" and "posixshm stat --json" on the segment
// name in d, in a process of their own (not attached to it), and returns
// the text's lock and users lines and the JSON's segment.
func statSeg(t *testing.T, d posixshm.Dir, name string) (lockLine, usersLine string, seg segmentReport) {
	t.Helper()
	bin, err := exec.LookPath("posixshm") // installed by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "stat", "--dir", string(d), name).CombinedOutput()
	if err != nil {
		t.Fatalf("stat: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "lock:"); ok {
			lockLine = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "users:"); ok {
			usersLine = strings.TrimSpace(v)
		}
	}
	out, err = exec.Command(bin, "stat", "--json", "--dir", string(d), name).Output()
	if err != nil {
		t.Fatalf("stat --json: %v", err)
	}
	var r struct{ Segment *segmentReport }
	if err := json.Unmarshal(out, &r); err != nil || r.Segment == nil {
		t.Fatalf("stat --json: %v\n%s", err, out)
	}
	return lockLine, usersLine, *r.Segment
}

// lockHolder starts "posixshm lock" on the segment name in d with a
// command that waits, through prefix (e.g. unshare), and waits until it
// holds the lock.
func lockHolder(t *testing.T, d posixshm.Dir, name string, prefix ...string) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("posixshm")
	if err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(t.TempDir(), "held")
	argv := append(prefix, bin, "lock", "--dir", string(d), name, "sh", "-c", `touch "$0" && exec sleep 60`, ready)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	// A process group of its own, killed whole at the end: where the
	// lock's CMD does not die with it (the OpenBSD build, -tags
	// openbsdsim), a sleep left behind would keep the test's stderr open
	// ("Test I/O incomplete") for a minute.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		kill(cmd)
	})
	waitReady(t, ready)
	return cmd
}

// TestStat_LockHolderWithoutSlot: a lock held by an attachment without a
// slot (every slot taken) is held, not "free" as stat said when it read
// the holder's PID from the table alone; once that process is killed
// with SIGKILL, stat says the holder is dead. Users lists the slot's PID
// and counts the overflow attachment.
func TestStat_LockHolderWithoutSlot(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the lock's CMD dies with it on Linux only")
	}
	d := posixshm.Dir(t.TempDir())
	s, err := segment.Create("/one", 64, &segment.Options{Layout: d, Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() // this process takes the one slot
	h := lockHolder(t, d, "/one")
	lockLine, usersLine, seg := statSeg(t, d, "/one")
	if !strings.HasPrefix(lockLine, "held by an attachment without a slot, alive") || !seg.LockHeld || !seg.LockHolderAlive || seg.LockHolder != 0 {
		t.Errorf("holder without a slot, alive: lock: %q; json %+v", lockLine, seg)
	}
	// This process is attached, maps the segment, and is named where
	// /proc shows that.
	self := strconv.Itoa(os.Getpid())
	if procRoot != "" {
		self += " (" + readComm(filepath.Join(procRoot, self)) + ")"
	}
	if usersLine != "2 live attachments: pid "+self+"; 1 without a slot; a table of 1 slot" ||
		seg.Users == nil || seg.Users.Count != 2 || seg.Users.Overflow != 1 || !slices.Equal(seg.Users.PIDs, []int{os.Getpid()}) {
		t.Errorf("users: %q; json %+v", usersLine, seg.Users)
	}
	kill(h)
	lockLine, usersLine, seg = statSeg(t, d, "/one")
	if !strings.HasPrefix(lockLine, "held by an attachment without a slot, which is dead: the next locker recovers it") || !seg.LockHeld || seg.LockHolderAlive {
		t.Errorf("holder without a slot, killed: lock: %q; json %+v", lockLine, seg)
	}
	if usersLine != "1 live attachment: pid "+self+"; a table of 1 slot" {
		t.Errorf("users after the kill: %q", usersLine)
	}
}

// TestStat_LockHolderOtherPIDNamespace: a holder in another PID namespace
// recorded a PID that means another process here (1: here, this system's
// init). stat judges it by its attachment's record lock: alive while it
// runs, dead once killed, whatever process has PID 1 here (before, it
// asked kill(2) about PID 1, and said "alive" for ever).
func TestStat_LockHolderOtherPIDNamespace(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs root on Linux for unshare --pid")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1)")
	}
	if out, err := exec.Command(unshare, "--pid", "--fork", "--kill-child", "true").CombinedOutput(); err != nil {
		t.Skipf("unshare --pid --fork --kill-child: %v: %s", err, out)
	}
	d := posixshm.Dir(t.TempDir())
	s, err := segment.Create("/ns", 64, &segment.Options{Layout: d})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	h := lockHolder(t, d, "/ns", unshare, "--pid", "--fork", "--kill-child")
	lockLine, usersLine, seg := statSeg(t, d, "/ns")
	if !strings.HasPrefix(lockLine, "held by pid 1, alive") || !seg.LockHolderAlive || seg.LockHolder != 1 {
		t.Errorf("holder in another PID namespace, alive: lock: %q; json %+v", lockLine, seg)
	}
	// PID 1 here is another process, which does not map the segment:
	// it is given no name (before names were checked, it would have been
	// this system's init's).
	if usersLine != "1 live attachment: pid 1; a table of 64 slots" || seg.Users == nil ||
		len(seg.Users.Processes) != 1 || seg.Users.Processes[0] != (procJSON{PID: 1}) {
		t.Errorf("users: %q; json %+v", usersLine, seg.Users)
	}
	kill(h) // unshare; --kill-child takes the namespace's init, and with it the namespace
	// The namespace's init is not our child: give the kernel a moment to
	// end it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		lockLine, usersLine, seg = statSeg(t, d, "/ns")
		if !seg.LockHolderAlive || time.Now().After(deadline) {
			break
		}
	}
	if !strings.HasPrefix(lockLine, "held by pid 1, which is dead") || seg.LockHolderAlive || !seg.LockHeld {
		t.Errorf("holder in another PID namespace, killed: lock: %q; json %+v", lockLine, seg)
	}
	if usersLine != "none attached; a table of 64 slots" || seg.Users == nil || seg.Users.Count != 0 {
		t.Errorf("users after the kill: %q", usersLine)
	}
}
