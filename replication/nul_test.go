package replication_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/pgtest"
)

// TestNulInSignedStringsIsHeldAlike: lang-son signs, with its own key,
// records whose strings hold U+0000, which SQLite's TEXT stores and
// PostgreSQL's text cannot (a record's display name, and a record's name,
// which is also its entry's), between records of its own. The ministry, on
// SQLite and on PostgreSQL alike, holds the whole log, applies the honest
// records around them and refuses the two, and keeps syncing cao-bang's
// records: such an entry no longer stops the log on PostgreSQL alone.
func TestNulInSignedStringsIsHeldAlike(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			const bad = p2
			f := newFederation(t, []string{p1, bad, mofa}, map[string][]string{mofa: {bad, p1}})
			if store == "postgres" {
				f.nodes[mofa].store = pgtest.NewDatabase(t)
			}
			fake := forgedLog(t, f, bad, []forgedState{
				{rec: &twinningv1.Agreement{Name: "provinces/" + bad + "/agreements/own-1", DisplayName: "its own, first", Kind: twinningv1.Agreement_KIND_MOU}},
				{rec: &twinningv1.Agreement{Name: "provinces/" + bad + "/agreements/nul-text", DisplayName: "a\x00b", Kind: twinningv1.Agreement_KIND_MOU}},
				{rec: &twinningv1.Agreement{Name: "provinces/" + bad + "/agreements/nul\x00name", DisplayName: "nul in the name", Kind: twinningv1.Agreement_KIND_MOU}},
				{rec: &twinningv1.Agreement{Name: "provinces/" + bad + "/agreements/own-2", DisplayName: "its own, second", Kind: twinningv1.Agreement_KIND_MOU}},
			})
			f.peerServer(t, bad, fake)
			honest := f.start(p1)
			min := f.start(mofa)
			createVisible(t, honest, "before", typev1.Visibility_VISIBILITY_PUBLIC)
			eventually(t, 15*time.Second, func() (bool, string) {
				o := min.origin(t, bad)
				return o.GetSeq() == 4, fmt.Sprintf("%s holds %s up to %d", store, bad, o.GetSeq())
			})
			for _, id := range []string{"own-1", "own-2"} {
				if _, code := getAgreement(t, min, "provinces/"+bad+"/agreements/"+id); code != codes.OK {
					t.Errorf("the member's own record %s: %v", id, code)
				}
			}
			createVisible(t, honest, "after", typev1.Visibility_VISIBILITY_PUBLIC)
			eventually(t, 15*time.Second, func() (bool, string) {
				_, code := getAgreement(t, min, "provinces/"+p1+"/agreements/after")
				return code == codes.OK, fmt.Sprintf("cao-bang's later record on the ministry: %v", code)
			})
			if o := min.origin(t, bad); o.GetRejected() != 2 {
				t.Errorf("%s refused %d entries of %s, want 2 (the state and the name holding U+0000)", store, o.GetRejected(), bad)
			}
			for _, id := range []string{"nul-text", "nul\x00name"} {
				if _, code := getAgreement(t, min, "provinces/"+bad+"/agreements/"+id); code == codes.OK {
					t.Errorf("the ministry serves %q", id)
				}
			}
			// The API refuses the same text, on either database, as a bad
			// argument rather than an internal error.
			_, err := min.client.Twinning.CreateAgreement(context.Background(), &twinningv1.CreateAgreementRequest{
				Parent: "provinces/" + mofa, AgreementId: "nul", Agreement: &twinningv1.Agreement{DisplayName: "a\x00b", Kind: twinningv1.Agreement_KIND_MOU}})
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("a record whose display name holds U+0000: %v, want INVALID_ARGUMENT", err)
			}
			if _, code := getAgreement(t, min, "provinces/"+mofa+"/agreements/a\x00"); code != codes.InvalidArgument {
				t.Errorf("a Get of a name holding U+0000: %v, want INVALID_ARGUMENT", code)
			}
			page, err := min.client.Twinning.ListAgreements(context.Background(), &twinningv1.ListAgreementsRequest{Parent: "provinces/-", Filter: `display_name = "a\x00b"`})
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("a filter holding U+0000: %v %v, want INVALID_ARGUMENT", page, err)
			}
		})
	}
}
