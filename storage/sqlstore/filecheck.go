package sqlstore

import (
	"context"
	"fmt"
)

// CheckFile runs SQLite's integrity check over the whole database file and
// returns what it finds wrong (nothing when the file is sound), at most 100
// problems. It catches what the logs' hashes cannot: a changed filter
// column or index entry disagrees with the other copy SQLite keeps of it,
// and a damaged page breaks its b-tree. It reads every page: for offline
// checks (provex verify), not for a serving node.
func (db *DB) CheckFile(ctx context.Context) ([]string, error) {
	rows, err := db.reader.QueryContext(ctx, "PRAGMA integrity_check(100)")
	if err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		if p != "ok" {
			problems = append(problems, p)
		}
	}
	return problems, rows.Err()
}
