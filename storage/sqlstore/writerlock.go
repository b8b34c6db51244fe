package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
//
// The lock is not taken on the database file itself: closing any other
// descriptor of that file drops the POSIX locks SQLite holds on it in
// this process. The lock file is named after the database's real path
// (symbolic links resolved), so a link to the file or to its directory
// finds the same lock.

// lockFileSuffix names the writer's lock file beside the database.
const lockFileSuffix = "-lock"

// holderNode is what a serving node writes in the lock file; a tool
// writes its name (Options.Tool).
const holderNode = "node"

// LockWriter takes the writer's lock of the SQLite database at path for
// a tool (tool) that writes the file without opening it as a store
// (restore-backup): refused while a node or another tool holds it.
func LockWriter(path, tool string) (io.Closer, error) {
	return tryLockSQLiteWriter(path, tool)
}

// heldLocks are the writer's locks this process holds, by lock file. A
// tool's stores share its lock (migrate-store holds its files' for the
// whole copy and opens them as stores meanwhile); anyone else in the
// process is refused as another process would be, without a second
// descriptor of the file.
var heldLocks = struct {
	sync.Mutex
	m map[string]*sharedLock
}{m: map[string]*sharedLock{}}

type sharedLock struct {
	name, holder string
	f            *os.File
	refs         int
}

// lockRef is one holder's share of a lock: the lock goes with the last.
type lockRef struct {
	l    *sharedLock
	once sync.Once
}

func (r *lockRef) Close() error {
	var err error
	r.once.Do(func() {
		heldLocks.Lock()
		defer heldLocks.Unlock()
		if r.l.refs--; r.l.refs == 0 {
			delete(heldLocks.m, r.l.name)
			err = r.l.f.Close()
		}
	})
	return err
}

// refusal is the error of finding the lock held by holder, process pid.
func refusal(path, name, holder, pid string) error {
	if holder != holderNode && holder != "" {
		return fmt.Errorf("%w: provex %s, process %s, holds the writer's lock of %s (%s) until it ends", ErrToolWriting, holder, pid, path, name)
	}
	return fmt.Errorf("%w to %s: process %s holds its writer's lock (%s); one data directory, one node", ErrNodeWriting, path, pid, name)
}

// lockSQLiteWriter takes the writer's lock of the SQLite database at path
// for holder (holderNode or a tool's name). A node finding a tool holding
// it waits for the tool to end, saying so every minute, as on PostgreSQL.
func lockSQLiteWriter(ctx context.Context, path, holder string, logger *slog.Logger) (io.Closer, error) {
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

// openLockFile opens the lock file at name, making it if there is none
// (created). It never follows a symbolic link there: the data directory
// is the node's user's, and root running a tool in it would otherwise
// truncate, write and give away whatever file a link planted there names.
func openLockFile(name string) (f *os.File, created bool, err error) {
	f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, false, err
	}
	f, err = os.OpenFile(name, os.O_RDWR|noFollow, 0)
	if err != nil {
		if st, lerr := os.Lstat(name); lerr == nil && st.Mode()&fs.ModeSymlink != 0 {
			// Said as "too many levels of symbolic links" otherwise.
			return nil, false, fmt.Errorf("%s is a symbolic link, which the node does not follow: remove it", name)
		}
		return nil, false, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, false, fmt.Errorf("%s is not a regular file", name)
	}
	return f, false, nil
}

// realPath is path with symbolic links resolved, in its directory when
// the file does not exist yet.
func realPath(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
		return filepath.Join(dir, filepath.Base(path))
	}
	return path
}

func tryLockSQLiteWriter(path, holder string) (io.Closer, error) {
	real := realPath(path)
	name := real + lockFileSuffix
	heldLocks.Lock()
	defer heldLocks.Unlock()
	if l, ok := heldLocks.m[name]; ok {
		if l.holder == holder && holder != holderNode {
			l.refs++
			return &lockRef{l: l}, nil
		}
		return nil, refusal(path, name, l.holder, strconv.Itoa(os.Getpid()))
	}
	for {
		f, created, err := openLockFile(name)
		if errors.Is(err, fs.ErrPermission) {
			if _, lerr := os.Lstat(name); lerr != nil {
				return nil, fmt.Errorf("the writer's lock file %s: %w: this user may not make it in that directory; run the tool as the user that owns it", name, err)
			}
			return nil, fmt.Errorf("the writer's lock file %s: %w: another user made it (a tool run as root?); while no provex process uses this directory, remove it or give it to the node's user", name, err)
		} else if err != nil {
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
			return nil, refusal(path, name, who, pid)
		}
		// The file removed (or replaced) between its open and its lock
		// is not the one the next process will find: lock that one.
		if opened, err := f.Stat(); err == nil {
			if now, err := os.Stat(name); err != nil || !os.SameFile(opened, now) {
				f.Close()
				continue
			}
		}
		if created {
			giveToDatabaseOwner(f, real)
		}
		// Only to name the holder in a refusal: the lock is what counts.
		_ = f.Truncate(0)
		_, _ = f.WriteAt([]byte(holder+" "+strconv.Itoa(os.Getpid())+"\n"), 0)
		l := &sharedLock{name: name, holder: holder, f: f, refs: 1}
		heldLocks.m[name] = l
		return &lockRef{l: l}, nil
	}
}
