package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// Rollups are pre-aggregated summaries: per kind, a few small tables that
// hold, for every combination of the owning province, a handful of
// dimension fields and every currency field, the number of live records and
// the sum of every integer and money field. The writer keeps them current
// inside the transaction of the write, whatever made it (a local write, a
// pulled entry, a repaired range, a record that stopped being visible here,
// a re-index): every change to a record row goes through putRecord or
// takeRow, which add the row's old and new contributions to the write's
// rollupDeltas, and each group's net change is added to its rollup row
// once (flushRollups): at the end of a pull or repair, and for record
// writes at the end of the group commit's transaction (a write that fails
// takes its changes back with its savepoint, and its deltas are dropped).
// A pull applying thousands of entries, or 64 creates committed together,
// thus update each group they touch once, not once per record as the
// SQLite triggers that did this before did. A summary whose dimensions and
// filter a rollup covers reads a few thousand rollup rows instead of every
// record (see Summarize); provex verify recounts them all (CheckRollups).
//
// Sums are exact whatever the values. SQLite's integer + turns a result
// past int64 into a float, which a later subtraction cannot undo: a group
// that once held a total past int64 would stay wrong after those records
// went. So a rollup keeps each sum in two integer columns, the sum of the
// values' high 32 bits (v >> 32, sign-extended) and that of their low 32
// bits (v & 0xFFFFFFFF), neither of which can leave int64 before a group
// holds 2^31 records; Summarize joins them with checked arithmetic (see
// joinSum), and a scan of the kind's table sums the same halves, so both
// answer alike, and a total past int64 is an error naming its group.
//
// Dates are kept at month precision, in a form that keeps filters exact:
// a full date d becomes the first of its month, and a date known only to
// its month or year (day 00) stays as it is. Every date literal with day 00
// ("2021", "2021-03") then compares with the rollup value exactly as with
// the date itself, and year, quarter and month buckets are unchanged.
// Filters on a full date ("2021-03-15") read the kind's table.
//
// A rollup may have one repeated field among its dimensions (a record's
// partner countries, say). It counts each record once per distinct element,
// as the join with record_elements does, so it answers only summaries grouped
// by that field.
//
// The dimensions below answer the questions of the ministry's reports:
// agreements per province, year, kind and state, and per partner country;
// delegations in and out per year with their members and foreigners, and
// per country visited or received; partnerships by partner country and
// field; projects and their capital by kind, state, country, sector and
// year; gates by level and neighbour; incidents by the provinces notified;
// trade by gate and period.
var rollupDims = map[string][][]string{
	"partnerships": {
		{"kind", "state", "partner.country_code", "local_unit.level"},
		{"kind", "established_date"},
		{"fields", "kind", "state"},
	},
	"agreements": {
		{"kind", "state", "signed_date"},
		{"kind", "state", "consultation.state"},
		{"partner_countries", "kind", "state"},
	},
	"delegations": {
		{"direction", "level", "start_date"},
		{"countries", "direction", "level"},
	},
	"friendship-associations": {
		{"partner_country", "state"},
	},
	"border-gates": {
		{"neighbour_country", "level", "counterpart_level", "transport", "state"},
	},
	"border-markers": {
		{"neighbour_country", "type", "condition", "repair_state"},
	},
	"border-incidents": {
		{"category", "severity", "state", "neighbour_country"},
		{"notify_provinces", "category", "state"},
	},
	"trade-reports": {
		{"border_gate", "period_kind", "period_start"},
	},
	"projects": {
		{"kind", "state", "sector"},
		{"kind", "state", "investor_country"},
		{"kind", "state", "approved_date"},
	},
	"promotion-events": {
		{"kind", "host_country", "start_date"},
		{"partner_countries", "kind"},
	},
	"investor-leads": {
		{"state", "country", "sector"},
	},
}

// rollup is one pre-aggregated table of a kind.
type rollup struct {
	kind  *resource.Kind
	table string
	// keys are the grouping columns after province: the dimensions, then
	// every currency field of the kind.
	keys []filter.Field
	sums []filter.Field
	// repeated is the key holding the elements of a repeated field, or nil.
	repeated *filter.Field
	// Where the row's values are in the columns putRecord binds (the
	// kind's non-repeated fields in schema order): each key's (-1 for the
	// repeated one), each sum's, and delete_time's.
	keyAt, sumAt []int
	deleteAt     int
	// keyFields are where the keys are in the kind's Schema.Fields(), for
	// overlongIndexed.
	keyFields []int
}

