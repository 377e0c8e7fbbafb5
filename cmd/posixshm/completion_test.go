package main

import (
	"flag"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestCompletion_FromTable: the scripts are made from the command table, so
// a command another branch registers (here "frob", with a flag and a NAME)
// is completed by every shell without any change to the generator; hidden
// commands are not.
func TestCompletion_FromTable(t *testing.T) {
	cmds := map[string]*command{}
	for n, c := range commands {
		cmds[n] = c
	}
	cmds["frob"] = &command{name: "frob", args: "[--dir DIR] [--level N] [--] NAME...", summary: "frobnicate objects",
		setFlags: func(fs *flag.FlagSet) { dirFlag(fs); fs.Int("level", 1, "frobnicate to `N`") }}
	m := completionModelOf(cmds)
	for shell, script := range map[string]string{"bash": m.bash(), "zsh": m.zsh(), "fish": m.fish()} {
		for _, want := range []string{"frob", "--level", "frobnicate objects", "completion"} {
			if want == "frobnicate objects" && shell == "bash" {
				continue // bash shows no descriptions
			}
			if !strings.Contains(script, want) {
				t.Errorf("%s script lacks %q", shell, want)
			}
		}
		if strings.Contains(script, "__worker") || strings.Contains(script, "'__names") {
			t.Errorf("%s script offers a hidden command", shell)
		}
	}
	i := slices.IndexFunc(m, func(c compCommand) bool { return c.name == "frob" })
	if i < 0 || !slices.Equal(m[i].operands, []string{"name..."}) || !slices.Equal(m[i].valued(), []string{"--dir", "--level"}) {
		t.Errorf("frob's model: %+v", m[i])
	}
}

func TestOperandKinds(t *testing.T) {
	for _, tt := range []struct {
		args string
		want []string
	}{
		{"[--dir DIR] [--] NAME...", []string{"name..."}},
		{"[--dir DIR] [--timeout DUR] [--] NAME CMD [ARGS...]", []string{"name", "cmd", "file..."}},
		{"[--dir DIR] [--timeout DUR] [--since COUNT | --count] [--] NAME", []string{"name"}},
		{"[--dir DIR] [--json]", nil},
		{"bash|zsh|fish", []string{"words:bash|zsh|fish"}},
	} {
		if got := operandKinds(tt.args); !slices.Equal(got, tt.want) {
			t.Errorf("operandKinds(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestCompletion_Shells: CI sets POSIXSHM_REQUIRE_SHELLS=1, so that the
// completion scripts are run in zsh and fish there, not skipped.
func TestCompletion_Shells(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if _, err := exec.LookPath(sh); err != nil {
			if os.Getenv("POSIXSHM_REQUIRE_SHELLS") == "1" {
				t.Errorf("%s is not installed, and POSIXSHM_REQUIRE_SHELLS=1 asks for its completion test (apt-get install %s)", sh, sh)
			} else {
				t.Logf("%s is not installed: testdata/script/completion.txtar skips its part", sh)
			}
		}
	}
}
