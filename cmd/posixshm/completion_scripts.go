package main

import (
	"fmt"
	"strings"
)

// The completion scripts. Each is generated from the command table
// (completionModel), so a new command, flag or operand appears in them
// without touching this file. Object names come from "posixshm __names",
// run as the binary the user typed, and are never evaluated by the shell:
// anyone can create a file in /dev/shm, so a name such as "/$(rm -rf ~)"
// must stay a string (bash's compgen -W would expand it).

// shq quotes s for sh, bash, zsh and fish alike: in single quotes, with a
// single quote written as '\” (fish reads \' inside single quotes, and
// the sh form too).
func shq(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (m compModel) bash() string {
	var b strings.Builder
	b.WriteString(`# bash completion for posixshm, made by "posixshm completion bash".
# Load it with: source <(posixshm completion bash)

# _posixshm_names adds to COMPREPLY the names of the objects (of the named
# semaphores if $2 is set) that begin with $cur, in the layout of the --dir
# given as $1 (none: this system's).
_posixshm_names() {
	local bin=${COMP_WORDS[0]/#\~/$HOME} name
	local -a args=(__names)
	if [[ -n $1 ]]; then args+=(--dir "${1/#\~/$HOME}"); fi
	if [[ -n $2 ]]; then args+=(--sem); fi
	while IFS= read -r name; do
		if [[ $name == "$cur"* ]]; then COMPREPLY+=("$(printf '%q' "$name")"); fi
	done < <("$bin" "${args[@]}" 2>/dev/null)
}

_posixshm() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	COMPREPLY=()
	if ((COMP_CWORD == 1)); then
		COMPREPLY=($(compgen -W ` + shq(strings.Join(m.names(), " ")+" --version --help") + ` -- "$cur"))
		return 0
	fi
	# A command with verbs (sem): the verb, then the verb's own flags and
	# operands, as if it were a command.
	local cmd=${COMP_WORDS[1]} first=2
	case $cmd in
`)
	for _, cc := range m {
		if len(cc.verbs) > 0 {
			fmt.Fprintf(&b, "\t%s)\n\t\tif ((COMP_CWORD == 2)); then\n\t\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n\t\t\treturn 0\n\t\tfi\n\t\tcmd=\"%s ${COMP_WORDS[2]}\" first=3 ;;\n",
				shq(cc.name), shq(strings.Join(cc.verbNames(), " ")), cc.name)
		}
	}
	b.WriteString(`	esac
	local flags= valued= operands= sems=
	case $cmd in
`)
	bashCase := func(name string, cc compCommand) {
		sems := ""
		if cc.sems {
			sems = " sems=1"
		}
		fmt.Fprintf(&b, "\t%s) flags=%s valued=%s operands=%s%s ;;\n", shq(name),
			shq(strings.Join(cc.flagWords(), " ")), shq(" "+strings.Join(cc.valued(), " ")+" "), shq(strings.Join(cc.operands, " ")), sems)
	}
	for _, cc := range m {
		if len(cc.verbs) == 0 {
			bashCase(cc.name, cc)
		}
		for _, v := range cc.verbs {
			bashCase(cc.name+" "+v.name, v)
		}
	}
	b.WriteString(`	*) return 0 ;;
	esac
	# The value of a flag: directories for --dir, nothing to offer for others.
	if [[ $valued == *" $prev "* ]]; then
		if [[ $prev == --dir ]]; then COMPREPLY=($(compgen -d -- "$cur")); fi
		return 0
	fi
	# Which operand is being completed (flags go before operands, "--"
	# ends them), the --dir given, and whether --sem was.
	local i w n=0 dashdash= dir=
	for ((i = first; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ -z $dashdash && $n -eq 0 && $w == -* ]]; then
			if [[ $w == -- ]]; then dashdash=1; continue; fi
			if [[ $w == --dir || $w == -dir ]]; then dir=${COMP_WORDS[i+1]}; fi
			if [[ $w == --sem || $w == -sem ]]; then sems=1; fi
			if [[ $valued == *" $w "* ]]; then ((i++)); fi
			continue
		fi
		((n++))
	done
	if [[ -z $dashdash && $n -eq 0 && $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
		return 0
	fi
	local -a kinds
	read -ra kinds <<<"$operands"
	local kind= last=${kinds[${#kinds[@]}-1]}
	if ((n < ${#kinds[@]})); then
		kind=${kinds[n]}
	elif [[ $last == *... ]]; then
		kind=$last
	fi
	kind=${kind%...}
	case $kind in
	name) _posixshm_names "$dir" "$sems" ;;
	cmd) COMPREPLY=($(compgen -c -- "$cur")) ;;
	file) COMPREPLY=($(compgen -f -- "$cur")) ;;
	words:*) w=${kind#words:}; COMPREPLY=($(compgen -W "${w//|/ }" -- "$cur")) ;;
	esac
	return 0
}

complete -F _posixshm posixshm
`)
	return b.String()
}

// zdesc escapes s for a description inside an _arguments spec's brackets.
func zdesc(s string) string {
	return strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `:`, `\:`).Replace(s)
}

