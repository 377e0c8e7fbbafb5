package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Process checks for the parent-death scripts, from Linux's /proc.

// procDead reports whether process pid has stopped running for good: it is
// gone, a zombie, or has SIGKILL pending (it runs no more instructions of
// its own). It also says what it found.
func procDead(pid int) (bool, string) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return true, "gone"
	}
	var state, name string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "Name":
			name = v
		case "State":
			state = v
			if strings.HasPrefix(v, "Z") || strings.HasPrefix(v, "X") {
				return true, "a zombie"
			}
		case "SigPnd", "ShdPnd":
			if m, err := strconv.ParseUint(v, 16, 64); err == nil && m&(1<<(syscall.SIGKILL-1)) != 0 {
				return true, "dying (SIGKILL pending)"
			}
		}
	}
	return false, fmt.Sprintf("alive (%s, state %s)", name, state)
}

// readPIDs reads the PIDs in file, one per line.
func readPIDs(file string) ([]int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("%s: no PID", file)
	}
	return pids, nil
}

// pidgoneMain is the program "pidgone PIDFILE": status 0 if every process
// listed in PIDFILE is dead now (see procDead), else it says which is not,
// kills it so that a failed test leaves nothing behind, and exits 1. Run
// as lock's CMD it checks that no earlier CMD runs alongside.
func pidgoneMain() int {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: pidgone PIDFILE")
		return 2
	}
	pids, err := readPIDs(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "pidgone:", err)
		return 2
	}
	status := 0
	for _, pid := range pids {
		if dead, what := procDead(pid); !dead {
			fmt.Fprintf(os.Stderr, "pidgone: pid %d is %s\n", pid, what)
			syscall.Kill(pid, syscall.SIGKILL)
			status = 1
		}
	}
	return status
}

// cmdPidsGone is "pidsgone PIDFILE": every process listed in PIDFILE must be
// dead (see procDead) within 5 s; survivors are killed and reported.
func cmdPidsGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pidsgone PIDFILE")
	}
	pids, err := readPIDs(ts.MkAbs(args[0]))
	ts.Check(err)
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for {
			dead, what := procDead(pid)
			if dead {
				ts.Logf("pid %d: %s", pid, what)
				break
			}
			if time.Now().After(deadline) {
				for _, p := range pids {
					syscall.Kill(p, syscall.SIGKILL)
				}
				ts.Fatalf("pid %d is %s 5s after its parent's death", pid, what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// cmdDemoWorkers is "demoworkers N DIR PIDFILE": it waits up to 10 s for N
// running "posixshm __worker" processes with DIR on their command line,
// and writes their PIDs to PIDFILE.
func cmdDemoWorkers(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: demoworkers N DIR PIDFILE")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	dir := ts.MkAbs(args[1])
	var pids []string
	waitFor(ts, args[0]+" demo workers", func() bool {
		pids = pids[:0]
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cl, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil {
				continue
			}
			argv := bytes.Split(cl, []byte{0})
			if len(argv) > 2 && string(argv[1]) == workerCommand && bytes.Contains(cl, []byte("\x00"+dir+"\x00")) {
				if dead, _ := procDead(pid); !dead {
					pids = append(pids, e.Name())
				}
			}
		}
		return len(pids) == n
	})
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(strings.Join(pids, "\n")+"\n"), 0o644))
}

// cmdWaitNoShm is "waitnoshm DIR": it waits up to 10 s until DIR holds no
// .shm file (demo unlinks its segment once every worker has opened it).
func cmdWaitNoShm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitnoshm DIR")
	}
	waitFor(ts, "no .shm file in "+args[0], func() bool {
		ents, err := os.ReadDir(ts.MkAbs(args[0]))
		if err != nil {
			return false
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".shm") {
				return false
			}
		}
		return true
	})
}
