package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	// help is the rest of the help text: usage, description, flags are
	// added from the flag set, then examples.
	usage, description string
	examples           []string
	flags              func(fs *flag.FlagSet) any
	run                func(ctx context.Context, io *stdio, opts any, args []string) error
}

// stdio is where a command reads and writes, and its environment.
type stdio struct {
	in       io.Reader
	out, err io.Writer
	getenv   func(string) string
}

var commands []*command

// commandOrder is the order usage lists the commands in.
var commandOrder = []string{"send", "trigger", "replay", "explain", "listen", "deadletters"}

func register(c *command) { commands = append(commands, c) }

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// errUsage is a command line the command cannot run; it exits 2.
var errUsage = errors.New("usage")

// errFailed means the command ran and found what it reports as a failure
// (an answer not expected, a delivery that does not verify); it has
// printed why, and exits 1.
var errFailed = errors.New("failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, sio *stdio, args []string) int {
	if len(args) == 0 {
		usage(sio.err)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				help(sio.out, c)
				return 0
			}
			fmt.Fprintf(sio.err, "hookkit help %s: unknown command\n", args[1])
			return 2
		}
		usage(sio.out)
		return 0
	case "version", "-version", "--version":
		fmt.Fprintln(sio.out, "hookkit", version())
		return 0
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(sio.err, "hookkit: unknown command %q\n", name)
		usage(sio.err)
		return 2
	}
	fs := flag.NewFlagSet("hookkit "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	opts := c.flags(fs)
	pos, err := parseArgs(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		help(sio.out, c)
		return 0
	}
	if err != nil {
		fmt.Fprintf(sio.err, "hookkit %s: %v\nRun 'hookkit help %s' for usage.\n", c.name, err, c.name)
		return 2
	}
	err = c.run(ctx, sio, opts, pos)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errFailed):
		return 1
	case errors.Is(err, errUsage):
		fmt.Fprintf(sio.err, "hookkit %s: %v\nRun 'hookkit help %s' for usage.\n", c.name, strings.TrimSuffix(err.Error(), ": usage"), c.name)
		return 2
	}
	fmt.Fprintf(sio.err, "hookkit %s: %v\n", c.name, err)
	return 1
}

// usageErr is a command-line mistake.
func usageErr(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errUsage)...)
}

// parseArgs parses flags anywhere among the positional arguments (the
// flag package stops at the first); "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos, rest []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `hookkit sends, replays, explains and receives webhooks, offline, for every
sender hookkit verifies: Stripe, Twilio, Standard Webhooks (and Svix) and
HMAC senders (Etail Depot, GitHub, Shopify, Slack, GoConverso).

Usage:

	hookkit <command> [arguments]

The commands are:

`)
	for _, name := range commandOrder {
		if c := lookup(name); c != nil {
			fmt.Fprintf(w, "\t%-12s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprint(w, `
Use "hookkit help <command>" for more information about a command.
`)
}

// help prints a command's help: usage, description, flags and examples.
// Every example is also a test script (cmd/hookkit/clitest).
func help(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: hookkit %s %s\n\n%s\n", c.name, c.usage, strings.TrimSpace(c.description))
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.flags(fs)
	fmt.Fprintf(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	if len(c.examples) > 0 {
		fmt.Fprintf(w, "\nExamples:\n")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}
