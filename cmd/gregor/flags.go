package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// errHelp is returned by a command that printed its usage because it was asked to (-h,
// --help): main exits 0.
var errHelp = errors.New("help requested")

// usageError is a wrong command line (an unknown flag, a missing required one): main prints it
// with a pointer to the command's -h and exits 2, as flag-parsing tools do.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// usagef makes a usageError.
func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// newFlags is the flag set of one command or action. Its usage is the synopsis (the command line
// shape) and the flags; Parse errors are turned into usageErrors by parseFlags, and -h/--help
// prints the usage on stdout.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the flag package would print the usage on every error too
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s\n", synopsis)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(w, "\nflags:\n")
			printDefaults(w, fs)
		}
	}
	return fs
}

// printDefaults lists the flags as Kafka's tools and GNU tools spell them: --name for long
// names, -x for one letter.
func printDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		typ, usage := flag.UnquoteUsage(f)
		line := "  " + dash + f.Name
		if typ != "" {
			line += " " + typ
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "[]" {
			fmt.Fprintf(w, " (default %q)", d)
		}
		fmt.Fprintln(w)
	})
}

// parseFlags parses args into fs: -h/--help prints the usage and gives errHelp; any other
// parse error is a usageError naming what is wrong.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(os.Stdout)
		fs.Usage()
		return errHelp
	default:
		return usageError{err.Error()}
	}
}

// noArgs refuses positional arguments left after the flags: a misspelt flag value, or a
// flag written after one (the flag package stops at the first non-flag).
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// The one flag vocabulary: every command that talks to brokers takes -b/--bootstrap-server,
// every command about one topic -t/--topic, as kcat and Kafka's tools spell them.

// defaultBootstrap is where the gregor commands look for brokers without -b: the local cluster of
// scripts/cluster.sh, or $GREGOR_BOOTSTRAP_SERVER.
var defaultBootstrap = envOr("GREGOR_BOOTSTRAP_SERVER", "127.0.0.1:9092")

// defaultZooKeeper is `gregor zk`'s server without --server, or $GREGOR_ZOOKEEPER.
var defaultZooKeeper = envOr("GREGOR_ZOOKEEPER", "127.0.0.1:2181")

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func bootstrapFlag(fs *flag.FlagSet) *string {
	p := new(string)
	fs.StringVar(p, "bootstrap-server", defaultBootstrap, "broker address(es), comma-separated ($GREGOR_BOOTSTRAP_SERVER)")
	fs.StringVar(p, "b", defaultBootstrap, "short for --bootstrap-server")
	return p
}

func topicFlag(fs *flag.FlagSet, def, usage string) *string {
	p := new(string)
	fs.StringVar(p, "topic", def, usage)
	fs.StringVar(p, "t", def, "short for --topic")
	return p
}

func partitionFlag(fs *flag.FlagSet, def int, usage string) *int {
	p := new(int)
	fs.IntVar(p, "partition", def, usage)
	fs.IntVar(p, "p", def, "short for --partition")
	return p
}

func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// action is one verb of a command with verbs (gregor topics create, gregor perf produce).
type action struct {
	summary string
	run     func(name string, args []string) error
}

// runActions dispatches args[0] among actions; -h/--help or no action prints the list.
func runActions(cmd string, actions map[string]action, args []string) error {
	names := make([]string, 0, len(actions))
	for n := range actions {
		names = append(names, n)
	}
	sort.Strings(names)
	list := func(w io.Writer) {
		fmt.Fprintf(w, "usage: gregor %s <action> [flags]\n\nactions:\n", cmd)
		for _, n := range names {
			fmt.Fprintf(w, "  %-16s %s\n", n, actions[n].summary)
		}
		fmt.Fprintf(w, "\nRun `gregor %s <action> -h` for an action's flags.\n", cmd)
	}
	if len(args) > 0 && isHelp(args[0]) {
		list(os.Stdout)
		return errHelp
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("an action is required: %s", strings.Join(names, ", "))
	}
	a, ok := actions[args[0]]
	if !ok {
		return usagef("unknown action %q: %s", args[0], strings.Join(names, ", "))
	}
	return a.run(args[0], args[1:])
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" || a == "help" }
