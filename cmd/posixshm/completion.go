package main

import (
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

func init() {
	register(&command{
		name:    "completion",
		args:    "bash|zsh|fish",
		summary: "print a shell completion script",
		help: `Print a script that teaches the shell to complete posixshm's commands, their
flags, and, for commands that take names, the names of the objects that exist
(the objects "posixshm ls" lists, in the layout --dir selects). The script is
made from the command table, so it completes every command of the binary that
printed it.

Names are completed where a file tells its object's name (Linux's /dev/shm and
the other systems whose objects are files named after them). OpenBSD's layout
(/tmp/<sha256>.shm, and --dir) keeps only a hash of each name, so names are not
completed there.

examples:
  source <(posixshm completion bash)                    # bash, this shell; or in ~/.bashrc
  posixshm completion bash > /etc/bash_completion.d/posixshm
  posixshm completion zsh > "${fpath[1]}/_posixshm"       # zsh: then autoload -U compinit && compinit
  posixshm completion fish > ~/.config/fish/completions/posixshm.fish`,
		run: runCompletion,
	})
	register(&command{
		name:    "__names",
		args:    "[--dir DIR] [--sem]",
		summary: "list the names of existing objects (or semaphores), for completion",
		setFlags: func(fs *flag.FlagSet) {
			dirFlag(fs)
			semFlag(fs)
		},
		run:    runNames,
		hidden: true,
	})
}

func runCompletion(c *cli, args []string) int {
	if len(args) != 1 {
		return c.usageError("give one shell: bash, zsh or fish")
	}
	m := completionModel()
	switch args[0] {
	case "bash":
		fmt.Fprint(c.stdout, m.bash())
	case "zsh":
		fmt.Fprint(c.stdout, m.zsh())
	case "fish":
		fmt.Fprint(c.stdout, m.fish())
	default:
		return c.usageError("unknown shell %q: bash, zsh or fish", args[0])
	}
	return exitOK
}

// runNames prints, one per line, the names of the objects (with --sem, of
// the named semaphores) in the layout the --dir flag selected, where the
// files tell them: the names completion offers. Names that a shell could
// not show or take back as typed (control characters, invalid UTF-8) are
// left out.
func runNames(c *cli, args []string) int {
	if len(args) != 0 {
		return c.usageError("takes no arguments")
	}
	sc, err := c.scope()
	if err != nil || sc.hashed {
		return exitOK // nothing to offer: no error in the middle of a completion
	}
	des, err := os.ReadDir(sc.dir)
	if err != nil {
		return exitOK
	}
	kind, prefix, path := "shm", sc.prefix, c.layout().Path
	if c.flag("sem").(bool) {
		kind, prefix, path = "sem", "sem.", sc.semLayout().Path // glibc's: scope is not hashed here
	}
	for _, de := range des {
		base := de.Name()
		if sc.kind(base) != kind || de.Type()&fs.ModeType != 0 {
			continue
		}
		name := "/" + strings.TrimPrefix(base, prefix)
		if p, err := path(name); err != nil || p != filepath.Join(sc.dir, base) {
			continue // not a name this convention leads to that file
		}
		if printable(name) {
			fmt.Fprintln(c.stdout, name)
		}
	}
	return exitOK
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// What completion knows of each command, taken from the command table.
type compCommand struct {
	name, summary string
	flags         []compFlag
	operands      []string // kinds, in order: "name", "cmd", "words:a|b", "file"; a final "..." repeats
	// verbs are the subcommands of a command that has them (sem): the
	// first operand is one, and its own flags and operands follow it.
	verbs []compCommand
	// sems says that the command's names are named semaphores (sem's
	// verbs); a command with a --sem flag names them when it is given.
	sems bool
}

// commandVerbs are the commands whose first operand is a verb with its own
// flags and operands, and those verbs.
var commandVerbs = map[string]map[string]*command{"sem": semVerbs}

type compFlag struct {
	name, value, usage string // value: the flag's argument (DIR, DUR...); "" for a boolean flag
}

// Operand kinds.
const (
	opName  = "name"
	opCmd   = "cmd"
	opFile  = "file"
	opWords = "words:"
)

// compModel is every command completion knows, sorted by name.
type compModel []compCommand

func completionModel() compModel { return completionModelOf(commands) }

// completionModelOf is the model of the command table cmds.
func completionModelOf(cmds map[string]*command) compModel {
	var m compModel
	var visible []string
	for n, cmd := range cmds {
		if !cmd.hidden {
			visible = append(visible, n)
		}
	}
	sort.Strings(visible)
	for _, n := range visible {
		cc := compCommandOf(n, cmds[n])
		if verbs, ok := commandVerbs[n]; ok {
			for _, v := range slices.Sorted(maps.Keys(verbs)) {
				vc := compCommandOf(v, verbs[v])
				vc.sems = n == "sem"
				cc.verbs = append(cc.verbs, vc)
			}
		}
		m = append(m, cc)
	}
	// help completes command names; --version and -h are not commands.
	m = append(m, compCommand{name: "help", summary: "show a command's details, or the manual page (--man)",
		flags: []compFlag{{name: "man", usage: "print the manual page"}}, operands: []string{opWords + strings.Join(visible, "|")}})
	sort.Slice(m, func(i, j int) bool { return m[i].name < m[j].name })
	return m
}

// compCommandOf is the model of cmd, called name.
func compCommandOf(name string, cmd *command) compCommand {
	cc := compCommand{name: name, summary: cmd.summary, operands: operandKinds(cmd.args)}
	if cc.summary == "" { // a verb: its help is one line
		cc.summary, _, _ = strings.Cut(strings.TrimSuffix(cmd.help, "."), "\n")
	}
	cmd.flagSet().VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			arg = ""
		}
		cc.flags = append(cc.flags, compFlag{name: f.Name, value: arg, usage: usage})
	})
	return cc
}

