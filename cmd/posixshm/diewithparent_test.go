package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// startkillMain is the program "startkill DIR MARK DELAY": it starts, again
// and again from one locked thread, children that die with it
// (dieWithParent), each a shell that writes its PID to DIR/PID and then
// sleeps 30 s, with MARK on its command line; after DELAY it kills itself
// with SIGKILL, most likely in the middle of a start.
func startkillMain() int {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: startkill DIR MARK DELAY")
		return 2
	}
	dir, mark := os.Args[1], os.Args[2]
	delay, err := time.ParseDuration(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	runtime.LockOSThread()
	time.AfterFunc(delay, func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) })
	for {
		cmd := exec.Command("/bin/sh", "-c", `echo $$ >"$1/$$"; exec sleep 30`, mark, dir)
		dieWithParent(cmd)
		cmd.Start()
	}
}

// TestDieWithParent_KilledDuringStart kills (SIGKILL) a process while it
// starts children with dieWithParent, at random moments, and checks that
// no child survives it: neither one that had run its command (it wrote its
// PID) nor one caught between fork and exec, which would still carry the
// parent's command line with the mark and run the shell later. Go's
// os/exec sets the parent-death signal in the child before exec and then
// kills the child itself if its parent already died (getppid() differs
// from the PID read before the fork); this exercises that path with a
// real kill -9, POSIXSHM_STRESS=1 runs 500 rounds instead of 10.
func TestDieWithParent_KilledDuringStart(t *testing.T) {
	if !parentDeathSignal || runtime.GOOS != "linux" {
		t.Skip("checks processes in /proc on Linux")
	}
	bin, err := exec.LookPath("startkill") // installed by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	rounds := 10
	if os.Getenv("POSIXSHM_STRESS") != "" {
		rounds = 500
	}
	children, preExec := 0, 0
	for round := range rounds {
		dir := t.TempDir()
		mark := fmt.Sprintf("posixshm-startkill-%d-%d", os.Getpid(), round)
		delay := time.Duration(2000+rand.IntN(18000)) * time.Microsecond
		cmd := exec.Command(bin, dir, mark, delay.String()) // no output: survivors must not hold our pipes
		err := cmd.Run()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("startkill: %v, want death by SIGKILL", err)
		}
		// Forks the kill caught before their exec: they still run the
		// test binary (a shell would be "sh"). Each must die too.
		for _, pid := range marked(mark) {
			if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); string(bytes.TrimSpace(comm)) == "startkill" {
				preExec++
			}
		}
		// A child that escaped between fork and exec would run its
		// shell, and write its PID, within this time.
		time.Sleep(100 * time.Millisecond)
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		children += len(ents)
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				t.Fatalf("%s: %v", filepath.Join(dir, e.Name()), err)
			}
			if dead, what := procDead(pid); !dead {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("round %d: child %d is %s after its parent's SIGKILL", round, pid, what)
			}
		}
		for _, pid := range marked(mark) {
			dead, what := procDead(pid)
			if !dead {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("round %d: process %d with the mark is %s after its parent's SIGKILL", round, pid, what)
			}
		}
	}
	t.Logf("%d rounds: %d children had run their command when their parent was killed, %d were caught between fork and exec; none survived",
		rounds, children, preExec)
}

// marked returns the processes whose command line holds mark.
func marked(mark string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cl, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && bytes.Contains(cl, []byte(mark)) {
			pids = append(pids, pid)
		}
	}
	return pids
}
