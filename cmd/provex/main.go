// Command provex runs a provex node and talks to one.
//
//	provex demo                         start sample province nodes on loopback
//	provex serve --member cao-bang ...  run one node
//	provex get|list|create|update|delete|undelete|seed ...
//
// Run "provex help" for the full list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/storage/sqlstore"
)

func commands() []cli.Command {
	return append([]cli.Command{
		{Name: "demo", Usage: "[--data DIR] [--base-port 7400] [--log-level warn]", Summary: "start sample province nodes with data on loopback and print grpcurl/curl examples", Run: runDemo},
		{Name: "serve", Usage: "[--config FILE] [--member SLUG] [--grpc-addr A] [--http-addr A] [--data DIR] [--manifest F --key F --peers a,b]", Summary: "run a node", Run: runServe},
		caCommand,
		tokenCommand,
		auditCommand,
		verifyCommand,
		backupCommand,
		restoreBackupCommand,
		restoreCommand,
		migrateStoreCommand,
		{Name: "keygen", Usage: keygenUsage, Summary: "make (or rotate) a node's keys (signing and encryption) and print its manifest entry", Run: runKeygen},
		manifestCommand,
		{Name: "version", Usage: versionUsage, Summary: "print the version, commit, Go and SQLite versions of this binary", Run: func(_ context.Context, env *cli.Env, args []string) error { return runVersion(args, env.Stdout) }},
	}, cli.Commands()...)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		// No command is a command line that is wrong: exit 2, as a missing
		// argument is (it was 0).
		usage(stderr)
		return 2
	}
	if args[0] == "help" && len(args) > 1 {
		// "provex help backup" is "provex backup --help" (it printed the
		// list of commands).
		args = append(args[1:2:2], "--help")
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cli.Env{Stdout: stdout, Stderr: stderr, Stdin: stdin}
	for _, c := range commands() {
		if c.Name != args[0] {
			continue
		}
		err := c.Run(ctx, env, args[1:])
		if err == nil {
			return 0
		}
		var ue *cli.UsageError
		if !errors.As(err, &ue) {
			msg := cli.FormatError(err)
			if sqlstore.IsDiskFull(err) {
				// SQLite's words name neither the disk nor what to do, and
				// the step that met it (reading the manifest, a migration)
				// misleads.
				msg += "\n(the disk is full: make room on it and run the command again; SQLite needs some even to open a database, for its WAL and shared-memory files)"
			}
			fmt.Fprintln(stderr, "provex:", msg)
			return 1
		}
		// -h and --help of every command and subcommand end here: flag
		// sets stay silent (io.Discard) and report flag.ErrHelp.
		if errors.Is(err, flag.ErrHelp) {
			commandUsage(stdout, c, ue.Flags)
			return 0
		}
		fmt.Fprintln(stderr, "provex:", cli.FormatError(err))
		// The hint names the subcommand whose flags failed (national
		// search): the group's own help lists none.
		if ue.Flags != nil {
			fmt.Fprintf(stderr, "usage: provex %s %s\n(provex %s --help lists the flags with their defaults)\n", c.Name, c.Usage, ue.Flags.Name())
		} else {
			fmt.Fprintf(stderr, "usage: provex %s %s\n(provex %s --help says more)\n", c.Name, c.Usage, c.Name)
		}
		return 2
	}
	fmt.Fprintf(stderr, "provex: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// commandUsage prints a command's usage and, for a (sub)command's flag set,
// every flag with its default.
func commandUsage(w io.Writer, c cli.Command, flags *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: provex %s %s\n\n%s\n", c.Name, c.Usage, c.Summary)
	if flags == nil {
		return
	}
	fmt.Fprintf(w, "\nFlags of provex %s:\n", flags.Name())
	flags.SetOutput(w)
	flags.PrintDefaults()
	// A client command's token and CA come from the environment, which no
	// flag names: the help said nothing of PROVEX_TOKEN (an outside review).
	for _, client := range cli.Commands() {
		if client.Name == c.Name {
			fmt.Fprintln(w, "\nEnvironment:\n"+cli.Environment)
		}
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "provex: the data exchange of the provincial Departments of Foreign Affairs")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	width := 0
	for _, c := range commands() {
		width = max(width, len(c.Name))
	}
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-*s %s\n  %-*s   %s\n", width, c.Name, c.Summary, width, "", c.Usage)
	}
	fmt.Fprintln(w, "\nClient commands talk to --addr (default $PROVEX_ADDR or "+cli.DefaultAddr+"), waiting at most --timeout (default "+cli.DefaultTimeout.String()+"; sync status: "+cli.SyncStatusTimeout.String()+") for each answer.")
	fmt.Fprintln(w, "Their credentials, and that default, come from the environment:\n"+cli.Environment)
	// A group's --help has no flags of its own to list (an outside review).
	fmt.Fprintln(w, "provex COMMAND --help lists a command's flags with their defaults; provex COMMAND SUBCOMMAND --help those of a subcommand (ca init, token create, sync status ...).")
}
