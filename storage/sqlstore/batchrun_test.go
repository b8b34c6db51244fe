package sqlstore_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestOneRunChangesRecordsManyTimes: one run of nghe-an's log creates
// records and, in the same run, updates, deletes and undeletes them, one
// twice over; withdraws one from the follower (narrowed to lao-cai); gives
// a repeated field the same element twice. A follower on SQLite and one on
// PostgreSQL, applying the run at once (the batched apply of indexbatch.go),
// hold each record as its origin does, find them by their last words only,
// and keep rollups equal to a recount.
func TestOneRunChangesRecordsManyTimes(t *testing.T) {
	ctx := context.Background()
	open := threeMembers(t)
	agreements, _ := resource.KindOf("agreements")
	origin := open(filepath.Join(t.TempDir(), "nghe-an.db"), "nghe-an")
	name := func(id string) string { return "provinces/nghe-an/agreements/" + id }
	write := func(id string, edit func(a *twinningv1.Agreement)) {
		t.Helper()
		editAgreement(t, origin, name(id), edit)
	}
	gone := func(on bool) func(a *twinningv1.Agreement) {
		return func(a *twinningv1.Agreement) {
			a.DeleteTime = nil
			if on {
				a.DeleteTime = timestamppb.Now()
			}
		}
	}
	write("a", func(a *twinningv1.Agreement) { a.DisplayName, a.PartnerCountries = "alpha draft", []string{"CN", "CN"} })
	write("a", func(a *twinningv1.Agreement) {
		a.DisplayName, a.Kind, a.PartnerCountries = "alpha signed", twinningv1.Agreement_KIND_COOPERATION_PROGRAMME, []string{"LA", "LA", "KH"}
	})
	write("a", gone(true))
	write("a", gone(false))
	write("b", func(a *twinningv1.Agreement) { a.DisplayName = "bravo draft" })
	write("b", gone(true))
	write("c", func(a *twinningv1.Agreement) { a.DisplayName, a.PartnerCountries = "charlie public", []string{"TH"} })
	write("c", func(a *twinningv1.Agreement) {
		a.DisplayName, a.Visibility, a.VisibleTo = "charlie narrowed", typev1.Visibility_VISIBILITY_RESTRICTED, []string{"lao-cai"}
	})
	write("d", func(a *twinningv1.Agreement) { a.DisplayName = "delta first" })
	write("d", gone(true))
	write("d", gone(false))
	write("d", func(a *twinningv1.Agreement) { a.DisplayName = "delta last" })
	write("e", func(a *twinningv1.Agreement) { a.DisplayName = "echo kept" })
	entries, err := origin.Changes(ctx, "nghe-an", 0, 100)
	if err != nil || len(entries) != 13 {
		t.Fatalf("origin's log: %d entries, %v", len(entries), err)
	}
	last := entries[len(entries)-1]
	cp := changelog.Checkpoint{Origin: "nghe-an", Seq: last.Seq, Hash: last.Hash, Signature: []byte("unchecked by storage")}

	for _, store := range databases {
		t.Run(store, func(t *testing.T) {
			path := newLocation(t, store)
			f := open(path, "cao-bang")
			if _, err := f.ApplyRemote(ctx, entries, cp); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"a", "b", "d", "e"} {
				want, err := origin.Get(ctx, agreements, name(id))
				if err != nil {
					t.Fatal(err)
				}
				got, err := f.Get(ctx, agreements, name(id))
				if err != nil || !proto.Equal(got, want) {
					t.Errorf("%s: %v %v, want %v", id, got, err, want)
				}
			}
			if got, err := f.Get(ctx, agreements, name("c")); err == nil {
				t.Errorf("the record narrowed to lao-cai is here: %v", got)
			}
			search := func(text string, deleted bool) []string {
				t.Helper()
				page, err := f.List(ctx, storage.Query{Kind: agreements, Province: resource.AllProvinces, Text: text, ShowDeleted: deleted, Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, m := range page.Records {
					names = append(names, agreements.Name(m))
				}
				return names
			}
			for text, want := range map[string]int{"alpha signed": 1, "draft": 0, "delta last": 1, "delta first": 0, "charlie": 0, "echo": 1} {
				if got := search(text, false); len(got) != want {
					t.Errorf("search %q: %v, want %d", text, got, want)
				}
			}
			if got := search("bravo", true); len(got) != 1 {
				t.Errorf("search of the deleted bravo: %v", got)
			}
			if got := search("", false); len(got) != 3 {
				t.Errorf("live records: %v, want a, d, e", got)
			}
			if bad, err := f.CheckRollups(ctx, false); err != nil || bad.Groups > 0 {
				t.Errorf("rollups against a recount: %v %v", bad, err)
			}
		})
	}
}

// threeMembers makes keys for nghe-an, cao-bang and lao-cai and returns
// how to open a store as one of them, closed when the test ends.
func threeMembers(t *testing.T) func(path, member string) *sqlstore.DB {
	keys := map[string]*ecdh.PrivateKey{}
	dir := changelog.Keys{}
	for _, m := range []string{"nghe-an", "cao-bang", "lao-cai"} {
		keys[m], _ = ecdh.X25519().GenerateKey(rand.Reader)
		dir[m] = keys[m].PublicKey()
	}
	return func(path, member string) *sqlstore.DB {
		t.Helper()
		sealer, _ := changelog.NewSealer(keys[member])
		db, err := sqlstore.Open(context.Background(), path, member, sqlstore.Options{Sealer: sealer, Directory: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
}

// editAgreement writes agreement name on origin: edit changes its state,
// or a new MoU.
func editAgreement(t *testing.T, origin *sqlstore.DB, name string, edit func(a *twinningv1.Agreement)) {
	t.Helper()
	if _, err := origin.Write(context.Background(), storage.Write{Kind: resource.Agreements, Name: name, Mutate: func(cur proto.Message, _ storage.Stamp) (proto.Message, error) {
		a := &twinningv1.Agreement{Name: name, Kind: twinningv1.Agreement_KIND_MOU}
		if cur != nil {
			a = proto.Clone(cur).(*twinningv1.Agreement)
		}
		edit(a)
		return a, nil
	}}); err != nil {
		t.Fatal(err)
	}
}
