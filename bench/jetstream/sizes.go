package main

import (
	"database/sql"
	"fmt"
	"os"
)

// Object is one table or index of a database and the bytes of its pages.
type Object struct {
	Name  string `json:"name"`
	Table string `json:"table"` // the table an index belongs to; its own name for a table
	Index bool   `json:"index"`
	Bytes int64  `json:"bytes"`
}

// Sizes is a database's bytes by object; Total is the file (page_count ×
// page_size), free pages included, without the WAL.
type Sizes struct {
	Path    string   `json:"path"`
	Objects []Object `json:"objects"`
	Free    int64    `json:"free"`
	Total   int64    `json:"total"`
}

// runSizes measures each database with SQLite's dbstat virtual table,
// which reads every page: exact, including overflow pages and unused
// space inside pages.
func runSizes(paths []string) (any, error) {
	var out []Sizes
	for _, p := range paths {
		s, err := sizes(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func sizes(path string) (Sizes, error) {
	s := Sizes{Path: path}
	if _, err := os.Stat(path); err != nil {
		return s, err
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return s, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT d.name, coalesce(m.tbl_name, d.name), coalesce(m.type = 'index', 0), d.pgsize
		FROM dbstat('main', 1) AS d LEFT JOIN sqlite_schema AS m ON m.name = d.name ORDER BY d.pgsize DESC`)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	var used int64
	for rows.Next() {
		var o Object
		if err := rows.Scan(&o.Name, &o.Table, &o.Index, &o.Bytes); err != nil {
			return s, err
		}
		used += o.Bytes
		s.Objects = append(s.Objects, o)
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	var pages, pageSize int64
	if err := db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		return s, err
	}
	if err := db.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
		return s, err
	}
	s.Total = pages * pageSize
	s.Free = s.Total - used
	return s, nil
}
