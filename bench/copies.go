package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"google.golang.org/protobuf/encoding/protodelim"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	"github.com/provex/provex/internal/atomicfile"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
)

// multiplyRecords makes the loaded ministry's store in dir (or on store, a
// PostgreSQL URL) hold each of its records copies times: every kind's rows,
// with their repeated fields' elements, are copied copies-1 more times by
// SQL under new ids and names (name-c1, name-c2 ...), keeping every other
// column; those tables are analyzed for the planner; then the store's own
// rollup repair (CheckRollups) rebuilds the rollups from the rows.
//
// It exists because this machine cannot load 35,000,000 records through
// sync apply in one session (about 4 hours on both databases) nor hold the
// change log of so many twice. The copies have no change-log entries, no
// search words and no audit rows, and each row's seq still names its
// original's entry: no summary reads any of those, and a Get of a copy is
// not what this store is for. A store so made is a bench's, never a node's.
func multiplyRecords(dir, store string, copies int) error {
	driver, location := "sqlite3", "file:"+filepath.Join(dir, server.DatabaseFile)+"?_journal_mode=WAL"
	if store != "" {
		driver, location = "pgx", store
	}
	db, err := sql.Open(driver, location)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if store == "" {
		// The node's own page cache is bounded; a bulk copy into 18
		// indexes a table wants the whole of each index in memory.
		for _, p := range []string{"PRAGMA cache_size = -8000000", "PRAGMA temp_store = MEMORY", "PRAGMA synchronous = OFF"} {
			if _, err := db.ExecContext(ctx, p); err != nil {
				return err
			}
		}
	}
	start := time.Now()
	for _, k := range resource.Kinds() {
		if err := multiplyKind(ctx, db, k, store != "", copies); err != nil {
			return fmt.Errorf("%s: %w", k.Collection, err)
		}
	}
	// The planner's statistics still count the rows loaded; a store that
	// grew to this size would have had them taken again on the way.
	tables := []string{"record_elements"}
	for _, k := range resource.Kinds() {
		tables = append(tables, k.Table())
	}
	for _, t := range tables {
		if _, err := db.ExecContext(ctx, "ANALYZE "+t); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "copied every record %d times and analyzed in %s; rebuilding the rollups\n", copies-1, time.Since(start).Round(time.Second))
	if err := db.Close(); err != nil {
		return err
	}
	node, err := sqlstore.Open(ctx, cmp.Or(store, filepath.Join(dir, server.DatabaseFile)), resource.Ministry, sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer node.Close()
	if _, err := node.CheckRollups(ctx, true); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "multiplied in %s\n", time.Since(start).Round(time.Second))
	return node.Close()
}

// multiplyKind copies k's rows and their elements, one transaction per copy.
func multiplyKind(ctx context.Context, db *sql.DB, k *resource.Kind, postgres bool, copies int) error {
	table := k.Table()
	var last sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT max(id) FROM "+table).Scan(&last); err != nil || !last.Valid {
		return err // an empty table has nothing to copy
	}
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+table+" WHERE false")
	if err != nil {
		return err
	}
	columns, err := rows.Columns()
	rows.Close()
	if err != nil {
		return err
	}
	columns = slices.DeleteFunc(columns, func(c string) bool { return c == "id" || c == "name" })
	quoted := `"` + strings.Join(columns, `", "`) + `"`
	var lists []string
	for _, f := range k.Schema.Fields() {
		if f.Repeated {
			lists = append(lists, fmt.Sprint(filter.ListID(k.Collection, f.Path)))
		}
	}
	for c := 1; c < copies; c++ {
		// Ids and the suffix are numbers of this function, never input.
		shift := fmt.Sprint(int64(c) * last.Int64)
		statements := []string{fmt.Sprintf(`INSERT INTO %s (id, name, %s) SELECT id + %s, name || '-c%d', %s FROM %s WHERE id <= %d`,
			table, quoted, shift, c, quoted, table, last.Int64)}
		if len(lists) > 0 {
			statements = append(statements, fmt.Sprintf(`INSERT INTO record_elements (list, value, record) SELECT list, value, record + %s FROM record_elements WHERE list IN (%s) AND record <= %d`,
				shift, strings.Join(lists, ", "), last.Int64))
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, s := range statements {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: copy %d of %d\n", table, c, copies-1)
	}
	if postgres {
		// The next record written takes its id from the identity's sequence.
		_, err = db.ExecContext(ctx, fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT max(id) FROM %s))", table, table))
	}
	return err
}

// checkMultiplied compares the summaries of a store whose records were
// each copied copies times with those of the same store before: the same
// groups, each count and sum copies times its former value, each distinct
// count the same, and so for the total.
func checkMultiplied(before, after *nationalv1.SummarizeResponse, copies int64) error {
	if len(before.GetGroups()) != len(after.GetGroups()) {
		return fmt.Errorf("%d groups after the copies, %d before", len(after.GetGroups()), len(before.GetGroups()))
	}
	index := map[string]*nationalv1.Group{}
	for _, g := range before.GetGroups() {
		index[strings.Join(g.GetKeys(), "\x00")] = g
	}
	for _, g := range after.GetGroups() {
		b, ok := index[strings.Join(g.GetKeys(), "\x00")]
		if !ok {
			return fmt.Errorf("group %q is new after the copies", g.GetKeys())
		}
		if err := checkMultipliedGroup(b, g, copies); err != nil {
			return fmt.Errorf("group %q: %w", g.GetKeys(), err)
		}
	}
	if err := checkMultipliedGroup(before.GetTotal(), after.GetTotal(), copies); err != nil {
		return fmt.Errorf("the total: %w", err)
	}
	return nil
}

