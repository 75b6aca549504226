// Command gregor is the one binary of the project: the broker and the tools around it.
// Subcommands are thin: they parse flags and call into the packages that do the work.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

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

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: gregor <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-30s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun `gregor <command> -h` for a command's flags.\n")
}

func main() { os.Exit(run(os.Args[1:])) }

// run is the command line's outcome as an exit status: 0 done (or help asked for), 2 a wrong
// command line, 1 a failure of the work itself.
func run(args []string) int {
	if len(args) == 0 {
		usage(os.Stderr)
		return 2
	}
	if isHelp(args[0]) {
		usage(os.Stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "gregor: unknown command %q\n\n", args[0])
		usage(os.Stderr)
		return 2
	}
	err := cmd.run(args[1:])
	var ue usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "%s: %v\nRun `%s -h` for usage.\n", toolName(args[0]), err, toolName(args[0]))
		return 2
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", toolName(args[0]), err)
		return 1
	}
}

// toolName is how a command names itself in messages: Kafka's tools by their script's name.
func toolName(cmd string) string {
	if strings.HasSuffix(cmd, ".sh") {
		return cmd
	}
	return "gregor " + cmd
}

// newLogger builds the logger from the shared --log-format / --log-level flags.
func newLogger(format, level string) (*logrus.Logger, error) {
	return logging.New(format, level, os.Stderr)
}
