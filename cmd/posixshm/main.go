// Command posixshm shows where POSIX shared memory objects live and manages
// them: OpenBSD's layout (/tmp/<sha256-hex(name)>.shm) or, without --dir,
// this system's own shm_open convention. Run "posixshm -h" for the commands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"
	"sort"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses, as flock(1) and most tools use them.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one subcommand. Each lives in its own file and registers itself
// in init, so adding one touches nothing else.
type command struct {
	name     string
	args     string // synopsis after the name, e.g. "[--dir DIR] [--] NAME..."
	summary  string // one line for the command list
	help     string // longer text with examples
	setFlags func(fs *flag.FlagSet)
	run      func(c *cli, args []string) int
	hidden   bool // internal: left out of the command list
	// names is how many leading operands are names, which must not look
	// like flags unless "--" came first; 0 means all of them. lock has 2
	// (NAME and CMD): the operands after them are CMD's own arguments.
	names int
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// cli carries the output streams and what the flags selected.
type cli struct {
	stdout, stderr io.Writer
	cmd            *command
	name           string // the subcommand, for messages
	dir            string // --dir, where the command has it
	flags          *flag.FlagSet
}

// flag returns the parsed value of the command's flag called name.
func (c *cli) flag(name string) any {
	return c.flags.Lookup(name).Value.(flag.Getter).Get()
}

// errorf reports a failure as "posixshm: <msg>" on stderr.
func (c *cli) errorf(format string, args ...any) {
	fmt.Fprintf(c.stderr, "posixshm: "+format+"\n", args...)
}

// fail reports err, which for the library's errors already reads
// "<op> <name>: <reason>", with the name and file quoted if they need it.
func (c *cli) fail(err error) { c.errorf("%s", describe(err, c.layout())) }

// failOn reports the error of the segment operation that command what
// made on the object called name: as the library's own message where it
// is a *fs.PathError, which names the object and its file already (a
// prefix would say "lock /w: lock /w: ..."), else after "what NAME: ".
func (c *cli) failOn(what, name string, err error) {
	if _, ok := err.(*fs.PathError); ok {
		c.fail(err)
		return
	}
	c.errorf("%s %s: %v", what, quoted(name), err)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[1] == "--man" {
			return runMan(stdout, stderr, args[2:])
		}
		if len(args) > 1 {
			if text, ok := topics[args[1]]; ok {
				fmt.Fprint(stdout, text)
				return exitOK
			}
			cmd, ok := commands[args[1]]
			if !ok {
				return unknownCommand(stderr, args[1])
			}
			cmdUsage(stdout, cmd)
			return exitOK
		}
		usage(stdout)
		return exitOK
	case "-version", "--version":
		bi, ok := debug.ReadBuildInfo()
		fmt.Fprintln(stdout, version(bi, ok))
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return unknownCommand(stderr, args[0])
	}
	return runCommand(cmd, args[1:], stdout, stderr)
}

// runCommand parses the command line args of cmd (after its name) and
// runs it.
func runCommand(cmd *command, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, cmd: cmd, name: cmd.name}
	fs := cmd.flagSet()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			cmdShortUsage(stdout, cmd)
			return exitOK
		}
		fmt.Fprintf(stderr, "posixshm %s: %v\n", cmd.name, err)
		fmt.Fprintf(stderr, "usage: posixshm %s %s\n", cmd.name, cmd.args)
		return exitUsage
	}
	c.flags = fs
	operands := fs.Args()
	// Go's flag package stops at the first operand, so a flag after a
	// name would be taken as one more name: "rm /x --dir /tmp/d" would
	// remove /x from this system's directory and then try objects called
	// "--dir" and "/tmp/d". Nothing may be done on such a command line.
	if !cmd.dashDash(args, operands) {
		if name, flagArg, ok := cmd.misplacedFlag(operands); ok {
			fmt.Fprintf(stderr, "posixshm: flags go before names: %q after %q (put -- before names that begin with -)\n", flagArg, name)
			fmt.Fprintf(stderr, "usage: posixshm %s %s\n", cmd.name, cmd.args)
			return exitUsage
		}
	}
	if f := fs.Lookup("dir"); f != nil {
		c.dir = f.Value.String()
		if c.dir == "" && isSet(fs, "dir") {
			// posixshm.Dir("") would be the file system's root, and
			// no --dir at all this system's convention: neither is
			// what an empty (say, unset) variable meant.
			return c.usageError("--dir: empty directory name; leave --dir out for this system's convention")
		}
	}
	return cmd.run(c, operands)
}

// flagSet returns a new set of cmd's flags that reports nothing itself.
func (cmd *command) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if cmd.setFlags != nil {
		cmd.setFlags(fs)
	}
	return fs
}

// dashDash reports whether the flags in args (the command line after the
// command's name) ended with "--", not at the first operand: only then may
// names begin with "-". The flag package consumes that "--", so it is
// found as the argument just before the operands, unless it was a flag's
// value ("--dir --"), in which case the flags before it do not parse on
// their own.
func (cmd *command) dashDash(args, operands []string) bool {
	k := len(args) - len(operands)
	if k == 0 || args[k-1] != "--" {
		return false
	}
	fs := cmd.flagSet()
	return fs.Parse(args[:k-1]) == nil && fs.NArg() == 0
}

// misplacedFlag finds a name after the first that looks like a flag, and
// returns it with the first name.
func (cmd *command) misplacedFlag(operands []string) (first, flagArg string, ok bool) {
	names := operands
	if cmd.names > 0 && len(names) > cmd.names {
		names = names[:cmd.names]
	}
	for i := 1; i < len(names); i++ {
		if a := names[i]; len(a) > 1 && a[0] == '-' { // "-" alone is no flag, as for package flag
			return names[0], a, true
		}
	}
	return "", "", false
}