// rollups lists each kind's rollups, smallest (fewest keys) first.
var rollups = func() map[*resource.Kind][]*rollup {
	out := map[*resource.Kind][]*rollup{}
	for _, k := range resource.Kinds() {
		var currencies, sums []filter.Field
		column := map[string]int{}
		for _, f := range k.Schema.Fields() {
			if !f.Repeated {
				column[f.Column] = len(column)
			}
			switch {
			case f.Repeated:
			case f.Type == filter.String && strings.HasSuffix(f.Path, ".currency_code"):
				currencies = append(currencies, f)
			case f.Type == filter.Int:
				sums = append(sums, f)
			}
		}
		for _, dims := range rollupDims[k.Collection] {
			r := &rollup{kind: k, sums: sums}
			cols := []string{k.Table()}
			for _, p := range dims {
				f, ok := k.Schema.Lookup(p)
				if !ok || (f.Repeated && r.repeated != nil) || f.Type == filter.Timestamp || f.Type == filter.Int {
					panic(fmt.Sprintf("sqlstore: rollup of %s cannot group by %q", k.Collection, p))
				}
				if f.Repeated {
					r.repeated = &f
				}
				r.keys = append(r.keys, f)
				cols = append(cols, f.Column)
			}
			r.keys = append(r.keys, currencies...)
			r.table = rollupTable(cols)
			for _, f := range r.keys {
				r.keyFields = append(r.keyFields, slices.IndexFunc(k.Schema.Fields(), func(g filter.Field) bool { return g.Path == f.Path }))
			}
			for _, f := range r.keys {
				at, ok := column[f.Column]
				if f.Repeated {
					at, ok = -1, true
				}
				if !ok {
					panic(fmt.Sprintf("sqlstore: rollup of %s: no column %s", k.Collection, f.Column))
				}
				r.keyAt = append(r.keyAt, at)
			}
			for _, f := range sums {
				r.sumAt = append(r.sumAt, column[f.Column])
			}
			var ok bool
			if r.deleteAt, ok = column["delete_time"]; !ok {
				panic(fmt.Sprintf("sqlstore: %s has no delete_time", k.Collection))
			}
			out[k] = append(out[k], r)
		}
		slices.SortStableFunc(out[k], func(a, b *rollup) int { return len(a.keys) - len(b.keys) })
	}
	return out
}()

// rollupFor returns the smallest rollup that answers q exactly, or nil.
func rollupFor(q storage.SummaryQuery) *rollup {
	for _, r := range rollups[q.Kind] {
		if r.covers(q) {
			return r
		}
	}
	return nil
}

func (r *rollup) key(f filter.Field) bool {
	for _, k := range r.keys {
		if k.Column == f.Column {
			return true
		}
	}
	return false
}

func (r *rollup) covers(q storage.SummaryQuery) bool {
	if r.repeated != nil && !slices.ContainsFunc(q.Dims, func(d storage.Dim) bool {
		return d.Field != nil && d.Field.Column == r.repeated.Column
	}) {
		return false // it counts a record once per element
	}
	for _, d := range q.Dims {
		if d.Field == nil {
			continue // the province is always a key
		}
		if !r.key(*d.Field) {
			return false
		}
		// A date's day is gone: only its year, quarter or month is known.
		if d.Field.Type == filter.Date && (d.Bucket == "" || d.Bucket == "age") {
			return false
		}
	}
	if q.Currency != nil && !r.key(*q.Currency) {
		return false
	}
	for _, s := range q.Sums {
		found := false
		for _, have := range r.sums {
			found = found || have.Column == s.Column
		}
		if !found {
			return false
		}
	}
	return filter.Restrictions(q.Filter, func(f filter.Field, value any) bool {
		if f.Repeated || !r.key(f) { // ':' reads record_elements
			return false
		}
		if f.Type == filter.Date {
			v, ok := value.(int64)
			return ok && v%100 == 0
		}
		return true
	})
}

// keyExpr is the rollup value of key f in the row row (a table alias with
// its dot); monthOf is the same in Go.
func (r *rollup) keyExpr(f filter.Field, row string) string {
	c := row + `"` + f.Column + `"`
	if f.Type == filter.Date {
		return fmt.Sprintf("CASE WHEN %[1]s %% 100 = 0 THEN %[1]s ELSE %[1]s / 100 * 100 + 1 END", c)
	}
	return c
}

