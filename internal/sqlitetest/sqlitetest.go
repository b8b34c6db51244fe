// Package sqlitetest damages a stopped store's SQLite file as a disk or a
// hand on it could, for the tests of what finds and mends the damage.
package sqlitetest

import (
	"database/sql"
	"encoding/binary"
	"os"
	"testing"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// Exec runs query on the store's file at path as a hand on it would,
// outside the node (which may be running: SQLite's locks order the two).
func Exec(t testing.TB, path, query string, args ...any) {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// QueryRow reads query's one row into dest from the store's file at path,
// as a hand on it would.
func QueryRow(t testing.TB, path, query string, dest ...any) {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.QueryRow(query).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// FlipIndexKeyByte changes, in the stopped store's file at path, the last
// byte of the text keying the first entry of a leaf page of index (its
// right-most), and returns the text as the index held it before: the row
// it stands for is intact, and an equality filter on the text no longer
// finds it.
func FlipIndexKeyByte(t testing.TB, path, index string) string {
	t.Helper()
	return flipFirstText(t, path, "index", index)
}

// FlipRowTextByte is FlipIndexKeyByte for a table's row: the last byte of
// the first column holding text of the first row of a leaf page of table
// (its right-most), whose indexes then miss the row as it reads now.
func FlipRowTextByte(t testing.TB, path, table string) string {
	t.Helper()
	return flipFirstText(t, path, "table", table)
}

// flipFirstText flips the last byte of the first column holding text of
// the first cell of the right-most leaf page of the b-tree name, of kind
// "table" or "index", and returns that column's text before.
func flipFirstText(t testing.TB, path, kind, name string) string {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	err = raw.QueryRow("SELECT rootpage FROM sqlite_master WHERE type = ? AND name = ?", kind, name).Scan(&root)
	if err == nil {
		err = raw.QueryRow("PRAGMA page_size").Scan(&pageSize)
	}
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	interior, leaf := byte(0x02), byte(0x0a)
	if kind == "table" {
		interior, leaf = 0x05, 0x0d
	}
	page := b[(root-1)*pageSize : root*pageSize]
	for page[0] == interior { // down its right-most child
		child := int64(binary.BigEndian.Uint32(page[8:12]))
		page = b[(child-1)*pageSize : child*pageSize]
	}
	if page[0] != leaf {
		t.Fatalf("page of %s: type %#x, want a leaf", name, page[0])
	}
	cell := page[binary.BigEndian.Uint16(page[8:10]):]
	_, n := varint(cell) // the payload's size
	cell = cell[n:]
	if kind == "table" {
		_, n = varint(cell) // the rowid
		cell = cell[n:]
	}
	record := cell
	headerSize, n := varint(record)
	// The first column holding text: a table's first may be its rowid's
	// alias, stored as NULL.
	header, body := record[n:headerSize], record[headerSize:]
	var text []byte
	for len(header) > 0 && text == nil {
		serial, n := varint(header)
		header = header[n:]
		size := serialSize(serial)
		if serial >= 15 && serial%2 == 1 {
			text = body[:size]
		}
		body = body[size:]
	}
	if text == nil {
		t.Fatalf("the first cell of %s holds no text", name)
	}
	was := string(text)
	text[len(text)-1] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return was
}

// serialSize is the bytes of a value of SQLite's serial type.
func serialSize(serial uint64) int {
	switch {
	case serial >= 12:
		return int(serial-12) / 2
	case serial <= 4:
		return int(serial)
	case serial == 5:
		return 6
	case serial == 6 || serial == 7:
		return 8
	}
	return 0 // 8 and 9: the constants 0 and 1; 10 and 11 are not used
}

// varint reads one of SQLite's varints (big-endian, 7 bits a byte, the
// ninth byte whole) and returns it with its length.
func varint(b []byte) (uint64, int) {
	var v uint64
	for i := range 8 {
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return v<<8 | uint64(b[8]), 9
}
