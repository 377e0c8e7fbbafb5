package segment_test

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// The kill loop: a process that creates, uses and removes a segment over
// and over (OpenOrCreate and Close of a segment that removes itself when
// unused) is killed with SIGKILL at a random moment, again and again, and
// after each kill the next OpenOrCreate of the name must succeed. A name
// it cannot open is bricked: a supervisor restarting the killed service
// would never get it back.

const killHelperEnv = "POSIXSHM_KILL_HELPER"

// killRounds is the number of kills per kill-loop test:
// $POSIXSHM_KILLS, or a short run.
func killRounds(short int) int {
	if n, err := strconv.Atoi(os.Getenv("POSIXSHM_KILLS")); err == nil && n > 0 {
		return n
	}
	return short
}

// TestCreation_HelperProcess is not a test: it is the process the kill
// loop kills. It says "ready", then creates and closes the segment called
// name in its directory for ever.
func TestCreation_HelperProcess(t *testing.T) {
	spec, ok := os.LookupEnv(killHelperEnv)
	if !ok {
		t.Skip("helper process only")
	}
	args := strings.Split(spec, "\n")
	d, name := posixshm.Dir(args[0]), args[1]
	unixutil.NoTmpfile = args[2] == "tempname"
	opts := &segment.Options{Layout: d, RemoveWhenUnused: true}
	fmt.Println("ready")
	for {
		s, err := segment.OpenOrCreate(name, 4096, opts)
		if err != nil {
			time.Sleep(time.Millisecond) // a bricked name: nothing more to do
			continue
		}
		s.Bytes()[0]++
		s.Close()
	}
}

// tmpfsMagic is TMPFS_MAGIC, statfs(2)'s f_type of a tmpfs.
const tmpfsMagic = 0x01021994

// killLoopDir returns an empty directory on a tmpfs (tmpfs true) or on a
// disk file system, or skips the test if there is none.
func killLoopDir(t *testing.T, tmpfs bool) posixshm.Dir {
	t.Helper()
	parent := "/var/tmp"
	if tmpfs {
		parent = "/dev/shm"
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(parent, &sfs); err != nil {
		t.Skipf("no %s: %v", parent, err)
	}
	if (sfs.Type == tmpfsMagic) != tmpfs {
		t.Skipf("%s is not the kind of file system this test wants (f_type %#x)", parent, sfs.Type)
	}
	dir, err := os.MkdirTemp(parent, "posixshm-kill-")
	if err != nil {
		t.Skipf("cannot make a directory in %s: %v", parent, err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return posixshm.Dir(dir)
}

// TestOpenOrCreate_KillLoop kills a creating process at random moments
// (0–30 ms after it said it is ready) and checks after each kill that the
// next OpenOrCreate of the name succeeds. $POSIXSHM_KILLS sets the number
// of kills per file system (300 for the figures in the README).
func TestOpenOrCreate_KillLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns and kills processes")
	}
	for _, fsys := range []string{"tmpfs", "disk"} {
		for _, how := range []string{"default", "tempname"} {
			t.Run(fsys+"/"+how, func(t *testing.T) {
				d := killLoopDir(t, fsys == "tmpfs")
				if how == "tempname" {
					if !hasTmpfile(string(d)) {
						t.Skip("no O_TMPFILE in this build or file system: the default run took the temporary-name path")
					}
					unixutil.NoTmpfile = true
					defer func() { unixutil.NoTmpfile = false }()
				}
				killLoop(t, d, how, killRounds(20))
			})
		}
	}
}

// hasTmpfile reports whether new segments in dir are built in O_TMPFILE
// files (Linux, not the openbsdsim build), rather than under temporary
// names.
func hasTmpfile(dir string) bool {
	fd, err := unixutil.OpenTmpfile(dir, 0o600)
	if err == nil {
		unix.Close(fd)
	}
	return err == nil
}

// killLoop runs the kill loop in d and reports what it found.
func killLoop(t *testing.T, d posixshm.Dir, how string, kills int) {
	const name = "killed"
	path := segPath(t, d, name)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	opts := &segment.Options{Layout: d, RemoveWhenUnused: true, InitTimeout: 20 * time.Millisecond}
	var bricked, empty, unpublished int
	var other []string
	// What each kill left for the next OpenOrCreate: a temporary file of
	// a segment being built, a segment linked with its temporary name
	// still there, a segment (a killed user's, or the dead creator's).
	var temps, twoLinks, segments int
	for range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCreation_HelperProcess$", "-test.timeout=60s")
		cmd.Env = append(os.Environ(), killHelperEnv+"="+string(d)+"\n"+name+"\n"+how)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper: %q, %v", line, err)
		}
		time.Sleep(time.Duration(rng.IntN(30_001)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		var st unix.Stat_t
		if des, _ := os.ReadDir(string(d)); len(des) > 0 {
			for _, de := range des {
				if posixshm.IsTempName(de.Name()) {
					temps++
				}
			}
		}
		if unix.Lstat(path, &st) == nil {
			segments++
			if st.Nlink == 2 {
				twoLinks++
			}
		}
		s, err := segment.OpenOrCreate(name, 4096, opts)
		if err == nil {
			s.Close()
			continue
		}
		bricked++
		switch {
		case unix.Lstat(path, &st) == nil && st.Size == 0:
			empty++
		case errors.Is(err, segment.ErrNotInitialized):
			unpublished++
		default:
			other = append(other, err.Error())
		}
		// Clear the name by hand, as an operator would have to.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	built := "O_TMPFILE"
	if !hasTmpfile(string(d)) {
		built = "temporary names"
	}
	t.Logf("%s (%s): %d kills, %d names the next OpenOrCreate could not open (%d empty, %d sized but unpublished, %d other)",
		d, built, kills, bricked, empty, unpublished, len(other))
	t.Logf("the kills left %d temporary files, %d files under the name (%d with two links)", temps, segments, twoLinks)
	for _, e := range other {
		t.Log("other:", e)
	}
	if bricked > 0 {
		t.Errorf("%d of %d kills bricked the name", bricked, kills)
	}
	// Whatever a killed creator left for the next one to clean up, the
	// next one cleaned up: after the last Close nothing is left.
	left, _ := filepath.Glob(filepath.Join(string(d), "*"))
	hidden, _ := filepath.Glob(filepath.Join(string(d), ".*"))
	if left = append(left, hidden...); len(left) > 0 {
		t.Errorf("left in the directory: %q", left)
	}
}