// maxIdentifier is the longest name PostgreSQL keeps whole (NAMEDATALEN
// - 1); it cuts longer ones, and two rollups whose names share their
// first 63 bytes would be one table.
const maxIdentifier = 63

// rollupTable names the rollup of a kind's table by the columns it groups
// by: in full when that fits in maxIdentifier, else cut, with a hash of the
// whole name that keeps it unique.
func rollupTable(cols []string) string {
	name := "rollup_" + strings.Join(cols, "_")
	if len(name) <= maxIdentifier {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:maxIdentifier-9] + "_" + hex.EncodeToString(sum[:4])
}

func (r *rollup) keyColumns() []string {
	cols := []string{"province"}
	for _, f := range r.keys {
		cols = append(cols, `"`+f.Column+`"`)
	}
	return cols
}

// ddl returns the statement that creates the rollup; the text is also the
// rollup's definition, so any change to it rebuilds it.
func (r *rollup) ddl(d dialect) []string {
	keys := r.keyColumns()
	var cols []string
	for i, f := range r.keys {
		typ := d.integer()
		if f.Type == filter.String {
			typ = d.text()
		}
		cols = append(cols, keys[i+1]+" "+typ+" NOT NULL")
	}
	for _, f := range r.sums {
		hi, lo := sumColumns(f)
		cols = append(cols, hi+" "+d.integer()+" NOT NULL", lo+" "+d.integer()+" NOT NULL")
	}
	return []string{"CREATE TABLE " + r.table + " (province " + d.text() + " NOT NULL, " + strings.Join(cols, ", ") + ", n " + d.integer() + " NOT NULL, " +
		"PRIMARY KEY (" + strings.Join(keys, ", ") + "))" + d.withoutRowid()}
}

// upsertSQL adds a group's net change (its keys, n and the halves of its
// sums, bound in column order) to the group's row.
func (r *rollup) upsertSQL() string {
	into, tail := r.upsertParts()
	return "INSERT INTO " + into + " VALUES (" + placeholders(strings.Count(into, ",")+1) + ")" + tail
}

// upsertParts are upsertSQL's table with its columns, and what follows
// its rows, for an upsert of many groups.
func (r *rollup) upsertParts() (into, tail string) {
	keys := r.keyColumns()
	all := append(append([]string(nil), keys...), "n")
	// The stored values named by table: in PostgreSQL a bare name is
	// ambiguous between them and excluded's.
	updates := []string{"n = " + r.table + ".n + excluded.n"}
	for _, f := range r.sums {
		hi, lo := sumColumns(f)
		all = append(all, hi, lo)
		updates = append(updates, hi+" = "+r.table+"."+hi+" + excluded."+hi, lo+" = "+r.table+"."+lo+" + excluded."+lo)
	}
	return r.table + " (" + strings.Join(all, ", ") + ")",
		" ON CONFLICT (" + strings.Join(keys, ", ") + ") DO UPDATE SET " + strings.Join(updates, ", ")
}

// monthOf is a date's rollup value (keyExpr's, in Go).
func monthOf(d int64) int64 {
	if d%100 == 0 {
		return d
	}
	return d/100*100 + 1
}

// rollupDelta is the net change of one group of one rollup within a write.
type rollupDelta struct {
	r    *rollup
	keys []any // province, then the rollup's keys
	n    int64
	sums []int64 // per sum: the high and the low halves (splitExprs)
}

// rollupDeltas are the groups a write changed, by rollup and keys.
type rollupDeltas map[string]*rollupDelta

// add adds (sign 1) or takes away (sign -1) the contribution of a row of
// kind k: its province, its columns as putRecord binds them, and the
// elements of its repeated fields by path.
func (d rollupDeltas) add(k *resource.Kind, province string, cols []any, elements map[string][]any, sign int64) {
	for _, r := range rollups[k] {
		if v, _ := cols[r.deleteAt].(int64); v != 0 {
			continue // deleted records are not counted
		}
		if r.repeated == nil {
			d.addGroup(r, province, cols, nil, sign)
			continue
		}
		seen := map[any]bool{}
		for _, e := range elements[r.repeated.Path] {
			if !seen[e] { // an element twice is one record_elements row
				seen[e] = true
				d.addGroup(r, province, cols, e, sign)
			}
		}
	}
}