func (m compModel) zsh() string {
	var b strings.Builder
	b.WriteString(`#compdef posixshm
# zsh completion for posixshm, made by "posixshm completion zsh".
# Install it as _posixshm in a directory of $fpath, or load it with
# source <(posixshm completion zsh) once compinit has run.

# _posixshm_names offers the names of the objects (of the named
# semaphores, with --sem as its argument or on the command line) in the
# layout of the --dir on the command line (none: this system's). $bin is
# the posixshm that _posixshm is completing for.
_posixshm_names() {
	local dir= sems=$1 i
	for (( i = 2; i < CURRENT; i++ )); do
		case ${words[i]} in
		--dir|-dir) dir=${words[i+1]} ;;
		--dir=*|-dir=*) dir=${words[i]#*=} ;;
		--sem|-sem) sems=--sem ;;
		esac
	done
	local -a args names
	args=(__names)
	if [[ -n $dir ]]; then args+=(--dir "${dir/#\~/$HOME}"); fi
	if [[ -n $sems ]]; then args+=(--sem); fi
	names=(${(f)"$("${bin/#\~/$HOME}" "${args[@]}" 2>/dev/null)"})
	_wanted names expl 'object name' compadd -a names
}

_posixshm() {
	local bin=${words[1]}
	local -a commands
	commands=(
`)
	for _, cc := range m {
		fmt.Fprintf(&b, "\t\t%s\n", shq(cc.name+":"+cc.summary))
	}
	b.WriteString(`	)
	if (( CURRENT == 2 )); then
		_describe -t commands 'posixshm command' commands
		return
	fi
	local cmd=${words[2]}
	shift words
	(( CURRENT-- ))
	case $cmd in
`)
	// zargs writes the _arguments call for cc's flags and operands,
	// indented by tabs.
	zargs := func(cc compCommand, tabs string) {
		fmt.Fprintf(&b, "%s_arguments -A '-*'", tabs)
		for _, f := range cc.flags {
			spec := flagName(f.name)
			if f.value != "" {
				action := " "
				if f.name == "dir" {
					action = "_directories"
				}
				spec += "=[" + zdesc(f.usage) + "]:" + zdesc(f.value) + ":" + action
			} else {
				spec += "[" + zdesc(f.usage) + "]"
			}
			fmt.Fprintf(&b, " \\\n%s\t%s", tabs, shq(spec))
		}
		for i, k := range cc.operands {
			pos := fmt.Sprint(i + 1)
			if strings.HasSuffix(k, "...") {
				pos, k = "*", strings.TrimSuffix(k, "...")
			}
			var spec string
			switch {
			case k == opName && cc.sems:
				spec = pos + ":semaphore name:_posixshm_names --sem"
			case k == opName:
				spec = pos + ":object name:_posixshm_names"
			case k == opCmd:
				spec = pos + ":command:_command_names -e"
			case strings.HasPrefix(k, opWords):
				spec = pos + ":word:(" + strings.ReplaceAll(strings.TrimPrefix(k, opWords), "|", " ") + ")"
			default:
				spec = pos + ":file:_files"
			}
			fmt.Fprintf(&b, " \\\n%s\t%s", tabs, shq(spec))
		}
		b.WriteString("\n")
	}
	for _, cc := range m {
		fmt.Fprintf(&b, "\t%s)\n", shq(cc.name))
		if len(cc.verbs) == 0 {
			zargs(cc, "\t\t")
			b.WriteString("\t\t;;\n")
			continue
		}
		// A command with verbs: the verb, then its own flags and operands.
		b.WriteString("\t\tlocal -a verbs\n\t\tverbs=(\n")
		for _, v := range cc.verbs {
			fmt.Fprintf(&b, "\t\t\t%s\n", shq(v.name+":"+v.summary))
		}
		fmt.Fprintf(&b, "\t\t)\n\t\tif (( CURRENT == 2 )); then\n\t\t\t_describe -t verbs %s verbs\n\t\t\treturn\n\t\tfi\n", shq(cc.name+" verb"))
		b.WriteString("\t\tlocal verb=${words[2]}\n\t\tshift words\n\t\t(( CURRENT-- ))\n\t\tcase $verb in\n")
		for _, v := range cc.verbs {
			fmt.Fprintf(&b, "\t\t%s)\n", shq(v.name))
			zargs(v, "\t\t\t")
			b.WriteString("\t\t\t;;\n")
		}
		b.WriteString("\t\tesac\n\t\t;;\n")
	}
	b.WriteString(`	esac
}

if [[ ${funcstack[1]} == _posixshm ]]; then
	_posixshm "$@"
else
	compdef _posixshm posixshm
fi
`)
	return b.String()
}

