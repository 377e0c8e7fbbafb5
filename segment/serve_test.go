package segment_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/internal/unixutil"
	"github.com/posixshm/posixshm/lock"
	"github.com/posixshm/posixshm/posixshm"
	"github.com/posixshm/posixshm/segment"
)

// serve runs a helper process that attaches to segments as its stdin
// commands say, one reply line each ("ok ..." or "err ..."):
//
//	open NAME      OpenOrCreate NAME (64 bytes); the creator writes a random id to its data
//	openx NAME     Open NAME
//	close          Close it
//	lock, unlock   Lock (ok ownerdead after a recovery) or Unlock it
//	stat           Stat it: ok id=ID unlinked=BOOL
//	users          its Attached: ok pids=P,P overflow=N
//	fileusers PATH Users of PATH opened with os.Open, without attaching
//
// args: slots, remove when unused (0/1), judge by PID (0/1), then
// optionally attachpause=US (a random pause of up to US microseconds
// between mapping a file and attaching to it), claimpause=US (a pause
// between a gated claim and its checks), publishpause=US and
// publishwait=US (a random pause of up to US, and a pause of US, before a
// creator publishes the header; publishwait first prints "publishing", so
// that a test can wait for the creator to be there: see expect), detachpause=US (a pause before a
// last detach releases its claim) and removepause=US (a pause
// between a removal's check and its unlink), to widen those windows; and
// named (create segments under their names, as in a layout that cannot
// link: see namedLayout) or tempname (build new segments under temporary
// names, as where there is no O_TMPFILE).
func serve(d posixshm.Dir, args []string) {
	slots, _ := strconv.Atoi(args[0])
	if args[2] == "1" {
		segment.SetNoRecordLocks()
	}
	var layout posixshm.Layout = d
	for _, a := range args[3:] {
		k, v, _ := strings.Cut(a, "=")
		us, _ := strconv.Atoi(v)
		switch k {
		case "attachpause":
			segment.SetAttachHook(func() { time.Sleep(time.Duration(rand.IntN(us+1)) * time.Microsecond) })
		case "claimpause":
			segment.SetClaimedHook(func() { time.Sleep(time.Duration(us) * time.Microsecond) })
		case "publishpause":
			segment.SetPublishHook(func() { time.Sleep(time.Duration(rand.IntN(us+1)) * time.Microsecond) })
		case "publishwait":
			segment.SetPublishHook(func() {
				fmt.Println("publishing") // the header is written, the magic not yet
				time.Sleep(time.Duration(us) * time.Microsecond)
			})
		case "detachpause":
			segment.SetDetachHook(func() { time.Sleep(time.Duration(us) * time.Microsecond) })
		case "removepause":
			segment.SetRemoveHook(func() { time.Sleep(time.Duration(us) * time.Microsecond) })
		case "named":
			layout = namedLayout{d}
		case "tempname":
			unixutil.NoTmpfile = true
		}
	}
	opts := &segment.Options{Layout: layout, Slots: slots, RemoveWhenUnused: args[1] == "1", InitTimeout: 2 * time.Second}
	var s *segment.Segment
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		reply, err := serveOne(&s, opts, f)
		if err != nil {
			fmt.Printf("err %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Printf("ok %s\n", reply)
	}
}

// namedLayout is a layout of the caller's own (here, a Dir): package
// posixshm cannot build segments in it before naming them, so they are
// created under their names, with the creation lock (creation.go).
type namedLayout struct{ posixshm.Layout }

func serveOne(sp **segment.Segment, opts *segment.Options, f []string) (string, error) {
	s := *sp
	switch f[0] {
	case "open", "openx":
		var err error
		if f[0] == "open" {
			s, err = segment.OpenOrCreate(f[1], 64, opts)
		} else {
			s, err = segment.Open(f[1], opts)
		}
		if err != nil {
			return "", err
		}
		*sp = s
		if s.Creator() {
			binary.NativeEndian.PutUint64(s.Bytes(), rand.Uint64()|1)
		}
		info, err := s.Stat()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("id=%d unlinked=%v creator=%v", binary.NativeEndian.Uint64(s.Bytes()), info.Unlinked, s.Creator()), nil
	case "close":
		*sp = nil
		return "", s.Close()
	case "lock":
		err := s.Lock()
		if errors.Is(err, lock.ErrOwnerDead) {
			return "ownerdead", nil
		}
		return "", err
	case "unlock":
		return "", s.Unlock()
	case "stat":
		info, err := s.Stat()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("id=%d unlinked=%v", binary.NativeEndian.Uint64(s.Bytes()), info.Unlinked), nil
	case "users":
		u, err := s.Attached()
		return formatUsers(u), err
	case "fileusers":
		file, err := os.Open(f[1])
		if err != nil {
			return "", err
		}
		defer file.Close()
		u, err := segment.Users(file)
		return formatUsers(u), err
	}
	return "", fmt.Errorf("unknown command %q", f)
}

func formatUsers(u segment.Attachments) string {
	p := slices.Clone(u.PIDs)
	slices.Sort(p)
	s := make([]string, len(p))
	for i, pid := range p {
		s[i] = strconv.Itoa(pid)
	}
	return fmt.Sprintf("pids=%s overflow=%d", strings.Join(s, ","), u.Overflow)
}

// A server is a running serve helper.
type server struct {
	t   testing.TB
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	pid int
}

func startServer(t testing.TB, d posixshm.Dir, slots int, remove, pids bool, extra ...string) *server {
	t.Helper()
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSegment_HelperProcess$", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), segHelperEnv+"="+strings.Join(append([]string{"serve", string(d), strconv.Itoa(slots), b(remove), b(pids)}, extra...), "\n"))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, in: in, out: bufio.NewReader(out), pid: cmd.Process.Pid}
	t.Cleanup(s.kill)
	return s
}

// send sends a command without waiting for its reply.
func (s *server) send(cmd string) {
	if _, err := io.WriteString(s.in, cmd+"\n"); err != nil {
		s.t.Fatalf("pid %d: %s: %v", s.pid, cmd, err)
	}
}

// reply reads the reply to a command sent: its text after "ok ", or the
// error after "err " with ok false.
func (s *server) reply() (string, bool) {
	line, err := s.out.ReadString('\n')
	if err != nil {
		s.t.Fatalf("pid %d: reading a reply: %v", s.pid, err)
	}
	line = strings.TrimSuffix(line, "\n")
	if rest, ok := strings.CutPrefix(line, "ok"); ok {
		return strings.TrimSpace(rest), true
	}
	return strings.TrimPrefix(line, "err "), false
}

// expect reads one line of output that is not a reply, such as the
// "publishing" a publishwait hook prints, and fails unless it is want.
func (s *server) expect(want string) {
	s.t.Helper()
	line, err := s.out.ReadString('\n')
	if err != nil || line != want+"\n" {
		s.t.Fatalf("pid %d: read %q, %v; want %q", s.pid, line, err, want)
	}
}

// do runs a command that must succeed and returns its reply.
func (s *server) do(cmd string) string {
	s.t.Helper()
	s.send(cmd)
	r, ok := s.reply()
	if !ok {
		s.t.Fatalf("pid %d: %s: %s", s.pid, cmd, r)
	}
	return r
}

// kill kills the server with SIGKILL and reaps it.
func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
	}
}

// field returns the value of key=value in a reply.
func field(reply, key string) string {
	for _, f := range strings.Fields(reply) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}
