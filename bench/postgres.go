package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/provex/provex/server"
	"github.com/provex/provex/storage/sqlstore"
)

// runPostgresCatchUp measures the ministry's node catching up on one
// origin's log from a peer with its store on PostgreSQL (issue 15), against
// COPY, PostgreSQL's bulk load, of the same rows into the same schema (the
// rows the caught-up store holds, every table, indexes and all), and of the
// entries alone into a minimal table, in the same run. Each path gets a new
// database of its own, made on the server -postgres names and dropped after.
func runPostgresCatchUp(args []string) error {
	fs := flag.NewFlagSet("pgcatchup", flag.ExitOnError)
	records := fs.Int("records", 1_000_000, "entries in the origin's log")
	confidential := fs.Int("confidential", 30, "percentage of the records that are national or restricted (sealed)")
	dataDir := fs.String("data", "", "keep the loaded origin here and reuse it (default: temporary)")
	rounds := fs.Int("rounds", 3, "rounds of every path, interleaved; the table gives medians")
	admin := fs.String("postgres", os.Getenv("PROVEX_TEST_POSTGRES"), "URL of a PostgreSQL role that may create databases (default $PROVEX_TEST_POSTGRES; scripts/postgres.sh)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the catch-ups to this file")
	fs.Parse(args)
	if *admin == "" {
		return errors.New("pgcatchup needs a PostgreSQL server: -postgres URL, or eval \"$(./scripts/postgres.sh)\"")
	}
	o, err := loadOrigin("catchup", *dataDir, *records, *confidential)
	if err != nil {
		return err
	}
	defer o.cleanup()
	quiet := slog.New(slog.DiscardHandler)
	src, err := startNode(server.Config{Member: "cao-bang", DataDir: o.srcDir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Keys: o.keys["cao-bang"], Manifest: o.manifest, Logger: quiet, Cert: o.certOf("cao-bang"), PlaintextAPI: true})
	if err != nil {
		return err
	}
	defer src.stop()
	rows, err := baselineRows(filepath.Join(o.srcDir, server.DatabaseFile), o.keys["mofa"])
	if err != nil {
		return err
	}

	catchUp := func() (time.Duration, string, error) {
		store, err := newDatabase(*admin)
		if err != nil {
			return 0, "", err
		}
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return 0, "", err
		}
		defer stopProfile()
		// The store's schema is made before the clock starts, as it is
		// before COPY's: making it (about a second) is not catch-up.
		db, err := sqlstore.Open(ctx, store, "mofa", sqlstore.Options{Logger: quiet})
		if err != nil {
			return 0, store, err
		}
		if err := db.Close(); err != nil {
			return 0, store, err
		}
		start := time.Now()
		n, err := startNode(server.Config{Member: "mofa", DataDir: filepath.Join(o.dir, "mofa-pg"), Store: store, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			Keys: o.keys["mofa"], Manifest: o.manifest, Peers: []string{"cao-bang"}, Logger: quiet, Cert: o.certOf("mofa"), PlaintextAPI: true})
		if err != nil {
			return 0, store, err
		}
		defer n.stop()
		for {
			origins, err := n.node.Store().Origins(ctx)
			if err != nil {
				return 0, store, err
			}
			for _, og := range origins {
				if og.Origin == "cao-bang" && og.Seq == uint64(*records) {
					return time.Since(start), store, nil
				}
			}
			// Each look is a statement on the server the catch-up
			// writes to: every 20 ms took a tenth of a core from it.
			time.Sleep(100 * time.Millisecond)
		}
	}
	paths := map[string][]time.Duration{}
	var sizes string
	for round := range *rounds {
		took, store, err := catchUp()
		if err != nil {
			return err
		}
		paths["provex"] = append(paths["provex"], took)
		tables, err := readTables(store)
		if err != nil {
			return err
		}
		if round == 0 {
			if sizes, err = postgresSizes(store, *records); err != nil {
				return err
			}
		}
		if err := dropDatabase(*admin, store); err != nil {
			return err
		}
		same, err := copySameRows(*admin, tables)
		if err != nil {
			return err
		}
		paths["copy same rows"] = append(paths["copy same rows"], same)
		minimal, err := copyMinimal(*admin, rows)
		if err != nil {
			return err
		}
		paths["copy minimal"] = append(paths["copy minimal"], minimal)
		fmt.Fprintf(os.Stderr, "round %d: provex %s, COPY of the same rows %s, COPY into the minimal table %s\n", round+1, took.Round(time.Millisecond), same.Round(time.Millisecond), minimal.Round(time.Millisecond))
	}
	rate := func(d time.Duration) float64 { return float64(*records) / d.Seconds() }
	provex := medianDuration(paths["provex"])
	fmt.Printf("Catch-up of %d entries (%d%% sealed) by the ministry's node with its store on PostgreSQL, from one peer, %d rounds interleaved (medians):\n\n", *records, *confidential, *rounds)
	fmt.Printf("| path | entries/s | slowest–fastest round | provex / it |\n|---|---|---|---|\n")
	for _, p := range []struct{ key, label string }{
		{"provex", "provex catch-up (opens every sealed entry), store on PostgreSQL"},
		{"copy same rows", "COPY of the rows that store then holds, every table, into the same schema (one transaction)"},
		{"copy minimal", "COPY of the entries into a minimal table (name index, unique (origin, seq))"},
	} {
		ds := paths[p.key]
		fmt.Printf("| %s | %.0f | %.0f–%.0f | %.2f |\n", p.label, rate(medianDuration(ds)), rate(slices.Max(ds)), rate(slices.Min(ds)),
			medianDuration(ds).Seconds()/provex.Seconds())
	}
	fmt.Println()
	fmt.Print(sizes)
	return nil
}

