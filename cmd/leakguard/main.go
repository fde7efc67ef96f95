// Command leakguard is the one binary: the local scanner, the git hooks, the
// admin CLI and the daemon (`serve`) with all its roles.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes (docs/cli.md).
const (
	exitOK       = 0
	exitFindings = 1
	exitError    = 2
)

// env is what a command sees of the process, so tests run commands in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// environ lists the environment (for warnings about unknown
	// variables); nil means empty.
	environ func() []string
	// isTerminal reports whether stderr is a terminal (progress, colour).
	isTerminal func(w io.Writer) bool
}

type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

func commands() map[string]command {
	cmds := map[string]command{
		"scan":     {"scan files, folders, archives or git history for secrets", runScan},
		"hook":     {"git hooks: 'hook pre-push' and 'hook install'", runHook},
		"accounts": {"manage accounts: 'accounts create'", runAccounts},
		"keys":     {"manage API keys: create, list, revoke, rotate", runKeys},
		"serve":    {"run the daemon: key API, leak sources, revoker, notifier", runServe},
		"version":  {"print the version", runVersion},
	}
	for n, c := range gitleaksCommands() {
		cmds[n] = c
	}
	return cmds
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, environ: os.Environ, isTerminal: isTerminal}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, e *env, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout, cmds)
		if len(args) == 0 {
			return exitError
		}
		return exitOK
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "leakguard: unknown command %q (see 'leakguard --help')\n", args[0])
		return exitError
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: leakguard <command> [flags]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'leakguard <command> --help' for a command's flags.")
}

func runVersion(_ context.Context, e *env, _ []string) int {
	fmt.Fprintln(e.stdout, "leakguard", version)
	return exitOK
}

// fail prints a one-line error and returns the error exit code.
func fail(e *env, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "leakguard: "+format+"\n", a...)
	return exitError
}
