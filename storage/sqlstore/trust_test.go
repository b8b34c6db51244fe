package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/sqlitetest"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// member is a store of one member of a small federation whose encryption
// keys all stores know.
type member struct {
	id   string
	db   *sqlstore.DB
	path string
	key  ed25519.PrivateKey
}

func federationOf(t *testing.T, ids ...string) map[string]*member {
	t.Helper()
	keys := changelog.Keys{}
	sealers := map[string]*changelog.Sealer{}
	for _, id := range ids {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[id] = k.PublicKey()
		sealers[id], _ = changelog.NewSealer(k)
	}
	out := map[string]*member{}
	for _, id := range ids {
		_, sign, _ := ed25519.GenerateKey(nil)
		path := filepath.Join(t.TempDir(), id+".db")
		db, err := sqlstore.Open(context.Background(), path, id, sqlstore.Options{Key: sign, Sealer: sealers[id], Directory: keys})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		out[id] = &member{id: id, db: db, path: path, key: sign}
	}
	return out
}

func put(t *testing.T, m *member, a *twinningv1.Agreement) {
	t.Helper()
	if _, err := m.db.Write(context.Background(), storage.Write{Kind: resource.Agreements, Name: a.GetName(),
		Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return a, nil }}); err != nil {
		t.Fatal(err)
	}
}

