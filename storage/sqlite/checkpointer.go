package sqlite

import (
	"database/sql"
	"time"
)

// The writer does not fold the WAL back into the database file itself:
// SQLite's automatic checkpoint runs inside the COMMIT that crosses its
// threshold, so that commit (and every write waiting on it) also waited
// for every page of the last few transactions to be copied and the main
// file fsynced. A catch-up writing megabytes per transaction paid that on
// almost every commit. The writer's connection has wal_autocheckpoint off
// (writerPragmas), and checkpointer runs the same PASSIVE checkpoint on a
// connection of its own after commits, while the writer goes on with the
// next transaction. PASSIVE never blocks the writer or readers; the WAL
// starts over at the first write after a checkpoint that copied it all.
//
// A WAL this falls behind on (readers holding old snapshots, a disk slower
// than the writer) grows as with the automatic checkpoint; Close truncates
// it.

// walCheckpointEvery is the most often the checkpointer runs: each run reads
// the WAL index, so back-to-back small commits share one.
const walCheckpointEvery = 50 * time.Millisecond

type checkpointer struct {
	conn    *sql.DB
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	warn    func(msg string, args ...any)
}

func startCheckpointer(path string, warn func(string, ...any)) (*checkpointer, error) {
	conn, err := sql.Open("sqlite3", dsn(path, false))
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(1)
	conn.SetConnMaxLifetime(0)
	c := &checkpointer{conn: conn, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}), warn: warn}
	go c.run()
	return c, nil
}

// committed tells the checkpointer that the WAL grew; it never blocks.
func (c *checkpointer) committed() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.stopped)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		if _, err := c.conn.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
			c.warn("checkpoint", "err", err)
		}
		select {
		case <-c.stop:
			return
		case <-time.After(walCheckpointEvery):
		}
	}
}

func (c *checkpointer) close() error {
	close(c.stop)
	<-c.stopped
	return c.conn.Close()
}
