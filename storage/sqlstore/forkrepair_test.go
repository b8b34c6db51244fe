package sqlstore_test

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/sqlitetest"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestCopiesAfterADamagedEntryAreNoFork: an honest node whose own entry 5
// is damaged on disk (its hash column changed) gets, from a peer, the
// copies of the range that starts after it (ranges are asked 256 at a
// time, and a peer skips one it cannot serve). They do not follow its
// damaged entry, yet its log did not fork: it was held as forked for good
// (an outside review). The repair from 5 then mends it, and it writes on.
func TestCopiesAfterADamagedEntryAreNoFork(t *testing.T) {
	ms := federationOf(t, "cao-bang", "mofa")
	o, m := ms["cao-bang"], ms["mofa"]
	for i := range 10 {
		put(t, o, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/a" + string(rune('a'+i)), DisplayName: "a", Kind: twinningv1.Agreement_KIND_MOU})
	}
	syncAll(t, ms, "cao-bang")
	ctx := context.Background()
	truth, _ := m.db.Changes(ctx, "cao-bang", 0, 100)
	o.db.Close()
	sqlitetest.Exec(t, o.path, "UPDATE changes SET hash = zeroblob(32) WHERE origin = 'cao-bang' AND seq = 5")
	db, err := sqlstore.Open(ctx, o.path, "cao-bang", sqlstore.Options{Key: o.key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pub := o.key.Public().(ed25519.PublicKey)
	if res, err := db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, true); err != nil || len(res.Damaged) == 0 {
		t.Fatalf("the check finds no damage: %+v, %v", res, err)
	}
	cp10 := changelog.SignCheckpoint(o.key, "cao-bang", 10, truth[9].Hash)
	for range 2 {
		if _, err := db.Repair(ctx, truth[5:10], cp10); err == nil {
			t.Fatal("copies from 6 that do not follow the damaged entry 5 were taken")
		}
	}
	if hold, held := db.OwnLogHold(); held && strings.HasPrefix(hold.Problem, storage.ForkedLog) {
		t.Errorf("an honest node with a damaged entry is held as forked: %+v", hold)
	}
	if _, err := db.Repair(ctx, truth[4:10], cp10); err != nil {
		t.Fatalf("the repair from 5: %v", err)
	}
	if hold, held := db.OwnLogHold(); held || len(db.Damaged("cao-bang")) != 0 {
		t.Errorf("after the repair from 5: hold %+v, damage %+v", hold, db.Damaged("cao-bang"))
	}
}