// sync applies origin's whole log to every other member, as one run.
func syncAll(t *testing.T, ms map[string]*member, origin string) map[string][]storage.Refusal {
	t.Helper()
	ctx := context.Background()
	o := ms[origin]
	entries, err := o.db.Changes(ctx, origin, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	cp := changelog.SignCheckpoint(o.key, origin, last.Seq, last.Hash)
	out := map[string][]storage.Refusal{}
	for id, m := range ms {
		if id == origin {
			continue
		}
		r, err := m.db.ApplyRemote(ctx, entries, cp)
		if err != nil {
			t.Fatalf("%s applying %s's log: %v", id, origin, err)
		}
		out[id] = r
	}
	return out
}

func originState(t *testing.T, db *sqlstore.DB, origin string) storage.OriginState {
	t.Helper()
	all, err := db.Origins(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range all {
		if o.Origin == origin {
			return o
		}
	}
	return storage.OriginState{}
}

// TestSealedStatesReachOnlyTheirReaders: cao-bang's log (public, national,
// restricted to lang-son, a public record made national, a national one
// deleted) applied at the ministry (reads all), lang-son (reads the
// restricted one) and nghe-an (relays): each holds every entry whole and
// exactly the records it may read, and the counts say who opened what.
func TestSealedStatesReachOnlyTheirReaders(t *testing.T) {
	ms := federationOf(t, "cao-bang", "mofa", "lang-son", "nghe-an")
	o := ms["cao-bang"]
	name := func(id string) string { return "provinces/cao-bang/agreements/" + id }
	rec := func(id string, v typev1.Visibility, to ...string) *twinningv1.Agreement {
		return &twinningv1.Agreement{Name: name(id), DisplayName: "text of " + id, Kind: twinningv1.Agreement_KIND_MOU, Visibility: v, VisibleTo: to}
	}
	put(t, o, rec("public", typev1.Visibility_VISIBILITY_PUBLIC))
	put(t, o, rec("national", typev1.Visibility_VISIBILITY_NATIONAL))
	put(t, o, rec("restricted", typev1.Visibility_VISIBILITY_RESTRICTED, "lang-son", "atlantis"))
	put(t, o, rec("changing", typev1.Visibility_VISIBILITY_PUBLIC))
	put(t, o, rec("changing", typev1.Visibility_VISIBILITY_NATIONAL))
	deleted := rec("national", typev1.Visibility_VISIBILITY_NATIONAL)
	deleted.DeleteTime = deleted.CreateTime
	put(t, o, deleted)
	refusals := syncAll(t, ms, "cao-bang")

	readable := map[string]map[string]bool{
		"mofa":     {"public": true, "national": true, "restricted": true, "changing": true},
		"lang-son": {"public": true, "restricted": true},
		"nghe-an":  {"public": true},
	}
	ctx := context.Background()
	for id, want := range readable {
		m := ms[id]
		if len(refusals[id]) != 0 {
			t.Errorf("%s refused %v", id, refusals[id])
		}
		for _, rid := range []string{"public", "national", "restricted", "changing"} {
			_, err := m.db.Get(ctx, resource.Agreements, name(rid))
			if (err == nil) != want[rid] {
				t.Errorf("%s: Get %s: %v, want readable = %v", id, rid, err, want[rid])
			}
		}
		entries, err := m.db.Changes(ctx, "cao-bang", 0, 100)
		if err != nil || len(entries) != 6 {
			t.Fatalf("%s holds %d entries of cao-bang (%v), want 6", id, len(entries), err)
		}
		for _, e := range entries {
			if e.Sealed != (e.Seq != 1 && e.Seq != 4) || (e.Sealed && (e.Name != "" || bytes.Contains(e.Data, []byte("text of")))) {
				t.Errorf("%s: entry %d sealed = %v, name %q", id, e.Seq, e.Sealed, e.Name)
			}
		}
	}
	// The ministry opened the 4 sealed states, lang-son the restricted one
	// (the withdrawal of "changing" is not a state); cao-bang counts the
	// same, per reader.
	for id, want := range map[string]int64{"mofa": 4, "lang-son": 1, "nghe-an": 0} {
		if got := originState(t, ms[id].db, "cao-bang").Opened; got != want {
			t.Errorf("%s opened %d, want %d", id, got, want)
		}
	}
	if got := originState(t, o.db, "cao-bang").SealedFor; got["mofa"] != 4 || got["lang-son"] != 1 || len(got) != 2 {
		t.Errorf("cao-bang's sealed counts: %v", got)
	}
}

// TestEntriesNamingOthersRecordsAreRefused: an origin's entries that name
// another member's record, or no record, are held (the log stays whole)
// but not applied, counted and returned; the named record stays its
// owner's.
func TestEntriesNamingOthersRecordsAreRefused(t *testing.T) {
	ms := federationOf(t, "cao-bang", "lang-son")
	owner := ms["lang-son"]
	mine := &twinningv1.Agreement{Name: "provinces/lang-son/agreements/mine", DisplayName: "the owner's", Kind: twinningv1.Agreement_KIND_MOU}
	put(t, owner, mine)
	ctx := context.Background()
	_, sign, _ := ed25519.GenerateKey(nil)
	var entries []changelog.Entry
	prev := changelog.ZeroHash
	add := func(name string, data []byte) {
		e := changelog.Entry{Origin: "cao-bang", Seq: uint64(len(entries) + 1), HLC: 1, Name: name, Data: data, PrevHash: prev}
		e.Hash = changelog.Sum(&e)
		prev = e.Hash
		entries = append(entries, e)
	}
	forged, _ := proto.Marshal(&twinningv1.Agreement{Name: mine.Name, DisplayName: "FORGED", Kind: twinningv1.Agreement_KIND_MOU})
	add(mine.Name, forged)
	add("provinces/cao-bang/agreements/x", forged) // names its own record, holds another
	add("provinces/cao-bang/agreements/y", []byte{0xff, 0xff})
	add("provinces/cao-bang/treaties/z", nil)
	cp := changelog.SignCheckpoint(sign, "cao-bang", 4, prev)
	refusals, err := owner.db.ApplyRemote(ctx, entries, cp)
	if err != nil {
		t.Fatal(err)
	}
	if len(refusals) != 4 {
		t.Fatalf("refusals %+v, want 4", refusals)
	}
	for _, want := range []string{"belongs to lang-son, not to cao-bang", "names provinces/cao-bang/agreements/x but its state", "does not decode", "known kind"} {
		found := false
		for _, r := range refusals {
			found = found || (strings.Contains(r.Reason, want) && !r.Unopened)
		}
		if !found {
			t.Errorf("no refusal says %q: %+v", want, refusals)
		}
	}
	got, err := owner.db.Get(ctx, resource.Agreements, mine.Name)
	if err != nil || !proto.Equal(got, mine) {
		t.Errorf("the owner's record: %v %v", got, err)
	}
	if st := originState(t, owner.db, "cao-bang"); st.Seq != 4 || st.Rejected != 4 {
		t.Errorf("held %d entries, %d rejected; want 4 and 4", st.Seq, st.Rejected)
	}
	// An origin cannot push entries of the store's own member either.
	own, _ := owner.db.Changes(ctx, "lang-son", 0, 10)
	ownCP := changelog.SignCheckpoint(owner.key, "lang-son", own[len(own)-1].Seq, own[len(own)-1].Hash)
	if _, err := ms["cao-bang"].db.ApplyRemote(ctx, own, ownCP); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.db.ApplyRemote(ctx, own, ownCP); status.Code(err) != codes.PermissionDenied {
		t.Errorf("applying a node's own entries from elsewhere: %v", err)
	}
}

// TestSealedToMeButBrokenIsUnopened: an origin that seals a state to this
// node wrongly (the body does not decrypt) leaves an unopened entry, held
// and counted, not a rejected one.
func TestSealedToMeButBrokenIsUnopened(t *testing.T) {
	ms := federationOf(t, "cao-bang", "mofa")
	o := ms["cao-bang"]
	put(t, o, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/n", DisplayName: "n", Kind: twinningv1.Agreement_KIND_MOU,
		Visibility: typev1.Visibility_VISIBILITY_NATIONAL})
	ctx := context.Background()
	entries, _ := o.db.Changes(ctx, "cao-bang", 0, 10)
	e := entries[0]
	e.Data = bytes.Clone(e.Data)
	e.Data[len(e.Data)-1] ^= 1 // the last byte of the body's tag
	e.Hash = changelog.Sum(&e)
	refusals, err := ms["mofa"].db.ApplyRemote(ctx, []changelog.Entry{e}, changelog.SignCheckpoint(o.key, "cao-bang", 1, e.Hash))
	if err != nil || len(refusals) != 1 || !refusals[0].Unopened {
		t.Fatalf("refusals %+v, %v; want one unopened", refusals, err)
	}
	if st := originState(t, ms["mofa"].db, "cao-bang"); st.Unopened != 1 || st.Opened != 0 || st.Seq != 1 {
		t.Errorf("mofa's state of cao-bang: %+v", st)
	}
}

// onEachDatabase runs f on a new store of member on SQLite and on
// PostgreSQL, each a subtest.
func onEachDatabase(t *testing.T, member string, f func(t *testing.T, db *sqlstore.DB)) {
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			db, err := sqlstore.Open(context.Background(), newLocation(t, store), member, sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			f(t, db)
		})
	}
}