func (m compModel) fish() string {
	var b strings.Builder
	b.WriteString(`# fish completion for posixshm, made by "posixshm completion fish".
# Install it as ~/.config/fish/completions/posixshm.fish, or load it with
# posixshm completion fish | source

# __posixshm_is KIND: whether the word being completed is an operand of
# that kind (name, cmd, file, or words:a|b) for the command on the line.
function __posixshm_is
    set -l tokens (commandline -opc)
    test (count $tokens) -ge 2; or return 1
    # A command with verbs (sem): the verb, then its own flags and operands.
    set -l key $tokens[2]
    set -l first 3
    if contains -- $tokens[2]`)
	for _, cc := range m {
		if len(cc.verbs) > 0 {
			b.WriteString(" " + shq(cc.name))
		}
	}
	b.WriteString(`
        test (count $tokens) -ge 3; or return 1
        set key "$tokens[2] $tokens[3]"
        set first 4
    end
    set -l kinds
    set -l valued
    switch $key
`)
	fishCase := func(key string, cc compCommand) {
		fmt.Fprintf(&b, "        case %s\n            set kinds", shq(key))
		for _, k := range cc.operands {
			if k == opName && cc.sems {
				k = "sem"
			}
			b.WriteString(" " + shq(k))
		}
		b.WriteString("\n            set valued")
		for _, v := range cc.valued() {
			b.WriteString(" " + shq(v))
		}
		b.WriteString("\n")
	}
	for _, cc := range m {
		if len(cc.verbs) == 0 {
			fishCase(cc.name, cc)
		}
		for _, v := range cc.verbs {
			fishCase(cc.name+" "+v.name, v)
		}
	}
	b.WriteString(`        case '*'
            return 1
    end
    set -l n 0
    set -l dashdash 0
    set -l skip 0
    for t in $tokens[$first..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        if test $dashdash = 0 -a $n = 0; and string match -q -- '-*' $t
            if test $t = --
                set dashdash 1
            else if contains -- $t $valued
                set skip 1
            end
            continue
        end
        set n (math $n + 1)
    end
    test $skip = 0; or return 1
    set -l current (commandline -ct)
    if test $dashdash = 0 -a $n = 0; and string match -q -- '-*' $current
        return 1
    end
    set -l k
    if test (math $n + 1) -le (count $kinds)
        set k $kinds[(math $n + 1)]
    else if test (count $kinds) -gt 0; and string match -q -- '*...' $kinds[-1]
        set k $kinds[-1]
    end
    test (string replace -- '...' '' "$k") = "$argv[1]"
end

# __posixshm_names prints the names of the objects (of the named
# semaphores, with --sem as its argument or on the command line) in the
# layout of the --dir on the command line (none: this system's).
function __posixshm_names
    set -l tokens (commandline -opc)
    set -l args __names
    set -l sems $argv
    for i in (seq 2 (count $tokens))
        if contains -- $tokens[$i] --dir -dir; and test $i -lt (count $tokens)
            set args __names --dir $tokens[(math $i + 1)]
        end
        if contains -- $tokens[$i] --sem -sem
            set sems --sem
        end
    end
    $tokens[1] $args $sems 2>/dev/null
end

function __posixshm_command
    set -l tokens (commandline -opc)
    test (count $tokens) -ge 2; and contains -- $tokens[2] $argv
end

# __posixshm_verb CMD VERB...: whether the line is CMD and one of the VERBs
# (with the verb complete: a word after it is being completed).
function __posixshm_verb
    set -l tokens (commandline -opc)
    test (count $tokens) -ge 3; and test $tokens[2] = $argv[1]; and contains -- $tokens[3] $argv[2..-1]
end

complete -c posixshm -f
complete -c posixshm -n 'test (count (commandline -opc)) -eq 1' -l version -d 'print the version'
complete -c posixshm -n 'test (count (commandline -opc)) -eq 1' -s h -l help -d 'list the commands'
`)
	for _, cc := range m {
		fmt.Fprintf(&b, "complete -c posixshm -n 'test (count (commandline -opc)) -eq 1' -a %s -d %s\n", shq(cc.name), shq(cc.summary))
	}
	fishFlags := func(cond string, cc compCommand) {
		for _, f := range cc.flags {
			opt := "-l" // fish: -l for --name, -s for a one-letter -n
			if len(f.name) == 1 {
				opt = "-s"
			}
			fmt.Fprintf(&b, "complete -c posixshm -n %s %s %s", shq(cond), opt, shq(f.name))
			if f.value != "" {
				b.WriteString(" -r")
				if f.name == "dir" {
					b.WriteString(" -a '(__fish_complete_directories)'")
				}
			}
			fmt.Fprintf(&b, " -d %s\n", shq(f.usage))
		}
	}
	for _, cc := range m {
		if len(cc.verbs) == 0 {
			fishFlags("__posixshm_command "+cc.name, cc)
			continue
		}
		for _, v := range cc.verbs {
			fmt.Fprintf(&b, "complete -c posixshm -n %s -a %s -d %s\n",
				shq("__posixshm_command "+cc.name+"; and test (count (commandline -opc)) -eq 2"), shq(v.name), shq(v.summary))
			fishFlags("__posixshm_verb "+cc.name+" "+v.name, v)
		}
	}
	b.WriteString(`complete -c posixshm -n '__posixshm_is name' -a '(__posixshm_names)'
complete -c posixshm -n '__posixshm_is sem' -a '(__posixshm_names --sem)'
complete -c posixshm -n '__posixshm_is cmd' -a '(__fish_complete_command)'
complete -c posixshm -n '__posixshm_is file' -F
`)
	seen := map[string]bool{}
	for _, cc := range m {
		if len(cc.verbs) > 0 {
			continue // the verbs are offered above
		}
		for _, k := range cc.operands {
			k = strings.TrimSuffix(k, "...")
			if strings.HasPrefix(k, opWords) && !seen[k] {
				seen[k] = true
				fmt.Fprintf(&b, "complete -c posixshm -n %s -a %s\n", shq("__posixshm_is "+shq(k)),
					shq(strings.ReplaceAll(strings.TrimPrefix(k, opWords), "|", " ")))
			}
		}
	}
	return b.String()
}
