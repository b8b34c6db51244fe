package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// A SQLite store's writer holds an exclusive lock on a file beside the
// database (provex.db-lock), as a PostgreSQL store's holds an advisory
// lock: a second node started on a data directory a node serves from
// (a copy of the service, a script run twice) fails to open instead of
// checking the serving node's log and audit trail mid-write, which it took
// for tampering and damage and recorded as such in the serving node's
// file (an outside review). SQLite's own locks let both at the file.
// The lock is the kernel's (flock), so it ends with the process, however
// that ends. The file names its holder, for the refusal.

// lockFileSuffix names the writer's lock file beside the database.
const lockFileSuffix = "-lock"

// holderNode is what a serving node writes in the lock file; a tool
// writes its name (Options.Tool).
const holderNode = "node"

// lockSQLiteWriter takes the writer's lock of the SQLite database at path
// for holder (holderNode or a tool's name). A node finding a tool holding
// it waits for the tool to end, saying so every minute, as on PostgreSQL.
func lockSQLiteWriter(ctx context.Context, path, holder string, logger *slog.Logger) (*os.File, error) {
	var logged time.Time
	for {
		f, err := tryLockSQLiteWriter(path, holder)
		if !errors.Is(err, ErrToolWriting) || holder != holderNode {
			return f, err
		}
		if time.Since(logged) >= time.Minute {
			logger.Warn("waiting for the writer's lock", "err", err)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Second):
		}
	}
}

func tryLockSQLiteWriter(path, holder string) (*os.File, error) {
	name := path + lockFileSuffix
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the writer's lock file: %w", err)
	}
	locked, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("the writer's lock file %s: %w", name, err)
	}
	if !locked {
		held, _ := os.ReadFile(name)
		f.Close()
		who, pid, _ := strings.Cut(strings.TrimSpace(string(held)), " ")
		if _, err := strconv.Atoi(pid); err != nil {
			pid = "?"
		}
		if who != holderNode && who != "" {
			return nil, fmt.Errorf("%w: provex %s, process %s, holds the writer's lock of %s (%s) until it ends", ErrToolWriting, who, pid, path, name)
		}
		return nil, fmt.Errorf("%w to %s: process %s holds its writer's lock (%s); one data directory, one node", ErrNodeWriting, path, pid, name)
	}
	// Only to name the holder in a refusal: the lock is what counts.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(holder+" "+strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}
