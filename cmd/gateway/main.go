// Command gateway is the citizen self-service gateway for social assistance: one binary whose
// subcommands run the server (serve), talk to it in a terminal (chat), import the department's
// records (import), work on understanding (nlu), make demo data (demo) and report on broadcasts
// (broadcast). Configuration comes from environment variables; see `gateway help config`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand. run gets the arguments after the subcommand's name.
type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, env *environ, args []string) error
}

// environ is what a subcommand may touch of the process: streams and variables, so tests can run
// subcommands in-process.
type environ struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// errUsage marks an error caused by wrong arguments (exit status 2).
var errUsage = errors.New("usage")

// exitError carries a specific exit status (1 = something was rejected, say) without a message.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func commands() []command {
	return []command{
		{"serve", "serve", "run the HTTP server and every configured channel (Telegram, SMS)", cmdServe},
		{"chat", "chat [--lang vi|en] [--channel telegram|sms] [--from ID]", "talk to the gateway in a terminal (scriptable: one message per input line)", cmdChat},
		{"import", "import applications|schedules FILE|- [--format csv|jsonl]", "load the department's records into the Redis read model", cmdImport},
		{"migrate", "migrate", "move data of the single-hash-tag layout to the partitioned one (idempotent, resumable)", cmdMigrate},
		{"nlu", "nlu classify | nlu eval FILE", "classify messages from stdin, or measure accuracy on a labelled JSONL file", cmdNLU},
		{"demo", "demo generate --applications N [--out DIR]", "write synthetic applications and schedules (CSV) for trials and benchmarks", cmdDemo},
		{"broadcast", "broadcast report ID", "print the delivery report of a broadcast", cmdBroadcast},
		{"staff", "staff add USERNAME --role admin|officer|viewer [--communes \"Vũ Phúc,Trần Lãm\"] | passwd|disable|enable|unlock USERNAME | list", "manage staff console accounts (password from stdin, or prompted)", cmdStaff},
		{"cases", "cases export [--from DATE] [--to DATE] FILE|-", "write the cases opened in a period, with their timelines, as JSONL (for archiving)", cmdCases},
		{"stats", "stats [--from DATE] [--to DATE] [--json]", "print the supervision figures per commune and in total (default: the last 30 days)", cmdStats},
		{"help", "help [config]", "list the subcommands, or the configuration variables", nil},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &environ{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(run(ctx, env, os.Args[1:]))
}

// run executes one subcommand and returns the exit status.
func run(ctx context.Context, env *environ, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 && args[1] == "config" {
			printConfig(env.stdout)
			return 0
		}
		printHelp(env.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] || c.run == nil {
			continue
		}
		err := c.run(ctx, env, args[1:])
		var ee exitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.code
		case errors.Is(err, errUsage):
			fmt.Fprintf(env.stderr, "gateway %s: %v\nusage: gateway %s\n", c.name, err, c.usage)
			return 2
		default:
			fmt.Fprintf(env.stderr, "gateway %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(env.stderr, "gateway: unknown command %q\n\n", args[0])
	printHelp(env.stderr)
	return 2
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "gateway: citizen self-service gateway for social assistance")
	fmt.Fprintln(w, "\nusage: gateway <command> [arguments]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n             gateway %s\n", c.name, c.summary, c.usage)
	}
	fmt.Fprintln(w, "\nWith no configuration, serve and chat use an embedded Redis with demo data.")
	fmt.Fprintln(w, "Configuration variables: gateway help config")
}
