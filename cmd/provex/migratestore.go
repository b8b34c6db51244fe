package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
)

var migrateStoreCommand = cli.Command{Name: "migrate-store", Usage: "[--from sqlite:PATH|postgres://...] --to postgres://...|sqlite:PATH",
	Summary: "move a stopped node's store into an empty one: its SQLite file (PATH: provex.db or its data directory) to PostgreSQL, or back", Run: runMigrateStore}

// runMigrateStore copies a node's whole store into an empty one
// (sqlstore.CopyStore) and says how to check the copy. The node must be
// stopped: a serving node's file can be copied with provex backup first.
func runMigrateStore(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("migrate-store", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fromFlag := fs.String("from", "sqlite:data", "the store to copy: sqlite:PATH (a node's provex.db, or its data directory) or postgres://USER:PASSWORD@HOST:PORT/DATABASE")
	toFlag := fs.String("to", "", "the empty store to fill: postgres://... or sqlite:PATH (a new file, or a data directory without provex.db)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *toFlag == "" {
		return &cli.UsageError{Msg: "migrate-store: --to is required"}
	}
	from, err := storeArg("--from", *fromFlag)
	if err != nil {
		return err
	}
	to, err := storeArg("--to", *toFlag)
	if err != nil {
		return err
	}
	if from == to {
		return &cli.UsageError{Msg: "migrate-store: --from and --to name the same store"}
	}
	if !sqlstore.IsPostgres(from) {
		if _, err := os.Stat(from); err != nil {
			return fmt.Errorf("migrate-store: no node database at %s: %w", from, err)
		}
	}
	info, err := sqlstore.CopyStore(ctx, from, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "moved %s's store from %s to %s (%d tables, %d rows; summary rollups rebuilt from the records)\n",
		info.Member, shownStore(from), shownStore(to), info.Tables, info.Rows)
	printHeads(env.Stdout, &sqlstore.BackupInfo{Heads: info.Heads})
	check := "--db " + to
	if sqlstore.IsPostgres(to) {
		check = "--store '" + shownStore(to) + "'"
	}
	source := "its records and logs are unchanged (opening it brought its schema to this version, as a node's start would)"
	if info.Snapshot != "" {
		source = "not a byte of it changed (the copy read a snapshot of it, made in a temporary directory in " + info.Snapshot + " and removed)"
	}
	fmt.Fprintf(env.Stdout, "the source: %s. Check the copy with: provex verify %s --key KEYFILE (the node's key file; its data directory keeps it)\n", source, check)
	return nil
}

// storeArg is a store named on the command line: a PostgreSQL URL, or a
// SQLite file as sqlite:PATH or a bare PATH, where a directory means its
// provex.db. Its errors never repeat a URL, which may hold a password.
func storeArg(flagName, s string) (string, error) {
	if sqlstore.IsPostgres(s) {
		if err := sqlstore.CheckStoreURL(s); err != nil {
			return "", &cli.UsageError{Msg: "migrate-store: " + flagName + ": " + err.Error()}
		}
		return s, nil
	}
	path, ok := strings.CutPrefix(s, "sqlite:")
	// A libpq keyword string ("host=... password=...") was a bare PATH: a
	// SQLite file named after it made, and its password printed (an
	// outside review).
	if !ok && (strings.Contains(s, "://") || strings.HasPrefix(s, "postgres") || strings.Contains(s, "=")) {
		return "", &cli.UsageError{Msg: "migrate-store: " + flagName + " takes sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE (a path holding '=' as sqlite:PATH)"}
	}
	if path == "" {
		return "", &cli.UsageError{Msg: "migrate-store: " + flagName + ": sqlite: names no file (sqlite:PATH)"}
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, server.DatabaseFile)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("migrate-store: %s: %w", flagName, err)
	}
	return path, nil
}

// shownStore is a store as printed: a URL without its password.
func shownStore(s string) string {
	if !sqlstore.IsPostgres(s) {
		return s
	}
	return sqlstore.ShownURL(s)
}