// readLog reads origin's whole log from db, a read of Changes after
// another (each stops at storage.ChangesBytes).
func readLog(t *testing.T, db *sqlstore.DB, origin string) []changelog.Entry {
	t.Helper()
	var out []changelog.Entry
	for after := uint64(0); ; after = out[len(out)-1].Seq {
		more, err := db.Changes(context.Background(), origin, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(more) == 0 {
			return out
		}
		out = append(out, more...)
	}
}

// rotatingOrigin is cao-bang's store with ten agreements written, and its
// log: its key is the one it rotates from in the tests of a key rotation.
func rotatingOrigin(t *testing.T) (*member, []changelog.Entry) {
	t.Helper()
	o := federationOf(t, "cao-bang")["cao-bang"]
	for i := range 10 {
		put(t, o, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/a" + string(rune('a'+i)), DisplayName: "a", Kind: twinningv1.Agreement_KIND_MOU})
	}
	truth, err := o.db.Changes(context.Background(), "cao-bang", 0, 100)
	if err != nil || len(truth) != 10 {
		t.Fatalf("cao-bang's log: %d entries, %v", len(truth), err)
	}
	return o, truth
}

// TestRepairKeepsANewerSignatureOfItsLastEntry: an origin rotated its key
// and re-signed its head, which this node keeps; a peer repairing a
// damaged range before it holds only the head's checkpoint signed with
// the retired key. The repair puts the entries back and leaves the new
// signature, which a manifest that drops the retired key needs.
func TestRepairKeepsANewerSignatureOfItsLastEntry(t *testing.T) {
	o, truth := rotatingOrigin(t)
	ctx := context.Background()
	retired := changelog.SignCheckpoint(o.key, "cao-bang", 10, truth[9].Hash)
	newPub, newKey, _ := ed25519.GenerateKey(rand.Reader)
	onEachDatabase(t, "mofa", func(t *testing.T, db *sqlstore.DB) {
		if refused, err := db.ApplyRemote(ctx, truth, retired); err != nil || len(refused) > 0 {
			t.Fatalf("apply: %v, refused %v", err, refused)
		}
		if kept, err := db.KeepCheckpoint(ctx, changelog.SignCheckpoint(newKey, "cao-bang", 10, truth[9].Hash)); err != nil || !kept {
			t.Fatalf("keep the head's new signature: %v, %v", kept, err)
		}
		if err := db.ReportDamage(ctx, storage.Damage{Range: changelog.Range{Origin: "cao-bang", First: 5, Last: 5}, Problem: "a changed byte"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Repair(ctx, truth[4:10], retired); err != nil {
			t.Fatalf("repair 5..10: %v", err)
		}
		if got := db.Damaged("cao-bang"); len(got) != 0 {
			t.Errorf("damage after the repair: %+v", got)
		}
		if cp, err := db.Checkpoint(ctx, "cao-bang", 10); err != nil || cp.Seq != 10 || !cp.Verify(newPub) {
			t.Errorf("the head's checkpoint after the repair: seq %d, %v; want the one signed with the new key", cp.Seq, err)
		}
	})
}

// TestCheckpointsOfADroppedKeyAreSuperseded: a member rotated its key and
// signed its head with the new one; the manifest kept the old key among
// its previous keys, then dropped it. The node's next check reads the
// whole log and drops the old key's checkpoints that the new head proves
// as superseded, not as forged: no damage, no bad checkpoint. One of them
// changed in the file is still a bad checkpoint.
func TestCheckpointsOfADroppedKeyAreSuperseded(t *testing.T) {
	o, truth := rotatingOrigin(t)
	ctx := context.Background()
	oldPub := o.key.Public().(ed25519.PublicKey)
	newPub, newKey, _ := ed25519.GenerateKey(rand.Reader)
	manifest := func(serial int, keys ...ed25519.PublicKey) *federation.Manifest {
		m, _, err := federation.DevFederation([]string{"cao-bang", "mofa"}, []string{"localhost:1", "localhost:2"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		m.Serial = serial
		m.Members[0].PublicKey, m.Members[0].PreviousPublicKeys = keys[0], keys[1:]
		return m
	}
	onEachDatabase(t, "mofa", func(t *testing.T, db *sqlstore.DB) {
		for _, run := range [][]changelog.Entry{truth[:3], truth[3:5], truth[5:]} {
			last := run[len(run)-1]
			if refused, err := db.ApplyRemote(ctx, run, changelog.SignCheckpoint(o.key, "cao-bang", last.Seq, last.Hash)); err != nil || len(refused) > 0 {
				t.Fatalf("apply: %v, refused %v", err, refused)
			}
		}
		// The head re-signed with the new key; checkpoint 5 changed.
		if _, err := db.KeepCheckpoint(ctx, changelog.SignCheckpoint(newKey, "cao-bang", 10, truth[9].Hash)); err != nil {
			t.Fatal(err)
		}
		changed := changelog.SignCheckpoint(o.key, "cao-bang", 5, truth[4].Hash)
		changed.Signature[0] ^= 1
		if _, err := db.KeepCheckpoint(ctx, changed); err != nil {
			t.Fatal(err)
		}
		if err := db.SaveManifest(ctx, manifest(2, newPub, oldPub)); err != nil {
			t.Fatal(err)
		}
		if res, err := db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{newPub, oldPub}, true); err != nil || res.BadCheckpoints != 1 || res.Superseded != 0 || len(res.Damaged) != 0 {
			t.Fatalf("check while the old key is listed: %+v, %v; want the changed checkpoint bad, nothing else", res, err)
		}
		if err := db.SaveManifest(ctx, manifest(3, newPub)); err != nil {
			t.Fatal(err)
		}
		// An incremental check: the drop makes it read the whole log.
		res, err := db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{newPub}, false)
		if err != nil || res.Superseded != 1 || res.BadCheckpoints != 0 || len(res.Damaged) != 0 || res.Verified != 10 || res.Checked != 10 {
			t.Fatalf("check after the drop: %+v, %v; want checkpoint 3 superseded, no damage, all 10 entries verified", res, err)
		}
		if res, err := db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{newPub}, true); err != nil || res.Superseded != 0 || res.BadCheckpoints != 0 || len(res.Damaged) != 0 {
			t.Errorf("the check after: %+v, %v; want nothing left to drop", res, err)
		}
		if cp, err := db.Checkpoint(ctx, "cao-bang", 10); err != nil || cp.Seq != 10 || !cp.Verify(newPub) {
			t.Errorf("the head's checkpoint: seq %d, %v; want the new key's", cp.Seq, err)
		}
	})
}

// TestChangesBoundsTheBytesItReads: a read of the log stops once its
// entries' names and data pass storage.ChangesBytes, so a pull served in
// batches of 500 entries of 4 MB each does not hold 2 GB for a peer that
// stopped reading; the next read goes on after the last entry. The name
// counts too: a member signed entries of 5 MB names, and one read held
// 15.7 MB of them (an outside review).
func TestChangesBoundsTheBytesItReads(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	for _, in := range []string{"data", "name"} {
		t.Run(in, func(t *testing.T) {
			var run []changelog.Entry
			prev := changelog.ZeroHash
			for seq := uint64(1); seq <= 10; seq++ {
				// Sealed to others: relayed whole, as a member may sign it.
				e := changelog.Entry{Origin: "lang-son", Seq: seq, HLC: int64(seq), Sealed: true, Data: bytes.Repeat([]byte{byte(seq)}, 1<<20), PrevHash: prev}
				if in == "name" {
					e.Name, e.Sealed, e.Data = "provinces/lang-son/agreements/"+strings.Repeat("x", 1<<20), false, []byte{}
				}
				e.Hash = changelog.Sum(&e)
				prev = e.Hash
				run = append(run, e)
			}
			cp := changelog.SignCheckpoint(key, "lang-son", 10, prev)
			ctx := context.Background()
			onEachDatabase(t, "mofa", func(t *testing.T, db *sqlstore.DB) {
				if _, err := db.ApplyRemote(ctx, run, cp); err != nil {
					t.Fatal(err)
				}
				perRead := storage.ChangesBytes / (1 << 20)
				for after := uint64(0); after < 10; {
					got, err := db.Changes(ctx, "lang-son", after, 500)
					if err != nil {
						t.Fatal(err)
					}
					if want := min(perRead, 10-int(after)); len(got) != want || got[0].Seq != after+1 {
						t.Fatalf("a read after %d: %d entries from %d; want %d of 1 MiB each (in their %s) from %d", after, len(got), got[0].Seq, want, in, after+1)
					}
					after = got[len(got)-1].Seq
				}
			})
		})
	}
}

// TestOwnHeadDeletedWhileRunning: the node's own newest entry, which its
// checks had verified, is deleted from its file while it runs. The
// incremental check, which resumes after the deleted entry, finds it
// missing and reads the whole log, which records it as damage; and a
// write before any check, which would link to the deleted entry's hash,
// is refused (an outside review: the write was taken, no check saw the
// hole, and the node's peers stopped pulling its log for good). The checks
// after the one that found it do not read the whole log again.
func TestOwnHeadDeletedWhileRunning(t *testing.T) {
	ctx := context.Background()
	// edited is a node of three entries, verified, then edit run on its
	// file as it runs.
	edited := func(t *testing.T, edit string) (*member, ed25519.PublicKey) {
		o := federationOf(t, "cao-bang")["cao-bang"]
		for _, id := range []string{"a", "b", "c"} {
			put(t, o, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/" + id, DisplayName: id, Kind: twinningv1.Agreement_KIND_MOU})
		}
		pub := o.key.Public().(ed25519.PublicKey)
		if res, err := o.db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, false); err != nil || len(res.Damaged) != 0 || res.Verified != 3 {
			t.Fatalf("intact log: %+v %v", res, err)
		}
		sqlitetest.Exec(t, o.path, edit)
		return o, pub
	}
	const deleteHead = "DELETE FROM changes WHERE origin = 'cao-bang' AND seq = 3"
	t.Run("check", func(t *testing.T) {
		o, pub := edited(t, deleteHead)
		res, err := o.db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, false)
		if err != nil || len(res.Damaged) != 1 || res.Damaged[0].First != 3 {
			t.Fatalf("an incremental check after the entry it resumes after was deleted: %+v %v; want entry 3 damaged", res, err)
		}
		if got := o.db.Damaged("cao-bang"); len(got) != 1 {
			t.Errorf("recorded damage: %+v", got)
		}
	})
	t.Run("checks after a damaged head", func(t *testing.T) {
		// A check that found the newest entry changed stops in the damage
		// and remembers no hash of where it stopped: the next checks
		// resume past it, reading nothing, not the whole log each time
		// (a second review).
		o, pub := edited(t, "UPDATE changes SET hlc = hlc + 1 WHERE origin = 'cao-bang' AND seq = 3")
		if res, err := o.db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, true); err != nil || len(res.Damaged) != 1 {
			t.Fatalf("the full check of a changed head: %+v %v", res, err)
		}
		for range 3 {
			res, err := o.db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, false)
			if err != nil || res.Checked != 0 {
				t.Fatalf("a check after the damage was found: %+v %v; want nothing read again", res, err)
			}
		}
	})
	t.Run("write", func(t *testing.T) {
		o, _ := edited(t, deleteHead)
		d := "provinces/cao-bang/agreements/d"
		_, err := o.db.Write(ctx, storage.Write{Kind: resource.Agreements, Name: d, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return &twinningv1.Agreement{Name: d, DisplayName: "d", Kind: twinningv1.Agreement_KIND_MOU}, nil
		}})
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "newest entry cao-bang/3 is missing") {
			t.Errorf("a write after the node's newest entry was deleted: %v; want Unavailable naming it", err)
		}
		if got, err := o.db.Changes(ctx, "cao-bang", 2, 10); err != nil || len(got) != 0 {
			t.Errorf("entries after 2: %d, %v; want none", len(got), err)
		}
	})
}

