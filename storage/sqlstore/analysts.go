package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
)

// A store on PostgreSQL keeps, for analysts and their BI tools, a schema
// national of views over its records: one per kind, named as the kind's
// table, with the record's name and province and the kind's filterable
// fields in types such tools read (enum names, dates, timestamps, arrays),
// live records only. They are generated from the kinds' filter schemas, so
// a new kind or field appears in them without a hand-written view, and
// they show nothing else: not the change log, the audit trail, the tokens,
// the manifest or a record's stored state. The record tables hold exactly
// the states this node may read (applyEntry applies no state it may not),
// so the views expose no more than the node's own API does.
//
// The views are granted (SELECT, with USAGE on the schema) to the group
// role analystsRole when the DBA has made it; the node's role needs no
// right to make roles. Its members read the views and nothing in public.
const (
	nationalSchema = "national"
	analystsRole   = "provex_analysts"
)

// nationalMark starts each view's comment, which holds the hash of the
// definition the view was made from: a view whose comment differs is made
// again.
const nationalMark = "provex national view "

// nationalView returns the CREATE VIEW statement of kind k's view.
func nationalView(k *resource.Kind) (string, error) {
	cols := []string{"t.name", "t.province"}
	seen := map[string]bool{"name": true, "province": true}
	for _, f := range k.Schema.Fields() {
		if f.Column == "delete_time" {
			continue // the views hold live records only
		}
		c := `t."` + f.Column + `"`
		var exprs, names []string
		switch {
		case f.Repeated:
			exprs = []string{"ARRAY(SELECT e.value FROM record_elements e WHERE e.list = " +
				strconv.FormatInt(filter.ListID(k.Collection, f.Path), 10) + " AND e.record = t.id ORDER BY e.value)"}
			names = []string{f.Column}
		case f.Type == filter.Enum:
			var b strings.Builder
			b.WriteString("CASE " + c)
			values := f.Enum.Values()
			for i := range values.Len() {
				v := values.Get(i)
				fmt.Fprintf(&b, " WHEN %d THEN %s", v.Number(), quoteLiteral(string(v.Name())))
			}
			b.WriteString(" ELSE CAST(" + c + " AS TEXT) END")
			exprs, names = []string{b.String()}, []string{f.Column}
		case f.Type == filter.Bool:
			exprs, names = []string{c + " <> 0"}, []string{f.Column}
		case f.Type == filter.Date:
			// yyyymmdd, with 00 for a month or day not known: a DATE only
			// where the date is whole (and real), the integer always.
			y, m, d := c+" / 10000", c+" / 100 % 100", c+" % 100"
			date := "CASE WHEN " + y + " BETWEEN 1 AND 9999 AND " + m + " BETWEEN 1 AND 12 THEN CASE WHEN " + d + " BETWEEN 1 AND" +
				" EXTRACT(DAY FROM make_date(CAST(" + y + " AS INTEGER), CAST(" + m + " AS INTEGER), 1) + INTERVAL '1 month' - INTERVAL '1 day')" +
				" THEN make_date(CAST(" + y + " AS INTEGER), CAST(" + m + " AS INTEGER), CAST(" + d + " AS INTEGER)) END END"
			exprs, names = []string{date, c}, []string{f.Column, f.Column + "_ymd"}
		case f.Type == filter.Timestamp:
			// Unix nanoseconds, 0 for none; PostgreSQL keeps microseconds.
			exprs = []string{"CASE WHEN " + c + " <> 0 THEN TIMESTAMP WITH TIME ZONE 'epoch' + " + c + " / 1000 * INTERVAL '1 microsecond' END"}
			names = []string{f.Column}
		default: // strings, integers (money is its units and its currency code)
			exprs, names = []string{c}, []string{f.Column}
		}
		for i, n := range names {
			if seen[n] {
				return "", fmt.Errorf("the national view of %s would have two columns %s", k.Collection, n)
			}
			seen[n] = true
			cols = append(cols, exprs[i]+` AS "`+n+`"`)
		}
	}
	// A security barrier: without it an analyst's own function, cheaper
	// than the view's condition, ran first and saw the deleted rows.
	return "CREATE VIEW " + nationalSchema + "." + k.Table() + " WITH (security_barrier) AS SELECT " + strings.Join(cols, ", ") +
		" FROM public." + k.Table() + " t WHERE t.delete_time = 0", nil
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// ensureNational makes the national views those of this binary, in one
// transaction: it makes the schema, makes again each view that is missing
// or whose definition changed, drops those of kinds no longer defined, and
// grants the views to analystsRole if it exists. A view is dropped with
// what the DBA built on it (CASCADE): a node that could not start for a
// dependent view would be worse.
func ensureNational(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+nationalSchema); err != nil {
		return fmt.Errorf("make schema %s (the node's role needs CREATE on its database): %w", nationalSchema, err)
	}
	stored := map[string]string{}
	rows, err := tx.QueryContext(ctx, "SELECT c.relname, COALESCE(obj_description(c.oid, 'pg_class'), '') FROM pg_class c"+
		" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relkind = 'v'", nationalSchema)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name, comment string
		if err := rows.Scan(&name, &comment); err != nil {
			rows.Close()
			return err
		}
		stored[name] = comment
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, k := range resource.Kinds() {
		def, err := nationalView(k)
		if err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(def))
		mark := nationalMark + hex.EncodeToString(sum[:])
		old, ok := stored[k.Table()]
		delete(stored, k.Table())
		if ok && old == mark {
			continue
		}
		// Names are the kinds' tables, never a request's.
		view := nationalSchema + "." + k.Table()
		for _, s := range []string{"DROP VIEW IF EXISTS " + view + " CASCADE", def, "COMMENT ON VIEW " + view + " IS " + quoteLiteral(mark)} {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("national view %s: %w", k.Table(), err)
			}
		}
	}
	for name := range stored {
		// A view of a kind this binary no longer has, or one not made by
		// provex: the schema is the node's.
		if _, err := tx.ExecContext(ctx, "DROP VIEW "+nationalSchema+"."+quoteIdent(name)+" CASCADE"); err != nil {
			return fmt.Errorf("drop national view %s: %w", name, err)
		}
	}
	// Granted at every start, not only when a view is made: the DBA may
	// have made the role since.
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ?)", analystsRole).Scan(&exists); err != nil {
		return err
	}
	if exists {
		for _, s := range []string{
			"GRANT USAGE ON SCHEMA " + nationalSchema + " TO " + analystsRole,
			"GRANT SELECT ON ALL TABLES IN SCHEMA " + nationalSchema + " TO " + analystsRole,
		} {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("grant the national views to %s: %w", analystsRole, err)
			}
		}
	}
	return tx.Commit()
}
