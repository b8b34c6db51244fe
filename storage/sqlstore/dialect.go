package sqlstore

import (
	"fmt"
	"strings"

	"github.com/provex/provex/internal/workdays"
)

// dialect is what differs between the two databases a store runs on:
// embedded SQLite (a node's file) and a PostgreSQL server (the ministry's
// node, issue 15). Everything else, from the writer's group commit to the
// hash-chained audit trail, is the same code on the same tables: the SQL
// the store runs is written in the part both understand (ON CONFLICT,
// RETURNING, standard types), with `?` and `?N` parameters, which the
// PostgreSQL connection rewrites to `$N` (rebind).
type dialect struct {
	postgres bool
}

var (
	sqliteDialect   = dialect{}
	postgresDialect = dialect{postgres: true}
)

func (d dialect) String() string {
	if d.postgres {
		return "postgres"
	}
	return "sqlite"
}

// indexedBy names the index a query must read table through. SQLite's
// planner needs the hint where its statistics mislead it (reads.go,
// summary.go); PostgreSQL's has no such clause and plans from its own.
func (d dialect) indexedBy(index string) string {
	if d.postgres {
		return ""
	}
	return " INDEXED BY " + index
}

// jsonStrings is a table of the strings of the JSON array bound to param,
// one per row in a column named value.
func (d dialect) jsonStrings(param string) string {
	if d.postgres {
		return "jsonb_array_elements_text(CAST(" + param + " AS jsonb)) AS j(value)"
	}
	return "json_each(" + param + ")"
}

// ymdOfNanos is the date yyyymmdd in Vietnam (workdays.Vietnam), as an
// integer, of column c, which holds Unix nanoseconds (not 0): the date a
// deadline counts and the dashboard shows, so an incident at 01:00 on
// 1 January in Hà Nội (18:00 UTC the day before) is in the new year. The
// seconds are floored, not truncated toward zero: a time half a second
// before a midnight of 1969 is still on the day before it.
func (d dialect) ymdOfNanos(c string) string {
	seconds := fmt.Sprintf("(%[1]s / 1000000000 - CASE WHEN %[1]s %% 1000000000 < 0 THEN 1 ELSE 0 END + %[2]d)", c, workdays.VietnamOffset)
	if d.postgres {
		return fmt.Sprintf("CAST(to_char(to_timestamp(%s) AT TIME ZONE 'UTC', 'YYYYMMDD') AS BIGINT)", seconds)
	}
	return fmt.Sprintf("CAST(strftime('%%Y%%m%%d', %s, 'unixepoch') AS INTEGER)", seconds)
}

// integer and text are the column types of DDL the store makes at run
// time (rollups): 64-bit integers, and strings compared byte by byte as
// SQLite compares them (order_by and page tokens rely on that order).
func (d dialect) integer() string {
	if d.postgres {
		return "BIGINT"
	}
	return "INTEGER"
}

func (d dialect) text() string {
	if d.postgres {
		return `TEXT COLLATE "C"`
	}
	return "TEXT"
}

// withoutRowid ends a CREATE TABLE of a table keyed by its primary key.
func (d dialect) withoutRowid() string {
	if d.postgres {
		return ""
	}
	return " WITHOUT ROWID"
}

// insertElementSQL adds an element of a record's repeated field to
// record_elements; the field may hold the same element twice.
const insertElementSQL = "INSERT INTO record_elements (list, value, record) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"

// rebind rewrites the `?` and `?N` parameters of query as PostgreSQL's
// `$N`, with SQLite's numbering: a bare `?` is one more than the largest
// number before it. Quoted strings, quoted identifiers and comments are
// left as they are.
// quoteIdent quotes a name SQL takes as an identifier (a table, index,
// view or trigger the database itself named), in both dialects.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func rebind(query string) string {
	if !strings.ContainsRune(query, '?') {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	largest := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(query) {
				if query[j] == c {
					if j+1 < len(query) && query[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(query))
			b.WriteString(query[i:end])
			i = end - 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j - 1
		case c == '?':
			j := i + 1
			n := 0
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				n = n*10 + int(query[j]-'0')
				j++
			}
			if j == i+1 {
				n = largest + 1
			}
			largest = max(largest, n)
			fmt.Fprintf(&b, "$%d", n)
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Dialect names the database the store runs on: "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.String() }

// beginWrite starts a write transaction. SQLite's takes the write lock at
// once (IMMEDIATE), as the writer's DSN asks of database/sql's (_txlock):
// a transaction that read first and wrote later could find the lock taken
// by another process and fail where waiting would have done.
func (d dialect) beginWrite() string {
	if d.postgres {
		return "BEGIN"
	}
	return "BEGIN IMMEDIATE"
}
