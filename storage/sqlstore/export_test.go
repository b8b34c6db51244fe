package sqlstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/provex/provex/internal/pgtest"
)

// NewLocation is where a new, empty store goes on database ("sqlite" or
// "postgres"): a SQLite file, or a PostgreSQL database of its own (without
// a server the test skips, or fails when PROVEX_REQUIRE_POSTGRES is set).
func NewLocation(t *testing.T, database string) string {
	t.Helper()
	if database == "postgres" {
		return pgtest.NewDatabase(t)
	}
	return filepath.Join(t.TempDir(), "provex.db")
}

// SetMaxIndexedText makes the store index texts up to n bytes, as a
// version before the rule did, until restore is called.
func SetMaxIndexedText(n int) (restore func()) {
	was := maxIndexedText
	maxIndexedText = n
	return func() { maxIndexedText = was }
}

// WatchEntryPages bounds the data of a page of entries read from the
// change logs to bytes, and tells read the entries and bytes of data of
// each page read, until restore is called.
func WatchEntryPages(bytes int64, read func(entries int, bytes int64)) (restore func()) {
	was := entryPageBytes
	entryPageBytes, entryPageRead = bytes, read
	return func() { entryPageBytes, entryPageRead = was, nil }
}

// Rebind is rebind: a test that edits a PostgreSQL store's tables by hand
// writes its parameters as SQLite's `?`.
func Rebind(query string) string { return rebind(query) }

// SetDeadServerAfter makes the store give up on a silent PostgreSQL
// connection after d, until restore is called.
func SetDeadServerAfter(d time.Duration) (restore func()) {
	was := deadServerAfter
	deadServerAfter = d
	return func() { deadServerAfter = was }
}