// newDatabase makes an empty database on admin's server and returns its URL.
func newDatabase(admin string) (string, error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "provex_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		return "", err
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func dropDatabase(admin, store string) error {
	u, err := url.Parse(store)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+strings.TrimPrefix(u.Path, "/")+" WITH (FORCE)")
	return err
}

// table is the rows of one table, read whole.
type table struct {
	name    string
	columns []string
	rows    [][]any
}

// readTables reads every table of store's public schema that holds rows
// (untimed).
func readTables(store string) ([]table, error) {
	conn, err := pgx.Connect(ctx, store)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	names, err := pgx.CollectRows(must(conn.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")), pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var out []table
	for _, name := range names {
		rows, err := conn.Query(ctx, "SELECT * FROM "+pgx.Identifier{name}.Sanitize())
		if err != nil {
			return nil, err
		}
		t := table{name: name}
		for _, f := range rows.FieldDescriptions() {
			t.columns = append(t.columns, f.Name)
		}
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				rows.Close()
				return nil, err
			}
			t.rows = append(t.rows, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(t.rows) > 0 {
			out = append(out, t)
		}
	}
	return out, nil
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// copySameRows makes a new store (its schema, as a node makes it), then
// times COPY of tables into it, in one transaction, leaving out the rows a
// new store already holds (its member, its rollups' definitions, its
// schema version).
func copySameRows(admin string, tables []table) (time.Duration, error) {
	store, err := newDatabase(admin)
	if err != nil {
		return 0, err
	}
	defer dropDatabase(admin, store)
	db, err := sqlstore.Open(ctx, store, "mofa", sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, err
	}
	db.Close()
	conn, err := pgx.Connect(ctx, store)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	start := time.Now()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	for _, t := range tables {
		if t.name == "node" || t.name == "rollups" || t.name == "schema_version" {
			continue
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, pgx.CopyFromRows(t.rows)); err != nil {
			return 0, fmt.Errorf("copy %s: %w", t.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// copyMinimal times COPY of the entries into the minimal table of bench
// catchup (name index, unique (origin, seq)) in a new database.
func copyMinimal(admin string, rows []baselineRow) (time.Duration, error) {
	store, err := newDatabase(admin)
	if err != nil {
		return 0, err
	}
	defer dropDatabase(admin, store)
	conn, err := pgx.Connect(ctx, store)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE entries (origin TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, name TEXT COLLATE "C" NOT NULL, data BYTEA NOT NULL, UNIQUE (origin, seq));
		CREATE INDEX entries_name ON entries (name)`); err != nil {
		return 0, err
	}
	values := make([][]any, len(rows))
	for i, r := range rows {
		// origin, seq, the name as stored ('' when sealed), the data.
		values[i] = []any{r.change[0], r.change[1], r.change[3], r.change[4]}
	}
	start := time.Now()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"entries"}, []string{"origin", "seq", "name", "data"}, pgx.CopyFromRows(values)); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// postgresSizes is a table of the bytes each table and its indexes take in
// store, per record.
func postgresSizes(store string, records int) (string, error) {
	conn, err := pgx.Connect(ctx, store)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "Bytes per record in the caught-up store (pg_table_size, TOAST included, and pg_indexes_size), tables over 1 byte per record:\n\n| table | table | its indexes |\n|---|---|---|\n")
	var total int64
	for rows.Next() {
		var name string
		var data, indexes int64
		if err := rows.Scan(&name, &data, &indexes); err != nil {
			return "", err
		}
		total += data + indexes
		if (data+indexes)/int64(records) >= 1 {
			fmt.Fprintf(&b, "| %s | %d | %d |\n", name, data/int64(records), indexes/int64(records))
		}
	}
	fmt.Fprintf(&b, "| all | %d | |\n", total/int64(records))
	return b.String(), rows.Err()
}