// TestVerifyLogFindsAndRepairRestores: a byte changed in a stored entry
// and a row deleted are found by a full check; Repair with the origin's
// copies restores them, audited, and the next check is clean.
func TestVerifyLogFindsAndRepairRestores(t *testing.T) {
	ms := federationOf(t, "cao-bang", "mofa")
	o, m := ms["cao-bang"], ms["mofa"]
	for i := range 30 {
		put(t, o, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/a" + string(rune('a'+i)), DisplayName: "a", Kind: twinningv1.Agreement_KIND_MOU})
	}
	syncAll(t, ms, "cao-bang")
	ctx := context.Background()
	pub := o.key.Public().(ed25519.PublicKey)
	if res, err := m.db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, true); err != nil || len(res.Damaged) != 0 || res.Verified != 30 || res.Checked != 30 {
		t.Fatalf("intact log: %+v %v", res, err)
	}
	m.db.Close()
	flipEntryByte(t, m.path, "cao-bang", 5)
	raw, _ := sql.Open("sqlite3", "file:"+m.path)
	raw.Exec("DELETE FROM changes WHERE origin = 'cao-bang' AND seq IN (20, 21)")
	raw.Close()
	db, err := sqlstore.Open(ctx, m.path, "mofa", sqlstore.Options{Key: m.key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, false)
	if err != nil || len(res.Damaged) != 0 {
		t.Fatalf("an incremental check from the verified mark: %+v %v (damage below the mark is for the full check)", res, err)
	}
	res, err = db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, true)
	if err != nil || len(res.Damaged) != 2 || res.Damaged[0].First != 5 || res.Damaged[0].Last != 5 ||
		res.Damaged[1].First != 20 || res.Damaged[1].Last != 21 || res.Verified != 0 {
		t.Fatalf("full check: %+v %v", res, err)
	}
	if got := db.Damaged("cao-bang"); len(got) != 2 {
		t.Fatalf("recorded damage: %+v", got)
	}
	// Records read their state from the log: the changed entry and the
	// missing ones are errors, never a wrong or empty record.
	changed, missing := "provinces/cao-bang/agreements/ae", "provinces/cao-bang/agreements/at"
	for _, name := range []string{changed, missing} {
		if got, err := db.Get(ctx, resource.Agreements, name); status.Code(err) != codes.Unavailable {
			t.Errorf("Get %s from a damaged log: %v, %v; want Unavailable", name, got, err)
		}
	}
	if page, err := db.List(ctx, storage.Query{Kind: resource.Agreements, Province: "cao-bang", Limit: 100}); status.Code(err) != codes.Unavailable {
		t.Errorf("List over a damaged log: %d records, %v; want Unavailable", len(page.Records), err)
	}
	// Later incremental checks read only what comes after what was read
	// (nothing here), and keep the damage.
	if res, err := db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, false); err != nil || res.Checked != 0 || len(db.Damaged("cao-bang")) != 2 {
		t.Fatalf("incremental check after damage: %+v %v, damage %v", res, err, db.Damaged("cao-bang"))
	}
	// A repair that does not continue the chain is refused.
	truth, _ := o.db.Changes(ctx, "cao-bang", 0, 100)
	cp10 := changelog.SignCheckpoint(o.key, "cao-bang", 10, truth[9].Hash)
	if _, err := db.Repair(ctx, append(truth[4:5:5], truth[6:10]...), cp10); err == nil {
		t.Error("a repair with an entry missing was accepted")
	}
	wrong := append([]changelog.Entry(nil), truth[4:10]...)
	wrong[1].Data = []byte("x")
	if _, err := db.Repair(ctx, wrong, cp10); err == nil {
		t.Error("a repair with a changed entry was accepted")
	}
	// A copy of another history (a fork from entry 5 on) is refused, and
	// said to be one: no repair can join it.
	forked := append([]changelog.Entry(nil), truth[4:10]...)
	for j := range forked {
		if j == 0 {
			forked[j].PrevHash = bytes.Repeat([]byte{7}, len(truth[3].Hash))
		} else {
			forked[j].PrevHash = forked[j-1].Hash
		}
		forked[j].Hash = changelog.Sum(&forked[j])
	}
	cpFork := changelog.SignCheckpoint(o.key, "cao-bang", 10, forked[5].Hash)
	if _, err := db.Repair(ctx, forked, cpFork); err == nil || !strings.Contains(err.Error(), "repair entry cao-bang/5 does not follow entry 4 as this node holds it") || !strings.Contains(err.Error(), "fork") {
		t.Errorf("a repair from another history: %v", err)
	}
	n, err := db.Repair(storage.WithActor(ctx, storage.Actor{Name: "peer:cao-bang"}), truth[4:10], cp10)
	if err != nil || n != 1 {
		t.Fatalf("repair 5..10: %d entries, %v; want 1", n, err)
	}
	cp22 := changelog.SignCheckpoint(o.key, "cao-bang", 22, truth[21].Hash)
	if n, err := db.Repair(ctx, truth[19:22], cp22); err != nil || n != 2 {
		t.Fatalf("repair 20..22: %d entries, %v; want 2", n, err)
	}
	if got := db.Damaged("cao-bang"); len(got) != 0 {
		t.Errorf("damage after the repairs: %+v", got)
	}
	for _, name := range []string{changed, missing} {
		want, _ := o.db.Get(ctx, resource.Agreements, name)
		if got, err := db.Get(ctx, resource.Agreements, name); err != nil || !proto.Equal(got, want) {
			t.Errorf("Get %s after the repairs: %v, %v; want %v", name, got, err, want)
		}
	}
	// The check after a repair reads the whole log again.
	if res, err := db.VerifyLog(ctx, "cao-bang", []ed25519.PublicKey{pub}, false); err != nil || len(res.Damaged) != 0 || res.Verified != 30 || res.Checked != 30 {
		t.Errorf("check after the repairs: %+v %v", res, err)
	}
	if _, _, problems, err := db.VerifyAudit(ctx); err != nil || len(problems) != 0 {
		t.Errorf("audit after the repairs: %v %v", problems, err)
	}
	records, _ := db.AuditRecords(ctx, 0, 100, "peer:cao-bang", "")
	if len(records) != 1 || records[0].Action != "sync.repair" || records[0].FirstSeq != 5 || records[0].LastSeq != 5 {
		t.Errorf("audit of the repair: %+v", records)
	}
}