func (d rollupDeltas) addGroup(r *rollup, province string, cols []any, element any, sign int64) {
	keys := make([]any, 1, len(r.keys)+1)
	keys[0] = province
	var id strings.Builder
	id.WriteString(r.table)
	id.WriteByte(0)
	id.WriteString(province)
	for i, f := range r.keys {
		v := element
		if at := r.keyAt[i]; at >= 0 {
			v = cols[at]
		}
		if f.Type == filter.Date {
			n, _ := v.(int64)
			v = monthOf(n)
		}
		keys = append(keys, v)
		id.WriteByte(0)
		switch v := v.(type) {
		case int64:
			id.WriteString(strconv.FormatInt(v, 10))
		case string:
			id.WriteString(v)
		default:
			fmt.Fprint(&id, v)
		}
	}
	g, ok := d[id.String()]
	if !ok {
		g = &rollupDelta{r: r, keys: keys, sums: make([]int64, 2*len(r.sums))}
		d[id.String()] = g
	}
	g.n += sign
	for i, at := range r.sumAt {
		v, _ := cols[at].(int64)
		g.sums[2*i] += sign * (v >> 32)
		g.sums[2*i+1] += sign * (v & 0xFFFFFFFF)
	}
}

// merge adds the groups of d to those of t, and empties d.
func (t rollupDeltas) merge(d rollupDeltas) {
	for id, g := range d {
		have, ok := t[id]
		if !ok {
			t[id] = g
			continue
		}
		have.n += g.n
		for i, v := range g.sums {
			have.sums[i] += v
		}
	}
	clear(d)
}

// flushRollups adds the write's net change of each group to its rollup
// row, and empties d.
func (db *DB) flushRollups(tx *writeTx, d rollupDeltas) error {
	defer clear(d)
	// A rollup's groups go in one statement (insertRows): a pull changes
	// thousands of groups (one a signing date, say), and on PostgreSQL a
	// statement each was a round trip each. One group, as a local write
	// changes, takes the prepared statement.
	byRollup := map[*rollup][]any{}
	groups := map[*rollup]int{}
	shrinking := map[*rollup]bool{}
	for _, g := range d {
		if g.n == 0 && !slices.ContainsFunc(g.sums, func(v int64) bool { return v != 0 }) {
			continue // what the write added it took away again
		}
		byRollup[g.r] = append(append(append(byRollup[g.r], g.keys...), g.n), int64sToAny(g.sums)...)
		groups[g.r]++
		shrinking[g.r] = shrinking[g.r] || g.n < 0
	}
	for r, args := range byRollup {
		var (
			err     error
			emptied [][]any
		)
		switch {
		case shrinking[r]:
			// A group left with no record is deleted, not kept at n = 0:
			// its keys are values of records (a partnership's field of
			// cooperation, a date), and those of a record withdrawn from
			// this node would stay in its file (THREATS N10), as a scan of
			// the records would not find them.
			into, tail := r.upsertParts()
			err = insertRows(tx, into, len(args)/groups[r], args, tail+" RETURNING "+strings.Join(r.keyColumns(), ", ")+", n", func(rs *sql.Rows) error {
				keys, n, err := r.scanGroup(rs)
				if err == nil && n == 0 {
					emptied = append(emptied, keys)
				}
				return err
			})
		case groups[r] == 1:
			_, err = tx.Exec(db.rollupUpserts[r], args...)
		default:
			into, tail := r.upsertParts()
			err = insertRows(tx, into, len(args)/groups[r], args, tail, nil)
		}
		switch {
		case err != nil || len(emptied) == 0:
		case len(emptied) == 1:
			_, err = tx.Exec(db.rollupDeletes[r], emptied[0]...)
		default:
			// One statement, not one per group: on PostgreSQL each is a
			// round trip (5,000 groups emptied by a pull took 1.1 s).
			_, err = tx.Exec("DELETE FROM " + r.table + " WHERE n = 0")
		}
		if err != nil {
			return fmt.Errorf("update rollup %s: %w", r.table, err)
		}
	}
	return nil
}

