package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/internal/ownerfile"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
)

var backupCommand = cli.Command{Name: "backup", Usage: "--data DIR --out FILE",
	Summary: "copy a node's database to FILE while the node serves (a consistent snapshot in one file; never overwrites FILE)", Run: runBackup}

var restoreBackupCommand = cli.Command{Name: "restore-backup", Usage: "--from FILE --data DIR",
	Summary: "make a backup the database of a stopped node's data directory (refuses one that already has a database)", Run: runRestoreBackup}

// runBackup copies DIR/provex.db to FILE. The node may be running: the copy
// is one read transaction's snapshot, and the node's writes go on during it.
func runBackup(ctx context.Context, env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("backup", flag.ContinueOnError)
	dataDir := flags.String("data", "data", "the node's data directory")
	out := flags.String("out", "", "the backup file to write (must not exist)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *out == "" {
		return &cli.UsageError{Msg: "backup: --out FILE is required"}
	}
	path := filepath.Join(*dataDir, server.DatabaseFile)
	// A provex.db kept after a move to PostgreSQL is no longer the node's.
	if store, err := server.ServedStore(*dataDir); err != nil {
		return fmt.Errorf("backup: %w", err)
	} else if store != "" {
		return fmt.Errorf("backup: the node of %s serves from PostgreSQL (%s, as %s there says): its %s, if any, is the file it was moved from, not its store. "+
			"Back the store up with PostgreSQL's tools: pg_dump -Fc (docs/POSTGRES.md, Backups)",
			*dataDir, store, server.StoreFile, server.DatabaseFile)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("backup: no node database in %s (%s): %w", *dataDir, server.DatabaseFile, err)
	}
	info, err := sqlstore.Backup(ctx, path, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "backed up %s's database %s to %s (%d bytes)\n", info.Member, path, *out, info.Bytes)
	printHeads(env.Stdout, info)
	fmt.Fprintf(env.Stdout, "the node's key file is not in the backup: keep it as well. Check a copy of it (verify writes in the file it checks): cp %s CHECK.db && provex verify --db CHECK.db --key KEYFILE\n", *out)
	return nil
}

// runRestoreBackup copies a backup into a data directory as its database.
// It is the backup's own copy, not cp: it refuses a directory that has a
// database or the -wal of one (SQLite would read that stale WAL into the
// restored file), and takes a consistent copy even of a backup that
// provex verify left in WAL mode.
func runRestoreBackup(ctx context.Context, env *cli.Env, args []string) error {
	flags := flag.NewFlagSet("restore-backup", flag.ContinueOnError)
	from := flags.String("from", "", "the backup file, from provex backup")
	dataDir := flags.String("data", "data", "the data directory to restore into")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *from == "" {
		return &cli.UsageError{Msg: "restore-backup: --from FILE is required"}
	}
	if _, err := os.Stat(*from); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("restore-backup: no backup file at %s", *from)
	} else if err != nil {
		return fmt.Errorf("restore-backup: %w", err)
	}
	path := filepath.Join(*dataDir, server.DatabaseFile)
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Lstat(f); err == nil {
			return fmt.Errorf("restore-backup: %s already exists; restore only into a data directory without a database: stop the node and move %s (and its -wal and -shm) away first", f, server.DatabaseFile)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	_, statErr := os.Stat(*dataDir)
	made := errors.Is(statErr, fs.ErrNotExist)
	if err := ownerfile.MkdirPrivate(*dataDir, slog.New(slog.DiscardHandler)); err != nil {
		return fmt.Errorf("restore-backup: %w", err)
	}
	// A node still serving from the directory (its database moved away,
	// the node not stopped) holds the writer's lock, and would go on
	// writing to the moved file.
	lock, err := sqlstore.LockWriter(path, "restore-backup")
	if err != nil {
		return fmt.Errorf("restore-backup: %w; stop the node first", err)
	}
	defer lock.Close()
	info, err := sqlstore.Backup(ctx, *from, path)
	if err != nil {
		if made {
			// A backup refused (not a database, damaged) leaves no
			// directory behind that looks like a node's.
			lock.Close()
			os.Remove(path + "-lock")
			os.Remove(*dataDir)
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "restored %s's database from %s to %s (%d bytes)\n", info.Member, *from, path, info.Bytes)
	printHeads(env.Stdout, info)
	if _, err := os.Stat(filepath.Join(*dataDir, server.KeyFile)); err != nil {
		fmt.Fprintf(env.Stdout, "no %s in %s: put the node's key file there, or start it with provex serve --key KEYFILE (a new key would not match its signed log)\n", server.KeyFile, *dataDir)
	}
	if _, err := os.Stat(filepath.Join(*dataDir, "tls.crt")); err != nil {
		fmt.Fprintf(env.Stdout, "no tls.crt in %s: a backup holds no certificate; copy tls.crt and tls.key in, or issue them again (provex ca issue), or give serve --tls-dir\n", *dataDir)
	}
	return nil
}

func printHeads(w io.Writer, info *sqlstore.BackupInfo) {
	if len(info.Heads) == 0 {
		fmt.Fprintln(w, "  no change-log entries")
	}
	for _, h := range info.Heads {
		fmt.Fprintf(w, "  %s: change log up to %d\n", h.Origin, h.Seq)
	}
}