// TestOldFormatIsRefused: a database whose change log an older provex
// wrote (schema 5, format 2) is refused with what to do.
func TestOldFormatIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provex.db")
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"CREATE TABLE changes (origin TEXT, seq INTEGER, hlc INTEGER, name TEXT, data BLOB, prev_hash BLOB, hash BLOB, data_hash BLOB, visibility INTEGER, visible_to TEXT, redacted INTEGER)",
		"INSERT INTO changes VALUES ('cao-bang', 1, 1, 'provinces/cao-bang/agreements/a', x'00', x'00', x'00', x'00', 1, '', 0)",
		"PRAGMA user_version = 5",
	} {
		if _, err := raw.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	_, err = sqlstore.Open(context.Background(), path, "cao-bang", sqlstore.Options{})
	if !errors.Is(err, sqlstore.ErrOldFormat) || !strings.Contains(err.Error(), "move the data directory away") {
		t.Fatalf("opening a format-2 database: %v", err)
	}
}

// TestMigrationOfAnotherBuildSaysWhatToDo: a database whose migrations
// another build numbered otherwise (81f0d08's 0007 was read_audit, the next
// commit's request_fingerprint) failed with SQLite's words alone
// ("migrations/0008_read_audit.sql: duplicate column name: read"). Here a
// store of this build is set back to version 7, so 0008 runs again: the
// refusal names the migration and the version, says nothing was applied and
// what to do, and the file is left at version 7.
func TestMigrationOfAnotherBuildSaysWhatToDo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provex.db")
	db, err := sqlstore.Open(context.Background(), path, "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec("PRAGMA user_version = 7"); err != nil {
		t.Fatal(err)
	}
	_, err = sqlstore.Open(context.Background(), path, "cao-bang", sqlstore.Options{})
	for _, want := range []string{"schema migration 0008_read_audit.sql failed on a database at version 7", "nothing of it was applied",
		"duplicate column name: read", "another build of provex", "provex restore"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("opening a database of another build: %v; want it to say %q", err, want)
		}
	}
	var version int
	if err := raw.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != 7 {
		t.Errorf("user_version after the refusal: %d, %v; want 7", version, err)
	}
}

