package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
)

// openData opens a node's database by its data directory, or its
// PostgreSQL store when store is set, for the commands that manage a node
// from its machine (tokens, audit). The node may be running beside them
// (Options.Beside). member may be "" for a database that exists; with it,
// a new node's database is made.
func openData(ctx context.Context, dir, store, member string) (*sqlstore.DB, error) {
	if err := storeFlag("token", store); err != nil {
		return nil, err
	}
	if store == "" {
		if member != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
		}
		store = filepath.Join(dir, server.DatabaseFile)
		if _, err := os.Stat(store); member == "" && errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no node database in %s yet: give --member to make one (a node that has run there once records its member)", dir)
		}
	}
	return sqlstore.Open(ctx, store, member, sqlstore.Options{Logger: slog.New(slog.DiscardHandler), Beside: true})
}

const tokenUsage = "create --role viewer|editor|admin [--label L] [--expires 720h] [--member M] [--data DIR | --store URL] | list [--data DIR | --store URL] | revoke ID [--data DIR | --store URL]"

var tokenCommand = cli.Command{Name: "token", Usage: tokenUsage, Summary: "make, list or revoke a node's bearer tokens (on the node's machine)", Run: runToken}

func runToken(ctx context.Context, env *cli.Env, args []string) error {
	if len(args) == 0 {
		return &cli.UsageError{Msg: "token: the subcommand is create, list or revoke"}
	}
	switch {
	case cli.IsHelp(args[0]):
		return cli.Help("token")
	case args[0] != "create" && args[0] != "list" && args[0] != "revoke":
		// Before the flags and the database: "token issue --help" is no
		// command's help, and a wrong name opens (or makes) no database.
		return &cli.UsageError{Msg: fmt.Sprintf("token: unknown subcommand %q (want create, list or revoke)", args[0])}
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := fs.String("data", "data", "the node's data directory")
	store := fs.String("store", "", "the node's PostgreSQL store (postgres://...), when it runs with serve --store")
	// create's own flags: list and revoke take none of them (their help
	// listed them, and list made a database of a mistyped --data with
	// --member: an outside review).
	role, label, expires, member := new(string), new(string), new(time.Duration), new(string)
	if args[0] == "create" {
		role = fs.String("role", "", "viewer (reads), editor (reads and writes the node's own records) or admin (also the audit trail)")
		label = fs.String("label", "", "who or what holds the token")
		expires = fs.Duration("expires", 0, "lifetime, e.g. 720h (default: until revoked)")
		member = fs.String("member", "", "the node's member, to make tokens before the node first starts")
	}
	var ids []string
	var err error
	if args[0] == "revoke" {
		// The id may come before the flags, as the usage writes it.
		ids, err = cli.ParseFlags(fs, args[1:])
	} else {
		// An argument create or list ignored made a token or listed them,
		// exit 0 (an outside review).
		err = cli.ParseFlagsOnly(fs, args[1:])
	}
	if err != nil {
		return err
	}
	if args[0] == "revoke" && len(ids) != 1 {
		// Before the database, as every mistake of the command line.
		return &cli.UsageError{Msg: fmt.Sprintf("token revoke: want exactly one token id (see token list), got %d arguments", len(ids))}
	}
	var (
		plain string
		made  auth.Token
	)
	if args[0] == "create" {
		// The token is made before the database is opened (or made), as
		// every mistake of the command line is refused.
		r, err := auth.ParseRole(*role)
		if err != nil {
			return &cli.UsageError{Msg: "token create: " + err.Error()}
		}
		// A negative lifetime, as a script that computes one may give,
		// made a token that never expires (an outside review); 0 is
		// refused as ca --validity and manifest --valid refuse it.
		if *expires <= 0 && isSet(fs, "expires") {
			return &cli.UsageError{Msg: fmt.Sprintf("token create: --expires %s: must be positive (leave it out for a token that lasts until revoked)", *expires)}
		}
		now := time.Now()
		var until time.Time
		if *expires > 0 {
			until = now.Add(*expires)
		}
		if plain, made, err = auth.NewToken(r, until, *label, now); err != nil {
			return fmt.Errorf("token create: %w", err)
		}
	}
	db, err := openData(ctx, *dataDir, *store, *member)
	if err != nil {
		return err
	}
	defer db.Close()
	switch args[0] {
	case "create":
		if err := db.CreateToken(ctx, made); err != nil {
			return err
		}
		ownerOnlyOutput(env)
		fmt.Fprintln(env.Stdout, plain)
		fmt.Fprintf(env.Stderr, "token %s (%s) created; it is shown only now: send it as 'authorization: Bearer <token>'\n", made.ID, made.Role)
		return nil
	case "list":
		tokens, err := db.ListTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tLABEL\tCREATED\tEXPIRES\tREVOKED\tHASH")
		for _, t := range tokens {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s…\n", t.ID, t.Role, t.Label, when(t.CreateTime), when(t.ExpireTime), when(t.RevokeTime), hex.EncodeToString(t.Hash)[:12])
		}
		return tw.Flush()
	case "revoke":
		if err := db.RevokeToken(ctx, ids[0], time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "token %s revoked\n", ids[0])
		return nil
	}
	return &cli.UsageError{Msg: fmt.Sprintf("token: unknown subcommand %q", args[0])}
}

// ownerOnlyOutput makes the file a token is written to owner-only when
// standard output is one (`token create ... > cao-bang.token`, as the
// README does): the shell makes it with the umask's mode, commonly
// readable by every user of the machine (an outside review), and the token
// is a credential as a key file is.
func ownerOnlyOutput(env *cli.Env) {
	f, ok := env.Stdout.(*os.File)
	if !ok {
		return
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o077 == 0 {
		return
	}
	if st.Size() > 0 {
		// Appended to a file of other content (>> a shared log): not the
		// token's own file to tighten.
		fmt.Fprintf(env.Stderr, "WARNING: the file the token is written to is readable by other users (%v)\n", st.Mode().Perm())
		return
	}
	if err := f.Chmod(st.Mode().Perm() &^ 0o077); err != nil {
		fmt.Fprintf(env.Stderr, "WARNING: the file the token is written to is readable by other users (%v) and could not be made owner-only: %v\n", st.Mode().Perm(), err)
		return
	}
	fmt.Fprintf(env.Stderr, "the file the token is written to was readable by other users (%v): made owner-only (%v)\n", st.Mode().Perm(), st.Mode().Perm()&^0o077)
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

var auditCommand = cli.Command{Name: "audit", Usage: "verify [--data DIR | --store postgres://...] [--key FILE] [--manifest FILE]",
	Summary: "check a node's audit trail (chain, head signed by the node key, cover of the change log), from its database file or its PostgreSQL store", Run: runAudit}

func runAudit(ctx context.Context, env *cli.Env, args []string) error {
	if len(args) > 0 && cli.IsHelp(args[0]) {
		return cli.Help("audit")
	}
	if len(args) == 0 || args[0] != "verify" {
		return &cli.UsageError{Msg: "audit: the subcommand is verify"}
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := fs.String("data", "data", "the node's data directory")
	keyFile := fs.String("key", "", "the node's key file, whose public key checks the signed head (default: node.key in the data directory)")
	manifestFile := fs.String("manifest", "", "federation manifest, for the node's public key when its key file is elsewhere")
	store := fs.String("store", "", "the node's PostgreSQL store instead of a data directory (postgres://...), when it runs with serve --store; give --key")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	what := *dataDir
	if *store != "" {
		if isSet(fs, "data") {
			return &cli.UsageError{Msg: "audit verify: give --data DIR or --store URL, not both"}
		}
		if !sqlstore.IsPostgres(*store) {
			return &cli.UsageError{Msg: "audit verify: --store takes a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)"}
		}
		if err := storeFlag("audit verify", *store); err != nil {
			return err
		}
		what = shownStore(*store)
	}
	src, err := openForVerify(ctx, env.Stdout, *dataDir, *store, *keyFile, *manifestFile, true)
	if err != nil {
		return err
	}
	defer src.db.Close()
	problems, err := src.checkAudit(ctx, env.Stdout, false)
	if err != nil {
		return err
	}
	if problems > 0 {
		return fmt.Errorf("the audit trail of %s is not intact: %d problem(s)", what, problems)
	}
	return nil
}
