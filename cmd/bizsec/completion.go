package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// The completion scripts ask the binary itself (bizsec __complete WORDS...)
// for the words that may follow, so they never fall behind the commands.
const bashCompletion = `# bash completion for bizsec; load with: source <(bizsec completion bash)
_bizsec() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local words
	words=$("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _bizsec bizsec
`

const zshCompletion = `#compdef bizsec
# zsh completion for bizsec; load with: source <(bizsec completion zsh)
_bizsec() {
	local -a next
	next=(${(f)"$(${words[1]} __complete ${words[2,CURRENT-1]} 2>/dev/null)"})
	if (( ${#next} )); then
		compadd -a next
	fi
	_files
}
if (( $+functions[compdef] )); then
	compdef _bizsec bizsec
fi
`

func completionCmd(args []string, stdout io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		c, _ := commandNamed("completion")
		fmt.Fprintf(stdout, "Usage: bizsec completion %s\n\n%s.\n", c.synopsis, c.summary)
		return nil
	}
	if len(args) != 1 {
		return usagef("bizsec completion needs one argument: bash or zsh")
	}
	switch args[0] {
	case "bash":
		fmt.Fprint(stdout, bashCompletion)
	case "zsh":
		fmt.Fprint(stdout, zshCompletion)
	default:
		return usagef("bizsec completion: no script for %q; want bash or zsh", args[0])
	}
	return nil
}

// complete prints, one a line, the words that may follow words: command
// names, subcommands, settings objects, or the command's flags.
func complete(ctx context.Context, words []string, stdout io.Writer) error {
	var names []string
	switch {
	case len(words) == 0:
		seen := map[string]bool{}
		for _, c := range commands {
			first, _, _ := strings.Cut(c.name, " ")
			if !seen[first] {
				seen[first] = true
				names = append(names, first)
			}
		}
	case len(words) == 1 && groups[words[0]] != "":
		names = subcommands(words[0])
	case len(words) == 2 && words[0] == "settings" && (words[1] == "get" || words[1] == "put"):
		names = objectNames
	case words[0] == "completion":
		names = []string{"bash", "zsh"}
	case words[0] == "help":
		for _, c := range commands {
			names = append(names, c.name)
		}
	default:
		// The command lists its flags instead of running (see parseFlags).
		n := 1
		if groups[words[0]] != "" && len(words) > 1 {
			n = 2
		}
		if words[0] == "settings" && len(words) > 2 {
			n = 3
		}
		if _, ok := commandNamed(strings.Join(words[:min(n, 2)], " ")); !ok {
			return nil
		}
		return ignoreHelp(run(ctx, words[:n], nil, flagLister{stdout}))
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	return nil
}

func ignoreHelp(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