// TestCheckpointsAtLeastEveryMegabyte: large records written together
// share a commit, yet the node signs a checkpoint at least every 1 MiB of
// its entries, so a peer never holds more than that waiting for one.
func TestCheckpointsAtLeastEveryMegabyte(t *testing.T) {
	ms := federationOf(t, "cao-bang")
	o := ms["cao-bang"]
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			put(t, o, &twinningv1.Agreement{Name: fmt.Sprintf("provinces/cao-bang/agreements/big%d", i), DisplayName: "big",
				Kind: twinningv1.Agreement_KIND_MOU, Summary: strings.Repeat("x", 300_000)})
		}()
	}
	wg.Wait()
	entries := readLog(t, o.db, "cao-bang")
	if len(entries) != 24 {
		t.Fatalf("%d entries", len(entries))
	}
	signed := map[uint64]bool{}
	for _, e := range entries {
		if cp, _ := o.db.Checkpoint(ctx, "cao-bang", e.Seq); cp.Seq == e.Seq {
			signed[e.Seq] = true
		}
	}
	since := 0
	for _, e := range entries {
		if since > 1<<20 {
			t.Fatalf("entry %d follows %d bytes of entries without a checkpoint", e.Seq, since)
		}
		since += len(e.Data)
		if signed[e.Seq] {
			since = 0
		}
	}
	if len(signed) == len(entries) {
		t.Log("every write had a commit of its own; the bound was not exercised")
	}
}