// scanGroup reads a group's keys and n, as an upsert RETURNING them gives
// them, each key as its column's type (a text read back as bytes would
// not equal its column's value).
func (r *rollup) scanGroup(rs *sql.Rows) (keys []any, n int64, err error) {
	province := ""
	texts := make([]string, len(r.keys))
	ints := make([]int64, len(r.keys))
	dest := []any{&province}
	for i, f := range r.keys {
		if f.Type == filter.String {
			dest = append(dest, &texts[i])
		} else {
			dest = append(dest, &ints[i])
		}
	}
	if err := rs.Scan(append(dest, &n)...); err != nil {
		return nil, 0, err
	}
	keys = []any{province}
	for i, f := range r.keys {
		if f.Type == filter.String {
			keys = append(keys, texts[i])
		} else {
			keys = append(keys, ints[i])
		}
	}
	return keys, n, nil
}

// deleteEmptySQL deletes a group (its keys bound in column order) that no
// record is in.
func (r *rollup) deleteEmptySQL() string {
	conds := make([]string, 0, len(r.keys)+2)
	for _, c := range r.keyColumns() {
		conds = append(conds, c+" = ?")
	}
	return "DELETE FROM " + r.table + " WHERE " + strings.Join(append(conds, "n = 0"), " AND ")
}

func int64sToAny(vs []int64) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// isElement is the condition that the record_elements row v (a table alias
// with its dot) holds an element of this rollup's repeated field.
func (r *rollup) isElement(v string) string {
	return v + "list = " + strconv.FormatInt(filter.ListID(r.kind.Collection, r.repeated.Path), 10)
}

// sumColumns are the rollup's columns of the high and low halves of f's
// sum.
func sumColumns(f filter.Field) (hi, lo string) {
	return `"` + f.Column + `_hi"`, `"` + f.Column + `_lo"`
}

// splitExprs are the high and low 32 bits of the integer expression c: c
// is hi·2^32 + lo exactly, with lo in [0, 2^32). SQLite's >> extends the
// sign.
func splitExprs(c string) (hi, lo string) {
	return "(" + c + " >> 32)", "(" + c + " & 4294967295)"
}

// backfill fills a new rollup from the kind's rows.
func (r *rollup) backfill() string {
	cols := append(r.keyColumns(), "n")
	for _, f := range r.sums {
		hi, lo := sumColumns(f)
		cols = append(cols, hi, lo)
	}
	return "INSERT INTO " + r.table + " (" + strings.Join(cols, ", ") + ") " + r.recount()
}

// recount is the SELECT of the rollup's rows computed from the kind's rows
// (and record_elements): its keys, n and the halves of its sums, in the
// rollup's column order, one row per group that holds a live record.
func (r *rollup) recount() string {
	vals := []string{"t.province"}
	for _, f := range r.keys {
		if f.Repeated {
			vals = append(vals, "rv.value")
		} else {
			vals = append(vals, r.keyExpr(f, "t."))
		}
	}
	vals = append(vals, "count(*)")
	for _, f := range r.sums {
		hi, lo := splitExprs(`t."` + f.Column + `"`)
		// PostgreSQL's sum of bigints is numeric, which the check's
		// EXCEPT would then make of the stored side too and describe
		// as no number. Each half is under 2^32 in size, so their sums
		// fit in 64 bits up to 2^31 records a group.
		vals = append(vals, "CAST(sum"+hi+" AS BIGINT)", "CAST(sum"+lo+" AS BIGINT)")
	}
	positions := make([]string, len(r.keys)+1)
	for i := range positions {
		positions[i] = fmt.Sprint(i + 1)
	}
	from := r.kind.Table() + " t"
	if r.repeated != nil {
		from += " JOIN record_elements rv ON " + r.isElement("rv.") + " AND rv.record = t.id"
	}
	return "SELECT " + strings.Join(vals, ", ") + " FROM " + from + " WHERE t.delete_time = 0 GROUP BY " + strings.Join(positions, ", ")
}

// rollupTableForm is the form of every rollup's table name (rollupTable).
var rollupTableForm = regexp.MustCompile(`^rollup_[a-z0-9_]+$`)