// checkMultipliedGroup checks one group's figures (see checkMultiplied).
func checkMultipliedGroup(before, after *nationalv1.Group, copies int64) error {
	if after.GetCount() != before.GetCount()*copies {
		return fmt.Errorf("counts %d, %d before", after.GetCount(), before.GetCount())
	}
	if len(after.GetSums()) != len(before.GetSums()) || len(after.GetDistinctCounts()) != len(before.GetDistinctCounts()) {
		return fmt.Errorf("%d sums and %d distinct counts, %d and %d before", len(after.GetSums()), len(after.GetDistinctCounts()), len(before.GetSums()), len(before.GetDistinctCounts()))
	}
	for i, was := range before.GetSums() {
		s := after.GetSums()[i]
		if s.GetField() != was.GetField() || s.GetCurrencyCode() != was.GetCurrencyCode() {
			return fmt.Errorf("sum %d is of %s %s, of %s %s before", i, s.GetField(), s.GetCurrencyCode(), was.GetField(), was.GetCurrencyCode())
		}
		if was.Value == nil || math.Abs(float64(was.GetValue())*float64(copies)) >= math.MaxInt64 {
			continue // the sum overflows at one size or the other
		}
		if s.Value == nil || s.GetValue() != was.GetValue()*copies {
			return fmt.Errorf("sums %s %v, %d before", s.GetField(), s.Value, was.GetValue())
		}
	}
	for i, was := range before.GetDistinctCounts() {
		d := after.GetDistinctCounts()[i]
		if d.GetField() != was.GetField() || (d.Count == nil) != (was.Count == nil) || d.GetCount() != was.GetCount() {
			return fmt.Errorf("counts %v distinct %s, %v of %s before", d.Count, d.GetField(), was.Count, was.GetField())
		}
	}
	return nil
}

// answersFile keeps, in a multiplied store's -data folder, the summaries'
// answers from before the copies, for checkAgainstBefore.
const answersFile = "summaries-before-copies.pb"

// loadMultiplied makes dir's store one of records records by
// multiplyRecords, once (dataset's marker remembers it): it loads
// records/copies through sync apply, keeps every summary's answer, copies
// and then drops the marker of the smaller load, which the store no longer
// is.
func loadMultiplied(dir, store string, records, copies int, dataset string) error {
	marker := loadedMarker(dir, store, dataset, records)
	kept, err := keptLoad(marker, dir, cmp.Or(store, filepath.Join(dir, server.DatabaseFile)), resource.Ministry)
	if errors.Is(err, errUnsignedLoad) {
		// Loaded again by loadFederation, the dataset would not be copies.
		return fmt.Errorf("%w: its copies are not made again in place: start again on a new -data and an empty store", err)
	}
	if err != nil || kept {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, answersFile)); err == nil {
		// Each copy commits on its own: the store holds some of them.
		return fmt.Errorf("%s holds the answers of a multiplication that did not finish, and its store some of the copies: start again on a new -data and an empty store", dir)
	}
	conn, stop, err := ministryOver(dir, store, records/copies, "national", nationalRecord, server.Limits{})
	if err != nil {
		return err
	}
	c := nationalv1.NewNationalServiceClient(conn)
	var answers bytes.Buffer
	for _, req := range summaryCases {
		resp, err := c.Summarize(ctx, req)
		if err != nil {
			stop()
			return err
		}
		if _, err := protodelim.MarshalTo(&answers, resp); err != nil {
			stop()
			return err
		}
	}
	stop()
	if err := atomicfile.Write(filepath.Join(dir, answersFile), answers.Bytes(), 0o644, true); err != nil {
		return err
	}
	if err := multiplyRecords(dir, store, copies); err != nil {
		return err
	}
	if err := os.Remove(loadedMarker(dir, store, "national", records/copies)); err != nil {
		return err
	}
	return os.WriteFile(marker, nil, 0o644)
}

// checkAgainstBefore asks every summary once and checks its answer
// against the one kept before the copies.
func checkAgainstBefore(c nationalv1.NationalServiceClient, dir string, copies int64) error {
	f, err := os.Open(filepath.Join(dir, answersFile))
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	start := time.Now()
	for _, req := range summaryCases {
		before := &nationalv1.SummarizeResponse{}
		if err := protodelim.UnmarshalFrom(r, before); err != nil {
			return fmt.Errorf("%s: %w", answersFile, err)
		}
		asked := time.Now()
		after, err := c.Summarize(ctx, req)
		if err != nil {
			return fmt.Errorf("summary %v, after %s: %w", req, time.Since(asked).Round(time.Millisecond), err)
		}
		if err := checkMultiplied(before, after, copies); err != nil {
			return fmt.Errorf("summary %v: %w", req, err)
		}
	}
	fmt.Fprintf(os.Stderr, "every summary's groups hold %d times the counts and sums they held before the copies, and the same distinct counts (checked in %s)\n", copies, time.Since(start).Round(time.Second))
	return nil
}