// isSet reports whether the flag called name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// unknownCommand reports, in one line, a command that does not exist.
func unknownCommand(stderr io.Writer, name string) int {
	if len(name) > 1 && name[0] == '-' {
		fmt.Fprintf(stderr, "posixshm: %q before the command: flags go after it (posixshm COMMAND [FLAGS] [--] ARGS...); run 'posixshm help'\n", name)
	} else {
		fmt.Fprintf(stderr, "posixshm: unknown command %q: run 'posixshm help' for the list\n", name)
	}
	return exitUsage
}

// usageError reports a usage error for c's command and returns exitUsage.
func (c *cli) usageError(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "posixshm %s: %s\n", c.name, fmt.Sprintf(format, args...))
	fmt.Fprintf(c.stderr, "usage: posixshm %s %s\n", c.name, c.cmd.args)
	return exitUsage
}

// The command's own description, shared by usage and the man page.
const (
	objects  = "POSIX shared memory objects the way shm_open(3) lays them out" // what posixshm manages
	synopsis = "COMMAND [FLAGS] [--] ARGS..."
	overview = `Without --dir, names follow this system's own shm_open (OpenBSD: /tmp/<sha256>.shm;
Linux: /dev/shm/<name>). With --dir DIR, OpenBSD's layout rooted at DIR.
Flags go before names; names that begin with "-" go after "--".`
	exitStatusText = `0 on success; 1 on failure, with a message "posixshm: <op> <name>: <reason>"
on stderr; 2 on a usage error, when nothing was done; 128+N after signal N.
"posixshm lock" exits with CMD's status, "posixshm wait" with 1 after --timeout.`
)

// visibleCommands returns the names of the commands in the list, sorted.
func visibleCommands() []string {
	names := make([]string, 0, len(commands))
	for n, cmd := range commands {
		if !cmd.hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "posixshm manages %s.\n\nusage: posixshm %s\n\n%s\n\ncommands:\n", objects, synopsis, overview)
	width := 0
	for _, n := range visibleCommands() {
		width = max(width, len(n))
	}
	for _, n := range visibleCommands() {
		fmt.Fprintf(w, "  %-*s %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nexamples:\n%s\n", examples)
	fmt.Fprint(w, `
Run "posixshm help COMMAND" for a command's details and examples, "posixshm
COMMAND --help" for its flags (-h too, but in ls, stat and gc -h asks for sizes
as ls -h shows them), "posixshm help json" for the JSON that ls, stat and gc
print, "posixshm --version" for the version, "posixshm help --man" for a
manual page and "posixshm completion SHELL" for shell completion.
`)
}

// examples are the command list's examples.
const examples = `  posixshm path /myobject                  # the file behind a name
  posixshm create --size 1M /myseg         # a segment with 1 MiB of data
  posixshm stat /myseg                     # describe it, without refreshing it
  posixshm ls --dir /tmp                   # OpenBSD's objects in /tmp, with their daily(8) risk
  posixshm lock /myseg ./update-counters   # run a command holding the segment's lock
  posixshm keep /myseg &                   # refresh it hourly until interrupted
  posixshm wait --timeout 1m /myseg        # sleep until another process runs...
  posixshm notify --all /myseg             # ...this (see "posixshm help wait")
  posixshm gc --dry-run                    # what gc would remove (nobody attached), and why
  posixshm demo                            # N processes count under the lock`

// cmdUsage is "posixshm help CMD": the synopsis, the whole help text with
// its examples, and the flags.
func cmdUsage(w io.Writer, cmd *command) {
	fmt.Fprintf(w, "usage: posixshm %s %s\n\n%s\n", cmd.name, cmd.args, strings.TrimSpace(cmd.help))
	if flags := cmd.flagList(); flags != "" {
		fmt.Fprintf(w, "\nflags:\n%s", flags)
	}
}

// cmdShortUsage is "posixshm CMD -h": the synopsis, the summary, the flags
// and one example; the prose stays behind "posixshm help CMD".
func cmdShortUsage(w io.Writer, cmd *command) {
	fmt.Fprintf(w, "usage: posixshm %s %s\n\n%s.\n", cmd.name, cmd.args, upperFirst(cmd.summary))
	if flags := cmd.flagList(); flags != "" {
		fmt.Fprintf(w, "\nflags:\n%s", flags)
	}
	if ex := cmd.examples(); len(ex) > 0 {
		fmt.Fprintf(w, "\nexample:\n%s\n", ex[0])
	}
	fmt.Fprintf(w, "\nRun \"posixshm help %s\" for the details and more examples.\n", cmd.name)
}

// flagList lists cmd's flags as package flag's usage does, with "--".
func (cmd *command) flagList() string {
	var flags strings.Builder
	cmd.flagSet().VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + arg
		}
		fmt.Fprintf(&flags, "  %s%s\n    \t%s", flagName(f.Name), arg, text)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(&flags, " (default %s)", f.DefValue)
		}
		flags.WriteString("\n")
	})
	return flags.String()
}

// examples returns the lines of the "examples:" section of cmd's help,
// each as written (indented, with its comment).
func (cmd *command) examples() []string {
	_, ex, ok := strings.Cut(cmd.help, "\nexamples:\n")
	if !ok {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(ex, "\n") {
		if strings.TrimSpace(l) == "" {
			break
		}
		lines = append(lines, l)
	}
	return lines
}

// upperFirst is s with its first letter in upper case.
func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// flagName is the flag called name as it is written: "--dir", but "-h" and
// "-f" for the one-letter flags that stand for what they do in ls(1) and
// rm(1). (Package flag takes either form of either.)
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}
