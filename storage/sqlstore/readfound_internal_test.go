package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestReadsRememberABoundedNumberOfDamagedEntries: reads that find ever
// new entries of one origin damaged ask for a full check each, up to
// readFoundEntries in readCheckEvery; past that they ask for none and the
// node remembers no more of them, until the while has passed for those it
// remembers. Another origin's reads still ask.
func TestReadsRememberABoundedNumberOfDamagedEntries(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "provex.db"), "mofa", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	asks := func(origin string, seq uint64) bool {
		db.readFoundDamage(origin, seq)
		return db.takeFullCheck(origin)
	}
	for seq := range uint64(readFoundEntries) {
		if !asks("cao-bang", seq+1) {
			t.Fatalf("a read of damaged entry %d, new, asked for no check", seq+1)
		}
	}
	if asks("cao-bang", 1) || asks("cao-bang", readFoundEntries+1) {
		t.Error("a read asked for a check past the bound")
	}
	if n := len(db.readFound["cao-bang"]); n != readFoundEntries {
		t.Errorf("remembered %d entries, want %d", n, readFoundEntries)
	}
	if !asks("lang-son", 1) {
		t.Error("another origin's damage found by a read asked for no check")
	}
	db.damageMu.Lock()
	for seq := range db.readFound["cao-bang"] {
		db.readFound["cao-bang"][seq] = time.Now().Add(-readCheckEvery)
	}
	db.damageMu.Unlock()
	if !asks("cao-bang", readFoundEntries+1) {
		t.Error("a read once the while had passed asked for no check")
	}
	if n := len(db.readFound["cao-bang"]); n != 1 {
		t.Errorf("remembered %d entries once the while had passed, want 1", n)
	}
}