// TestDamageFoundByAReadIsCheckedAtOnce: a read that finds a record's entry
// damaged (a byte changed) answers UNAVAILABLE and has the next check,
// incremental as it may be, read the origin's whole log: the damage is then
// recorded (health, sync status) and asked of the peers, not left to the
// next full check, hours later.
func TestDamageFoundByAReadIsCheckedAtOnce(t *testing.T) {
	ms := federationOf(t, "cao-bang", "mofa")
	o, m := ms["cao-bang"], ms["mofa"]
	for i := range 10 {
		put(t, o, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/a" + string(rune('a'+i)), DisplayName: "a", Kind: twinningv1.Agreement_KIND_MOU})
	}
	syncAll(t, ms, "cao-bang")
	ctx := context.Background()
	keys := []ed25519.PublicKey{o.key.Public().(ed25519.PublicKey)}
	if res, err := m.db.VerifyLog(ctx, "cao-bang", keys, true); err != nil || len(res.Damaged) != 0 {
		t.Fatalf("intact log: %+v %v", res, err)
	}
	m.db.Close()
	flipEntryByte(t, m.path, "cao-bang", 5)
	db, err := sqlstore.Open(ctx, m.path, "mofa", sqlstore.Options{Key: m.key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Get(ctx, resource.Agreements, "provinces/cao-bang/agreements/ae"); status.Code(err) != codes.Unavailable {
		t.Fatalf("Get of the damaged record: %v, want Unavailable", err)
	}
	// Reads of it go on during the check, as a dashboard's would: they
	// must not make the check throw away what it finds.
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				db.Get(ctx, resource.Agreements, "provinces/cao-bang/agreements/ae")
			}
		}
	}()
	res, err := db.VerifyLog(ctx, "cao-bang", keys, false)
	close(stop)
	<-done
	if err != nil || len(res.Damaged) != 1 || res.Damaged[0].First != 5 {
		t.Fatalf("the check after the read: %+v %v, want entry 5 found damaged", res, err)
	}
	if got := db.Damaged("cao-bang"); len(got) != 1 {
		t.Errorf("recorded damage: %+v", got)
	}
}

