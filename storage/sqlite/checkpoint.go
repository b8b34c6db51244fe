package sqlite

import "time"

// WAL checkpoints copy committed pages from the WAL back into the database
// file. SQLite normally does it inside the commit that crosses 1000 pages,
// which stalls the single writer (and, with synchronous=FULL, adds fsyncs
// to that commit). Instead a goroutine runs PASSIVE checkpoints on its own
// connection shortly after commits: they never block the writer or readers,
// and their I/O overlaps the next batch.

// checkpointEvery is how often the checkpointer runs while writes arrive.
const checkpointEvery = 100 * time.Millisecond

func (db *DB) runCheckpointer() {
	defer close(db.checkpointerStopped)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	dirty := false
	for {
		select {
		case <-db.stopped:
			return
		case <-db.committed:
			dirty = true
			continue
		case <-tick.C:
		}
		if !dirty {
			continue
		}
		dirty = false
		var busy, logFrames, checkpointed int
		if err := db.checkpoints.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &checkpointed); err != nil {
			db.log.Warn("checkpoint", "err", err)
		}
	}
}
