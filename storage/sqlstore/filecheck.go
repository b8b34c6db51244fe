package sqlstore

import (
	"context"
	"fmt"
	"strings"
)

// CheckFile runs SQLite's integrity check over the whole database file and
// returns what it finds wrong (nothing when the file is sound), at most 100
// problems. It catches what the logs' hashes cannot: a changed filter
// column or index entry disagrees with the other copy SQLite keeps of it,
// and a damaged page breaks its b-tree. It reads every page: for offline
// checks (provex verify), not for a serving node.
func (db *DB) CheckFile(ctx context.Context) ([]string, error) {
	problems, err := db.integrityCheck(ctx, "PRAGMA integrity_check(100)")
	if !fileDamaged(err) {
		return problems, err
	}
	// Some damage (a zeroed page) stops the check itself: the tables are
	// then checked one by one (each with its indexes), to say which.
	var tables []string
	rows, terr := db.reader.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if terr != nil {
		return []string{err.Error()}, nil
	}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	problems = []string{fmt.Sprintf("SQLite's check of the whole file stops: %v", err)}
	for _, t := range tables {
		found, err := db.integrityCheck(ctx, `PRAGMA integrity_check("`+strings.ReplaceAll(t, `"`, `""`)+`")`)
		if fileDamaged(err) {
			found = []string{fmt.Sprintf("table %s or one of its indexes: %v", t, err)}
		} else if err != nil {
			return nil, err
		}
		problems = append(problems, found...)
	}
	return problems, nil
}

func (db *DB) integrityCheck(ctx context.Context, pragma string) ([]string, error) {
	rows, err := db.reader.QueryContext(ctx, pragma)
	if err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("integrity check: %w", err)
		}
		if p != "ok" {
			problems = append(problems, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	return problems, nil
}
