package sqlstore

import sqlite3 "github.com/mattn/go-sqlite3"

// LibraryVersion is the version of the SQLite library compiled into the
// binary (mattn/go-sqlite3 bundles its own amalgamation), which is the one
// every database the node opens runs on: operators match it against SQLite
// advisories without opening a database.
func LibraryVersion() string {
	v, _, _ := sqlite3.Version()
	return v
}
