package sqlstore

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

const day = int64(24 * 60 * 60 * 1_000_000_000)

// Summarize runs one GROUP BY: over the smallest rollup that covers the
// query's dimensions, sums and filter (see rollup.go), else over the kind's
// indexed columns. The filter runs in a subquery on one table alone, so a
// join with record_elements for a repeated dimension cannot make its columns
// ambiguous. The read is audited (auditRead) as any summary's is. A count
// of distinct values reads the table: rollups keep counts, not values.
// A page's range of groups (From, Through, Limit) bounds the rows before
// they are grouped, and the groups after, so a page reads what its range
// holds.
func (db *DB) Summarize(ctx context.Context, q storage.SummaryQuery) ([]storage.SummaryRow, error) {
	r := rollupFor(q)
	if q.Distinct != nil || q.Unanswered != nil {
		r = nil
	}
	rows, err := db.summarize(ctx, q, r)
	if err != nil {
		return nil, err
	}
	if err := db.auditRead(ctx, scope(q.Province, q.Kind), q.Kind, nil, true); err != nil {
		return nil, err
	}
	return rows, nil
}

// summarize reads the rollup r, or the kind's table when r is nil.
func (db *DB) summarize(ctx context.Context, q storage.SummaryQuery, r *rollup) ([]storage.SummaryRow, error) {
	k := q.Kind
	table, count := k.Table(), "count(*)"
	where := []string{"delete_time = 0"}
	if r != nil {
		// A rollup row counts n live records.
		table, count, where = r.table, "coalesce(sum(s.n), 0)", nil
	}
	var args []any
	if q.Province != resource.AllProvinces {
		where = append(where, "province = ?")
		args = append(args, q.Province)
	}
	if q.Filter != nil {
		s, a := filter.SQL(q.Filter, k.Collection)
		where = append(where, s)
		args = append(args, a...)
	}
	if u := q.Unanswered; u != nil {
		// By the index on the answers' reference, named: with statistics
		// gathered while the answers were few, SQLite prefers their
		// delete_time index and reads every live answer per record.
		where = append(where, fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %[1]s a%[4]s WHERE a.%[2]s = %[3]s.name AND a.province = ? AND a.delete_time = 0)",
			u.Kind.Table(), u.Field.Column, table, db.dialect.indexedBy(u.Kind.Table()+"_"+u.Field.Column)))
		args = append(args, u.Province)
	}
	var (
		keys    []string
		keyArgs []any
		join    string
		joinArg []any
	)
	for _, d := range q.Dims {
		switch {
		case d.Field == nil:
			keys = append(keys, "s.province")
		case d.Field.Repeated && r != nil:
			keys = append(keys, "s."+d.Field.Column) // a rollup of its elements
		case d.Field.Repeated:
			if join != "" {
				return nil, fmt.Errorf("summary: more than one repeated dimension")
			}
			join = " JOIN record_elements rv ON rv.list = ? AND rv.record = s.id"
			joinArg = []any{filter.ListID(k.Collection, d.Field.Path)}
			keys = append(keys, "rv.value")
		default:
			expr, a, err := bucketExpr(db.dialect, "s."+d.Field.Column, d.Field.Type, d.Bucket, q.Now.UnixNano())
			if err != nil {
				return nil, err
			}
			keys = append(keys, expr)
			keyArgs = append(keyArgs, a...)
		}
	}
	// The groups' range (a page's, From and Through) bounds the rows
	// before they are grouped, by the dimensions' keys alone, compared as
	// a row, in the order ORDER BY gives; their expressions' arguments
	// come again with each bound.
	var (
		outer    []string
		outerArg []any
	)
	for _, b := range []struct {
		op     string
		values []any
	}{{">=", q.From}, {"<=", q.Through}} {
		if len(b.values) == 0 {
			continue
		}
		if len(b.values) != len(keys) {
			return nil, fmt.Errorf("summary: a bound of %d keys for %d dimensions", len(b.values), len(keys))
		}
		outer = append(outer, "("+strings.Join(keys, ", ")+") "+b.op+" ("+strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")+")")
		outerArg = append(append(outerArg, keyArgs...), b.values...)
	}
	if q.Currency != nil {
		keys = append(keys, "s."+q.Currency.Column)
		// Amounts without a currency are not money yet.
		outer = append(outer, "s."+q.Currency.Column+" != ''")
	}
	if d := q.Distinct; d != nil {
		switch {
		case len(q.Sums) > 0 || q.Currency != nil:
			return nil, fmt.Errorf("summary: a distinct count has no sums")
		case d.Repeated:
			// A left join, so that groups whose records have no element
			// are still rows, with 0; count(DISTINCT) ignores the NULLs
			// and counts an element named by many records once.
			join += " LEFT JOIN record_elements dv ON dv.list = ? AND dv.record = s.id"
			joinArg = append(joinArg, filter.ListID(k.Collection, d.Path))
			count = "count(DISTINCT NULLIF(dv.value, ''))"
		case d.Type == filter.String:
			count = `count(DISTINCT NULLIF(s."` + d.Column + `", ''))`
		case d.Type == filter.Enum:
			count = `count(DISTINCT NULLIF(s."` + d.Column + `", 0))`
		default:
			return nil, fmt.Errorf("summary: distinct values of %s (%s) are not counted", d.Path, d.Type)
		}
	}
	sel := append([]string(nil), keys...)
	sel = append(sel, count)
	// Each sum is read in halves (see rollup.go), whose SUMs cannot leave
	// int64, and joined below with checked arithmetic.
	for _, f := range q.Sums {
		hi, lo := sumColumns(f)
		if r == nil {
			hi, lo = splitExprs(`s."` + f.Column + `"`)
		} else {
			hi, lo = "s."+hi, "s."+lo
		}
		sel = append(sel, "coalesce(sum("+hi+"), 0)", "coalesce(sum("+lo+"), 0)")
	}
	if len(where) == 0 {
		where = []string{"true"}
	}
	query := "SELECT " + strings.Join(sel, ", ") + " FROM (SELECT * FROM " + table + " WHERE " + strings.Join(where, " AND ") + ") s" + join
	if len(outer) > 0 {
		query += " WHERE " + strings.Join(outer, " AND ")
	}
	if len(keys) > 0 {
		positions := make([]string, len(keys))
		for i := range keys {
			positions[i] = fmt.Sprint(i + 1)
		}
		query += " GROUP BY " + strings.Join(positions, ", ")
		if r != nil {
			// Groups whose records were all deleted keep rollup rows of 0.
			query += " HAVING sum(s.n) > 0"
		}
		query += " ORDER BY " + strings.Join(positions, ", ")
	}
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	// Arguments in the order their placeholders appear: keys, subquery,
	// join, the range.
	all := append(append(append(append([]any(nil), keyArgs...), args...), joinArg...), outerArg...)
	rows, err := db.queries.QueryContext(ctx, query, all...)
	if err != nil {
		return nil, summaryErr(k, err)
	}
	defer rows.Close()
	var out []storage.SummaryRow
	halves := make([]int64, 2*len(q.Sums))
	for rows.Next() {
		r := storage.SummaryRow{Keys: make([]any, len(keys)), Sums: make([]int64, len(q.Sums))}
		dest := make([]any, 0, len(keys)+1+len(halves))
		for i := range r.Keys {
			dest = append(dest, &r.Keys[i])
		}
		dest = append(dest, &r.Count)
		for i := range halves {
			dest = append(dest, &halves[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		for i, k := range r.Keys {
			if b, ok := k.([]byte); ok {
				// SQLite's text may scan as bytes, which as an argument
				// (a page's bound) would be a BLOB, ordered after all text.
				r.Keys[i] = string(b)
			}
		}
		for i, f := range q.Sums {
			var ok bool
			if r.Sums[i], ok = joinSum(halves[2*i], halves[2*i+1]); !ok {
				return nil, &storage.SumOutOfRangeError{Kind: k, Field: f, Keys: r.Keys}
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, summaryErr(k, err)
	}
	return out, nil
}

// joinSum returns hi·2^32 + lo, a sum read in halves, or false when it does
// not fit in int64.
func joinSum(hi, lo int64) (int64, bool) {
	carry := lo >> 32 // lo is a sum of low halves: it may exceed 2^32
	if (carry > 0 && hi > math.MaxInt64-carry) || (carry < 0 && hi < math.MinInt64-carry) {
		return 0, false
	}
	hi += carry
	if hi > math.MaxInt32 || hi < math.MinInt32 {
		return 0, false
	}
	return hi<<32 | lo&0xFFFFFFFF, true
}

// summaryErr says what went wrong in a summary's query. SQLite's SUM fails
// with "integer overflow" rather than wrapping; the halves make that need
// 2^31 records in one group, but it is a range error all the same, not an
// internal one.
func summaryErr(k *resource.Kind, err error) error {
	if strings.Contains(err.Error(), "integer overflow") {
		return apperr.OutOfRange("a summary of %s adds up to more than int64 holds", k.Collection)
	}
	return fmt.Errorf("summarize %s: %w", k.Collection, err)
}

// bucketExpr is the SQL of a dimension over column c.
func bucketExpr(d dialect, c string, t filter.Type, bucket string, now int64) (string, []any, error) {
	if bucket == "" {
		return c, nil, nil
	}
	// Dates are stored as yyyymmdd; timestamps as Unix nanoseconds, which
	// become yyyymmdd (Vietnam's date) first. Unset is 0 either way.
	ymd := c
	switch t {
	case filter.Date:
	case filter.Timestamp:
		if bucket == "age" {
			// Compared with the bounds, not subtracted from now: a member
			// may sign a time of the year 1589, and now minus it overflows
			// PostgreSQL's bigint (SQLite turns to floating point).
			return fmt.Sprintf("CASE WHEN %[1]s = 0 THEN -1 WHEN %[1]s >= ? THEN 0 WHEN %[1]s >= ? THEN 1 "+
				"WHEN %[1]s >= ? THEN 2 WHEN %[1]s >= ? THEN 3 ELSE 4 END", c), []any{now - 7*day, now - 30*day, now - 90*day, now - 365*day}, nil
		}
		ymd = fmt.Sprintf("CASE WHEN %[1]s = 0 THEN 0 ELSE %[2]s END", c, d.ymdOfNanos(c))
	default:
		return "", nil, fmt.Errorf("summary: only dates and timestamps can be bucketed")
	}
	switch bucket {
	case "year":
		return "(" + ymd + ") / 10000", nil, nil
	case "month":
		return "(" + ymd + ") / 100", nil, nil
	case "quarter":
		return fmt.Sprintf("((%[1]s) / 10000 * 10 + ((%[1]s) / 100 %% 100 + 2) / 3)", ymd), nil, nil
	}
	return "", nil, fmt.Errorf("summary: unknown bucket %q", bucket)
}
