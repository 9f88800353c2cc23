package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// cliStderr is the stderr run hands the subcommands. A subcommand's
// --help prints its usage to stdout instead and is no usage error:
// flags sets that up, and run then exits 0, as `havip --help` does.
type cliStderr struct {
	io.Writer
	stdout io.Writer
	helped bool
}

// setUsage makes fs print the usage of subcommand name (its synopsis,
// what it does and its flags) when asked with -h or --help: to stdout
// when stderr is run's, else to stderr.
func setUsage(fs *pflag.FlagSet, name string, stderr io.Writer) {
	fs.Usage = func() {
		w := stderr
		if s, ok := stderr.(*cliStderr); ok {
			s.helped = true
			w = s.stdout
		}
		writeUsage(w, name, fs)
	}
}

// writeUsage prints the usage of subcommand name.
func writeUsage(w io.Writer, name string, fs *pflag.FlagSet) {
	synopsis, help := "havip "+name, ""
	word, _, sub := strings.Cut(name, " ")
	for _, c := range cliCommands {
		if c.name != word {
			continue
		}
		help = c.help
		if c.args != "" && !sub {
			synopsis += " " + strings.ReplaceAll(c.args, " ", "|")
		}
	}
	if fs.HasAvailableFlags() {
		synopsis += " [flags]"
	}
	fmt.Fprintf(w, "Usage: %s\n", synopsis)
	if help != "" {
		fmt.Fprintf(w, "\n%s.\n", strings.ToUpper(help[:1])+help[1:])
	}
	if fs.HasAvailableFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", fs.FlagUsages())
	}
}
