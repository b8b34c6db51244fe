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

// FlipIndexKeyByte changes, in the stopped store's file at path, the last
// byte of the text keying the first entry of a leaf page of index (its
// right-most), and returns the text as the index held it before: the row
// it stands for is intact, and an equality filter on the text no longer
// finds it.
func FlipIndexKeyByte(t testing.TB, path, index string) string {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	err = raw.QueryRow("SELECT rootpage FROM sqlite_master WHERE type = 'index' AND name = ?", index).Scan(&root)
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
	page := b[(root-1)*pageSize : root*pageSize]
	for page[0] == 0x02 { // an interior page: down its right-most child
		child := int64(binary.BigEndian.Uint32(page[8:12]))
		page = b[(child-1)*pageSize : child*pageSize]
	}
	if page[0] != 0x0a {
		t.Fatalf("page of %s: type %#x, want an index leaf", index, page[0])
	}
	cell := page[binary.BigEndian.Uint16(page[8:10]):]
	_, n := varint(cell) // the payload's size
	record := cell[n:]
	headerSize, n := varint(record)
	textType, _ := varint(record[n:])
	if textType < 15 || textType%2 == 0 {
		t.Fatalf("first column of %s's entry: serial type %d, want a text of a byte or more", index, textType)
	}
	text := record[headerSize : headerSize+(textType-13)/2]
	was := string(text)
	text[len(text)-1] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return was
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