// ensureRollups makes the database's rollups those of this binary: it
// builds (and fills) any that is new or whose definition changed, and drops
// those no longer defined, in one transaction.
func ensureRollups(ctx context.Context, db *sql.DB, d dialect, log *slog.Logger) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stored := map[string]string{}
	rows, err := tx.QueryContext(ctx, "SELECT name, definition FROM rollups")
	if err != nil {
		return err
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return err
		}
		stored[name] = def
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, k := range resource.Kinds() {
		for _, r := range rollups[k] {
			ddl := r.ddl(d)
			def := strings.Join(ddl, ";\n")
			old, ok := stored[r.table]
			delete(stored, r.table)
			if ok && old == def {
				// Releases before 2da4f05 kept groups left with no record
				// at n = 0, their keys values of records (one withdrawn
				// from this node among them); flushRollups deletes them
				// since, and this takes out those of an older file.
				if _, err := tx.ExecContext(ctx, "DELETE FROM "+r.table+" WHERE n = 0"); err != nil {
					return fmt.Errorf("rollup %s: %w", r.table, err)
				}
				continue
			}
			if err := dropRollup(ctx, tx, d, r.table); err != nil {
				return err
			}
			for _, s := range append(ddl, r.backfill()) {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("rollup %s: %w", r.table, err)
				}
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO rollups (name, definition) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET definition = excluded.definition", r.table, def); err != nil {
				return err
			}
		}
	}
	for name := range stored {
		if !rollupTableForm.MatchString(name) {
			// Not a rollup's table: the row was written outside the node,
			// and its name is not run as SQL (an outside review made the
			// node drop audit_names with it). Only the row goes.
			log.Warn("the rollups table named a table that is no rollup; removed that row, and dropped no table", "name", name)
		} else if err := dropRollup(ctx, tx, d, name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM rollups WHERE name = ?", name); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func dropRollup(ctx context.Context, tx *sql.Tx, d dialect, table string) error {
	// Names come from rollupDims, or from the rollups table when they
	// have a rollup's form (rollupTableForm), never from a request. The triggers are those of SQLite
	// databases written before issue 11, which kept rollups with them.
	drops := []string{"DROP TABLE IF EXISTS " + table}
	if !d.postgres {
		for _, t := range []string{"insert", "delete", "update", "values_insert", "values_delete", "values_update"} {
			drops = append(drops, "DROP TRIGGER IF EXISTS "+table+"_"+t)
		}
		drops = append(drops[1:], drops[0])
	}
	for _, s := range drops {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("drop rollup %s: %w", table, err)
		}
	}
	return nil
}

// RollupMismatch is a group whose rollup row disagrees with a recount of
// the records: rows that are not exact, or were changed outside the
// writer (by hand, by a tool, by a damaged file).
type RollupMismatch struct {
	// Rollup is the table; Group, the group's keys as field=value.
	Rollup, Group string
	// Stored and Recount are the group's count and sums in the rollup and
	// from the records ("none" where the group has no row or no records).
	Stored, Recount string
}

// RollupCheck is what CheckRollups found.
type RollupCheck struct {
	// Rollups is the number of rollups recounted; Groups, the number of
	// groups that disagreed with the recount.
	Rollups, Groups int
	// Listed describes the first ListedPerRollup disagreeing groups of each
	// rollup, in the order of their keys.
	Listed []RollupMismatch
}

// ListedPerRollup bounds RollupCheck.Listed for each rollup: a rollup
// rewritten or lost entirely disagrees in every group, millions of them at
// a national store's size, which would take gigabytes to describe.
const ListedPerRollup = 100

// CheckRollups recounts every rollup from the records it summarizes and
// returns what disagrees. With repair, it then rewrites each rollup that
// disagreed from the recount, in one write transaction, and checks again
// there: a mismatch left is an error.
func (db *DB) CheckRollups(ctx context.Context, repair bool) (RollupCheck, error) {
	var all []*rollup
	for _, k := range resource.Kinds() {
		all = append(all, rollups[k]...)
	}
	check := func(q querier) (RollupCheck, []*rollup, error) {
		found := RollupCheck{Rollups: len(all)}
		var bad []*rollup
		for _, r := range all {
			groups, listed, err := r.mismatches(ctx, q)
			if err != nil {
				return found, nil, fmt.Errorf("recount %s: %w", r.table, err)
			}
			if groups > 0 {
				found.Groups += groups
				found.Listed = append(found.Listed, listed...)
				bad = append(bad, r)
			}
		}
		return found, bad, nil
	}
	found, bad, err := check(db.reader)
	if err != nil || !repair || len(bad) == 0 {
		return found, err
	}
	err = db.runInWriter(ctx, func(tx *writeTx) error {
		for _, r := range bad {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+r.table); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, r.backfill()); err != nil {
				return fmt.Errorf("rebuild %s: %w", r.table, err)
			}
		}
		left, _, err := check(tx)
		if err == nil && left.Groups > 0 {
			err = fmt.Errorf("%d groups still disagree with a recount after a rebuild, such as %s in %s", left.Groups, left.Listed[0].Group, left.Listed[0].Rollup)
		}
		return err
	})
	if err != nil {
		return found, err
	}
	db.log.Warn("rebuilt rollups that disagreed with their records", "rollups", len(bad), "groups", found.Groups)
	return found, nil
}

