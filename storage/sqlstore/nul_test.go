package sqlstore_test

import (
	"bytes"
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage/sqlstore"
)

// signedRun chains states into origin's entries 1..n as a member would
// sign them (storage does not check the signature; replication does).
// names, when set, are the entries' names in place of the states'.
func signedRun(t *testing.T, origin string, states []proto.Message, names []string) ([]changelog.Entry, changelog.Checkpoint) {
	t.Helper()
	prev := changelog.ZeroHash
	var entries []changelog.Entry
	for i, m := range states {
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		name := m.ProtoReflect().Get(m.ProtoReflect().Descriptor().Fields().ByNumber(1)).String()
		if names != nil && names[i] != "" {
			name = names[i]
		}
		e := changelog.Entry{Origin: origin, Seq: uint64(i + 1), HLC: int64(i + 1), Name: name, Data: data, PrevHash: prev}
		e.Hash = changelog.Sum(&e)
		prev = e.Hash
		entries = append(entries, e)
	}
	last := entries[len(entries)-1]
	return entries, changelog.Checkpoint{Origin: origin, Seq: last.Seq, Hash: last.Hash, Signature: []byte("unchecked by storage")}
}

// TestNulInEntriesIsHeldOnBothDatabases: a member signs entries whose
// strings hold U+0000, which PostgreSQL's text cannot store (SQLite's
// can): in a record's field, in a repeated field, in the record's name,
// and in an entry's name that is not its state's. Each run is held whole
// on both databases, the honest records around the bad ones applied, the
// bad ones refused with a reason, and a later run of the origin applies.
func TestNulInEntriesIsHeldOnBothDatabases(t *testing.T) {
	ctx := context.Background()
	const bad = "lang-son"
	own := func(id, display string) *twinningv1.Agreement {
		return &twinningv1.Agreement{Name: "provinces/" + bad + "/agreements/" + id, DisplayName: display, Kind: twinningv1.Agreement_KIND_MOU}
	}
	cases := []struct {
		what  string
		state *twinningv1.Agreement
		name  string
	}{
		{"a field", own("nul-text", "a\x00b"), ""},
		{"a repeated field", &twinningv1.Agreement{Name: "provinces/" + bad + "/agreements/nul-list", DisplayName: "x", PartnerCountries: []string{"V\x00N"}}, ""},
		{"the record's name", own("nul\x00name", "nul in the name"), ""},
		{"the entry's name", own("nul-entry", "fine"), "provinces/" + bad + "/agreements/other\x00"},
	}
	agreements, _ := resource.KindOf("agreements")
	for _, store := range databases {
		for _, c := range cases {
			t.Run(store+"/"+c.what, func(t *testing.T) {
				path := newLocation(t, store)
				db, err := sqlstore.Open(ctx, path, "mofa", sqlstore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				states := []proto.Message{own("own-1", "first"), c.state, own("own-2", "second")}
				entries, cp := signedRun(t, bad, states, []string{"", c.name, ""})
				first := changelog.Checkpoint{Origin: bad, Seq: 2, Hash: entries[1].Hash, Signature: cp.Signature}
				refusals, err := db.ApplyRemote(ctx, entries[:2], first)
				if err != nil {
					t.Fatalf("the run is not held: %v", err)
				}
				if len(refusals) != 1 || refusals[0].Seq != 2 || refusals[0].Reason == "" {
					t.Errorf("refusals %+v, want entry 2's, with its reason", refusals)
				}
				if _, err := db.ApplyRemote(ctx, entries[2:], cp); err != nil {
					t.Fatalf("the run after it: %v", err)
				}
				for _, id := range []string{"own-1", "own-2"} {
					if _, err := db.Get(ctx, agreements, "provinces/"+bad+"/agreements/"+id); err != nil {
						t.Errorf("the member's own record %s: %v", id, err)
					}
				}
				got, err := db.Changes(ctx, bad, 0, 10)
				if err != nil || len(got) != 3 || got[1].Name != entries[1].Name || !bytes.Equal(changelog.Sum(&got[1]), entries[1].Hash) {
					t.Errorf("the log read back: %d entries, %v", len(got), err)
				}
			})
		}
	}
}
