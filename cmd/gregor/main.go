// Command gregor is the one binary of the project: the broker and the tools around it.
// Subcommands are thin: they parse flags and call into the packages that do the work.
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/internal/logging"
)

// command is one subcommand: a one-line summary and its entry point.
type command struct {
	summary string
	run     func(args []string) error
}

// commands is filled by each subcommand's file in an init function.
var commands = map[string]command{}

func register(name, summary string, run func(args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: gregor <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun `gregor <command> -h` for a command's flags.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "gregor: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "gregor %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// newLogger builds the logger from the shared --log-format / --log-level flags.
func newLogger(format, level string) (*logrus.Logger, error) {
	return logging.New(format, level, os.Stderr)
}
