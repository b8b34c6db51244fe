package sqlstore

import (
	"context"
	"fmt"
	"regexp"
	"slices"
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
		found, err := db.integrityCheck(ctx, "PRAGMA integrity_check("+quoteIdent(t)+")")
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

// indexProblem matches what SQLite's integrity check says of an index
// whose entries disagree with its table, and names the index.
var indexProblem = regexp.MustCompile(`^(?:row \d+ missing from index|wrong # of entries in index|non-unique entry in index|rowid not at end-of-record for row \d+ of index) (\S+)$`)

// DamagedIndexes returns the indexes that problems (what CheckFile found)
// name, when each problem is one of an index's entries: the damage is then
// confined to indexes, which hold nothing their tables do not, and
// RepairIndexes rebuilds them. It returns none when a problem is not an
// index's (a table's row, a page of the file): a restore mends that.
func DamagedIndexes(problems []string) []string {
	var names []string
	for _, p := range problems {
		m := indexProblem.FindStringSubmatch(p)
		if m == nil {
			return nil
		}
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	return names
}

// RepairIndexes rebuilds each of the indexes from its table (REINDEX), in
// one transaction: a flipped byte in an index page had equality filters
// miss intact records, and nothing mended it (an outside review). Only
// indexes of this store's schema are rebuilt; a name that is not one is
// refused.
func (db *DB) RepairIndexes(ctx context.Context, indexes []string) error {
	return db.runInWriter(ctx, func(tx *writeTx) error {
		for _, name := range indexes {
			var found string
			if err := tx.ReadRow([]any{&found}, "SELECT name FROM sqlite_master WHERE type = 'index' AND name = ?", name); err != nil {
				return fmt.Errorf("index %q: %w", name, err)
			}
			if _, err := tx.ExecContext(ctx, "REINDEX "+quoteIdent(found)); err != nil {
				return fmt.Errorf("rebuild index %s: %w", found, err)
			}
		}
		return nil
	})
}