// TestEachDamageFoundByAReadIsChecked: on a ministry node, reads find
// damage in cao-bang's log one after another (an entry changed, then
// repaired; another changed and left so; then one deleted): each has the
// next check read the whole log, which records it (an outside review: a
// second damage found within 10 minutes of the first was left to the
// hourly check, while its UNAVAILABLE said the node repairs it). Reads of
// a record whose row names an entry no check can find (a row changed
// outside the node) have the log read in full once, however many there
// are; a read of another such record, once more.
func TestEachDamageFoundByAReadIsChecked(t *testing.T) {
	o := federationOf(t, "cao-bang")["cao-bang"]
	for i := range 20 {
		put(t, o, &twinningv1.Agreement{Name: "provinces/cao-bang/agreements/a" + string(rune('a'+i)), DisplayName: "a", Kind: twinningv1.Agreement_KIND_MOU})
	}
	ctx := context.Background()
	truth := readLog(t, o.db, "cao-bang")
	cp := changelog.SignCheckpoint(o.key, "cao-bang", 20, truth[19].Hash)
	keys := []ed25519.PublicKey{o.key.Public().(ed25519.PublicKey)}
	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			location := newLocation(t, store)
			db, err := sqlstore.Open(ctx, location, "mofa", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ApplyRemote(ctx, truth, cp); err != nil {
				t.Fatal(err)
			}
			if res, err := db.VerifyLog(ctx, "cao-bang", keys, true); err != nil || len(res.Damaged) != 0 || res.Checked != 20 {
				t.Fatalf("intact log: %+v %v", res, err)
			}
			raw := openRaw(t, location)
			edit := func(query string) {
				t.Helper()
				if _, err := raw.Exec(query); err != nil {
					t.Fatalf("%s: %v", query, err)
				}
			}
			unavailable := func(id string) {
				t.Helper()
				for range 50 {
					if _, err := db.Get(ctx, resource.Agreements, "provinces/cao-bang/agreements/"+id); status.Code(err) != codes.Unavailable {
						t.Fatalf("Get of %s: %v, want Unavailable", id, err)
					}
				}
			}
			checkFinds := func(what string, checked int, damaged ...uint64) {
				t.Helper()
				res, err := db.VerifyLog(ctx, "cao-bang", keys, false)
				var got []uint64
				for _, d := range db.Damaged("cao-bang") {
					got = append(got, d.First)
				}
				if err != nil || res.Checked != checked || fmt.Sprint(got) != fmt.Sprint(damaged) {
					t.Fatalf("the check after %s: read %d entries, damage from %v (%v); want %d read, damage from %v", what, res.Checked, got, err, checked, damaged)
				}
			}
			edit("UPDATE changes SET hlc = hlc + 1 WHERE origin = 'cao-bang' AND seq = 5")
			unavailable("ae")
			checkFinds("a read of entry 5 changed", 20, 5)
			if n, err := db.Repair(ctx, truth[4:10], changelog.SignCheckpoint(o.key, "cao-bang", 10, truth[9].Hash)); err != nil || n != 1 {
				t.Fatalf("repair of entry 5: %d, %v", n, err)
			}
			checkFinds("the repair", 20)
			edit("UPDATE changes SET hlc = hlc + 1 WHERE origin = 'cao-bang' AND seq = 12")
			unavailable("al")
			checkFinds("a read of entry 12 changed, after entry 5's", 20, 12)
			edit("DELETE FROM changes WHERE origin = 'cao-bang' AND seq = 15")
			unavailable("ao")
			checkFinds("a read of entry 15 deleted, entry 12 still damaged", 19, 12, 15)
			// Rows changed to name entries the log never held: no check
			// sees that damage, and reads of it ask no check again.
			edit("UPDATE agreements SET seq = 999 WHERE name = 'provinces/cao-bang/agreements/ab'")
			unavailable("ab")
			checkFinds("a read of a row naming entry 999", 19, 12, 15)
			unavailable("ab")
			unavailable("al")
			checkFinds("more reads of the same records", 0, 12, 15)
			edit("UPDATE agreements SET seq = 998 WHERE name = 'provinces/cao-bang/agreements/ac'")
			unavailable("ac")
			unavailable("ab")
			checkFinds("a read of a row naming entry 998", 19, 12, 15)
		})
	}
}

// flipEntryByte changes one byte of the state of origin's entry seq in the
// closed store at path, as a damaged disk would.
func flipEntryByte(t *testing.T, path, origin string, seq int) {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var data []byte
	if err := raw.QueryRow("SELECT data FROM changes WHERE origin = ? AND seq = ?", origin, seq).Scan(&data); err != nil {
		t.Fatal(err)
	}
	data[3] ^= 0x10
	if _, err := raw.Exec("UPDATE changes SET data = ? WHERE origin = ? AND seq = ?", data, origin, seq); err != nil {
		t.Fatal(err)
	}
}