// querier is a reader connection pool or the writer's transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// mismatches compares the rollup with its recount in one statement (one
// snapshot): the rows of each that the other lacks, in the order of their
// keys, so that a group whose figures differ comes as two rows one after
// the other. Rows of groups whose records all went (n and sums 0) count as
// absent. It returns the number of groups that disagree and describes the
// first ListedPerRollup of them.
func (r *rollup) mismatches(ctx context.Context, q querier) (int, []RollupMismatch, error) {
	cols := append(r.keyColumns(), "n")
	empty := []string{"n = 0"}
	for _, f := range r.sums {
		hi, lo := sumColumns(f)
		cols = append(cols, hi, lo)
		empty = append(empty, hi+" = 0", lo+" = 0")
	}
	stored := "SELECT " + strings.Join(cols, ", ") + " FROM " + r.table + " WHERE NOT (" + strings.Join(empty, " AND ") + ")"
	keys := len(r.keys) + 1
	order := make([]string, keys)
	for i := range order {
		order[i] = fmt.Sprint(i + 2) // after the side
	}
	// Each side is computed once and read twice: written out in both
	// EXCEPTs, the recount (a scan of every record of the kind) ran twice.
	rows, err := q.QueryContext(ctx, "WITH stored AS MATERIALIZED ("+stored+"), recount ("+strings.Join(cols, ", ")+") AS MATERIALIZED ("+r.recount()+") "+
		"SELECT 0, * FROM (SELECT * FROM stored EXCEPT SELECT * FROM recount) AS missing UNION ALL SELECT 1, * FROM (SELECT * FROM recount EXCEPT SELECT * FROM stored) AS extra "+
		"ORDER BY "+strings.Join(order, ", "))
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	var listed []RollupMismatch
	var groups int
	var last []any
	for rows.Next() {
		var side int
		vals := make([]any, len(cols))
		dest := []any{&side}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return 0, nil, err
		}
		if last == nil || !reflect.DeepEqual(last, vals[:keys]) { // a key may be bytes on a file changed by hand
			groups++
			last = vals[:keys]
			if len(listed) < ListedPerRollup {
				listed = append(listed, RollupMismatch{Rollup: r.table, Group: r.describeKeys(vals[:keys]), Stored: "none", Recount: "none"})
			}
		}
		if groups > ListedPerRollup {
			continue
		}
		m := &listed[len(listed)-1]
		figures := r.describeFigures(vals[keys:])
		if side == 0 {
			m.Stored = figures
		} else {
			m.Recount = figures
		}
	}
	return groups, listed, rows.Err()
}

// describeKeys renders a rollup row's keys (province first) for people.
func (r *rollup) describeKeys(vals []any) string {
	parts := []string{"province=" + describeValue(vals[0])}
	for i, f := range r.keys {
		v := describeValue(vals[i+1])
		if n, ok := vals[i+1].(int64); ok && f.Type == filter.Enum && !f.Repeated {
			if ev := f.Enum.Values().ByNumber(protoreflect.EnumNumber(n)); ev != nil {
				v = string(ev.Name())
			}
		}
		parts = append(parts, f.Path+"="+v)
	}
	return strings.Join(parts, " ")
}

// describeFigures renders n and the sums of a rollup row.
func (r *rollup) describeFigures(vals []any) string {
	parts := []string{"count=" + describeValue(vals[0])}
	for i, f := range r.sums {
		hi, okHi := vals[1+2*i].(int64)
		lo, okLo := vals[2+2*i].(int64)
		sum, ok := joinSum(hi, lo)
		switch {
		case !okHi || !okLo:
			parts = append(parts, fmt.Sprintf("%s=(%v, %v)?", f.Path, vals[1+2*i], vals[2+2*i]))
		case !ok:
			parts = append(parts, fmt.Sprintf("%s=%d·2^32+%d", f.Path, hi, lo))
		default:
			parts = append(parts, fmt.Sprintf("%s=%d", f.Path, sum))
		}
	}
	return strings.Join(parts, " ")
}

func describeValue(v any) string {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