// verbNames returns the names of cc's verbs.
func (cc compCommand) verbNames() []string {
	var n []string
	for _, v := range cc.verbs {
		n = append(n, v.name)
	}
	return n
}

// operandKinds reads a synopsis such as "[--dir DIR] [--] NAME CMD
// [ARGS...]": flag groups are skipped, NAME is an object's name, CMD a
// command, a|b|c one of those words, anything else a file; "..." repeats.
func operandKinds(args string) []string {
	var kinds []string
	depth := 0
	for _, tok := range strings.Fields(args) {
		inFlags := depth > 0 || strings.HasPrefix(tok, "[-")
		depth += strings.Count(tok, "[") - strings.Count(tok, "]")
		if inFlags {
			continue
		}
		word := strings.Trim(tok, "[]")
		repeat := strings.HasSuffix(word, "...")
		word = strings.TrimSuffix(word, "...")
		kind := opFile
		switch {
		case strings.Contains(word, "NAME"):
			kind = opName
		case word == "CMD":
			kind = opCmd
		case strings.Contains(word, "|"):
			kind = opWords + word
		}
		if repeat {
			kind += "..."
		}
		kinds = append(kinds, kind)
	}
	return kinds
}

// valued returns the flags of cc that take a value, as "--name" words.
func (cc compCommand) valued() []string {
	var v []string
	for _, f := range cc.flags {
		if f.value != "" {
			v = append(v, flagName(f.name))
		}
	}
	return v
}

func (cc compCommand) flagWords() []string {
	w := make([]string, 0, len(cc.flags)+1)
	for _, f := range cc.flags {
		w = append(w, flagName(f.name))
	}
	if len(cc.operands) > 0 && cc.name != "help" {
		w = append(w, "--")
	}
	return w
}

func (m compModel) names() []string {
	n := make([]string, len(m))
	for i, cc := range m {
		n[i] = cc.name
	}
	return n
}
