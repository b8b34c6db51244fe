package server_test

import (
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/client"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
)

func newAgreement(name string) *twinningv1.Agreement {
	return &twinningv1.Agreement{DisplayName: name, Kind: twinningv1.Agreement_KIND_MOU, PartnerCountries: []string{"CN"}}
}

// TestEtags checks that Update, Delete and Undelete with a stale etag are
// ABORTED and change nothing, and succeed with the current one.
func TestEtags(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	tw := tn.Twinning
	a1, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "e1", Agreement: newAgreement("etag test")})
	mustf(t, err, "create")

	unchanged := func(want *twinningv1.Agreement, what string) {
		t.Helper()
		got, err := tw.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: want.Name})
		if err != nil || !proto.Equal(got, want) {
			t.Errorf("%s: stored record changed: %v (%v), want %v", what, got, err, want)
		}
	}
	update := func(etag, summary string) (*twinningv1.Agreement, error) {
		a := proto.Clone(a1).(*twinningv1.Agreement)
		a.Etag, a.Summary = etag, summary
		return tw.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{Agreement: a, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary"}}})
	}

	_, err = update("bogus", "x")
	wantCode(t, err, codes.Aborted, "Update with a made-up etag")
	unchanged(a1, "aborted update")
	a2, err := update(a1.Etag, "first")
	mustf(t, err, "Update with the current etag")
	if a2.Summary != "first" || a2.Etag == a1.Etag {
		t.Errorf("Update: summary %q etag %q (was %q)", a2.Summary, a2.Etag, a1.Etag)
	}
	_, err = update(a1.Etag, "second")
	wantCode(t, err, codes.Aborted, "Update with a stale etag")
	unchanged(a2, "stale update")
	// No etag: unconditional.
	a3, err := update("", "third")
	mustf(t, err, "Update without etag")

	_, err = tw.DeleteAgreement(ctx, &twinningv1.DeleteAgreementRequest{Name: a1.Name, Etag: a2.Etag})
	wantCode(t, err, codes.Aborted, "Delete with a stale etag")
	unchanged(a3, "stale delete")
	a4, err := tw.DeleteAgreement(ctx, &twinningv1.DeleteAgreementRequest{Name: a1.Name, Etag: a3.Etag})
	mustf(t, err, "Delete with the current etag")
	if a4.DeleteTime == nil {
		t.Errorf("Delete did not set delete_time")
	}

	_, err = tw.UndeleteAgreement(ctx, &twinningv1.UndeleteAgreementRequest{Name: a1.Name, Etag: a3.Etag})
	wantCode(t, err, codes.Aborted, "Undelete with a stale etag")
	unchanged(a4, "stale undelete")
	a5, err := tw.UndeleteAgreement(ctx, &twinningv1.UndeleteAgreementRequest{Name: a1.Name, Etag: a4.Etag})
	mustf(t, err, "Undelete with the current etag")
	if a5.DeleteTime != nil || a5.Summary != "third" {
		t.Errorf("Undelete = %v", a5)
	}

	// Racing updates that all read the same version: exactly one wins.
	const racers = 12
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners int
	)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := proto.Clone(a5).(*twinningv1.Agreement)
			a.Summary = "race"
			_, err := tw.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{Agreement: a, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary"}}})
			switch codeOf(err) {
			case codes.OK:
				mu.Lock()
				winners++
				mu.Unlock()
			case codes.Aborted:
			default:
				t.Errorf("racing update: %v", err)
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("%d racing updates with the same etag succeeded, want 1", winners)
	}
}

// TestIdempotentCreate checks request_id: a retried Create returns the first
// record, also when the retries race; the same id on a different request is
// refused.
func TestIdempotentCreate(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	tw := tn.Twinning
	countNamed := func(displayName string) int {
		items, err := listAll(ctx, tn.Client, tn.parent(), resource.Agreements, client.ListOptions{Filter: `display_name = "` + displayName + `"`})
		mustf(t, err, "list")
		return len(items)
	}

	first, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), RequestId: "req-1", Agreement: newAgreement("retried")})
	mustf(t, err, "first create")
	again, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), RequestId: "req-1", Agreement: newAgreement("retried")})
	mustf(t, err, "retried create")
	if !proto.Equal(first, again) {
		t.Errorf("retry returned %v, want the first record %v", again, first)
	}
	if n := countNamed("retried"); n != 1 {
		t.Errorf("%d records after a retried create, want 1", n)
	}
	// A retry returns the record as it is now, not what the retry carries.
	changed := proto.Clone(first).(*twinningv1.Agreement)
	changed.Summary = "changed"
	changed, err = tw.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{Agreement: changed, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary"}}})
	mustf(t, err, "update")
	late, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), RequestId: "req-1", Agreement: newAgreement("retried")})
	mustf(t, err, "late retry")
	if !proto.Equal(late, changed) {
		t.Errorf("late retry returned %v, want the current record %v", late, changed)
	}
	// Output-only fields are ignored, so a retry may carry them.
	echoed := newAgreement("retried")
	echoed.Etag, echoed.CreateTime = "stale", timestamppb.Now()
	if _, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), RequestId: "req-1", Agreement: echoed}); err != nil {
		t.Errorf("retry with output-only fields set: %v, want the record", err)
	}
	// The same request id with another request is not a retry (AIP-155).
	for what, req := range map[string]*twinningv1.CreateAgreementRequest{
		"other payload": {Parent: tn.parent(), RequestId: "req-1", Agreement: newAgreement("other payload")},
		"other id":      {Parent: tn.parent(), RequestId: "req-1", AgreementId: "other-id", Agreement: newAgreement("retried")},
	} {
		_, err := tw.CreateAgreement(ctx, req)
		wantInvalid(t, err, "request_id reused for "+what, "request_id")
		if st := status.Convert(err); !strings.Contains(st.Message(), "different request") {
			t.Errorf("request_id reused for %s: message %q does not say the request differs", what, st.Message())
		}
	}
	if n := countNamed("other payload"); n != 0 {
		t.Errorf("a reused request id stored its payload (%d records)", n)
	}
	if _, err := tw.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: tn.parent() + "/agreements/other-id"}); status.Code(err) != codes.NotFound {
		t.Errorf("a reused request id created other-id (%v)", err)
	}
	// With a client-chosen id the retry is not ALREADY_EXISTS.
	withID, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "chosen", RequestId: "req-2", Agreement: newAgreement("chosen")})
	mustf(t, err, "create with id")
	withID2, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "chosen", RequestId: "req-2", Agreement: newAgreement("chosen")})
	mustf(t, err, "retry with id")
	if !proto.Equal(withID, withID2) {
		t.Errorf("retry with id returned %v, want %v", withID2, withID)
	}
	// Another request id is another record.
	other, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), RequestId: "req-3", Agreement: newAgreement("retried")})
	mustf(t, err, "create with another request id")
	if other.Name == first.Name {
		t.Errorf("another request id gave the same record %s", other.Name)
	}

	// A request id already used for another kind is refused, not NOT_FOUND
	// (the retry must not read as the first record missing).
	_, err = tw.CreateDelegation(ctx, &twinningv1.CreateDelegationRequest{Parent: tn.parent(), RequestId: "req-1", Delegation: &twinningv1.Delegation{
		DisplayName: "d", Direction: 1, Countries: []string{"CN"}, StartDate: date(2024, 1, 1),
	}})
	wantInvalid(t, err, "request id of another kind", "request_id")
	if ds, err := tw.ListDelegations(ctx, &twinningv1.ListDelegationsRequest{Parent: tn.parent(), ShowDeleted: true}); err != nil || len(ds.Delegations) != 0 {
		t.Errorf("delegations after a refused create: %v, %v", ds, err)
	}

	// Concurrent duplicates.
	const dup = 20
	names := make([]string, dup)
	var wg sync.WaitGroup
	for i := 0; i < dup; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), RequestId: "req-concurrent", Agreement: newAgreement("concurrent")})
			if err != nil {
				t.Errorf("concurrent create %d: %v", i, err)
				return
			}
			names[i] = a.Name
		}()
	}
	wg.Wait()
	for i := range names {
		if names[i] != names[0] {
			t.Errorf("concurrent duplicates got names %q and %q", names[0], names[i])
		}
	}
	if n := countNamed("concurrent"); n != 1 {
		t.Errorf("%d records after %d concurrent duplicates, want 1", n, dup)
	}
}

// TestValidationErrors checks that every bad field is reported with its path
// and that an update that would break a record stores nothing.
func TestValidationErrors(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	tw := tn.Twinning

	bad := &twinningv1.Agreement{
		DisplayName:      "",                         // min_len 1
		Kind:             0,                          // required
		PartnerCountries: []string{"cn", "US", "X1"}, // pattern ^[A-Z]{2}$
		SignedDate:       &typev1.Date{Year: 1800, Month: 13, Day: 1},
		SignedPlace:      strings.Repeat("x", 201),
		ForeignParties:   []*typev1.ForeignParty{{Name: "Baise", CountryCode: "CN"}, {Name: "", CountryCode: "china"}},
		Visibility:       typev1.Visibility(42),
	}
	_, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "bad", Agreement: bad})
	wantInvalid(t, err, "create with bad fields",
		"agreement.display_name",
		"agreement.kind",
		"agreement.partner_countries[0]",
		"agreement.partner_countries[2]",
		"agreement.signed_date.year",
		"agreement.signed_date.month",
		"agreement.signed_place",
		"agreement.foreign_parties[1].name",
		"agreement.foreign_parties[1].country_code",
		"agreement.visibility",
	)
	if st, _ := status.FromError(err); !strings.Contains(st.Message(), "agreement.") {
		t.Errorf("message %q does not name a field", st.Message())
	}
	if _, err := tw.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: tn.parent() + "/agreements/bad"}); codeOf(err) != codes.NotFound {
		t.Errorf("invalid record was stored: %v", err)
	}
	_, err = tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent()})
	wantInvalid(t, err, "create without agreement", "agreement")
	_, err = tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "Bad_Id", Agreement: newAgreement("x")})
	wantInvalid(t, err, "create with a bad id", "agreement_id")
	_, err = tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), RequestId: strings.Repeat("r", 101), Agreement: newAgreement("x")})
	wantInvalid(t, err, "create with a long request id", "request_id")
	// Other kinds report their own field paths.
	_, err = tn.Twinning.CreateDelegation(ctx, &twinningv1.CreateDelegationRequest{Parent: tn.parent(), Delegation: &twinningv1.Delegation{
		DisplayName: "d", Direction: 1, MemberCount: -1,
	}})
	wantInvalid(t, err, "delegation", "delegation.member_count", "delegation.countries", "delegation.start_date")

	good, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "good", Agreement: newAgreement("good")})
	mustf(t, err, "create")
	updateErr := func(what string, a *twinningv1.Agreement, paths []string, fields ...string) {
		t.Helper()
		var mask *fieldmaskpb.FieldMask
		if paths != nil {
			mask = &fieldmaskpb.FieldMask{Paths: paths}
		}
		_, err := tw.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{Agreement: a, UpdateMask: mask})
		wantInvalid(t, err, what, fields...)
		got, err := tw.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: good.Name})
		if err != nil || !proto.Equal(got, good) {
			t.Errorf("%s: stored record changed to %v (%v)", what, got, err)
		}
	}
	clone := func(edit func(a *twinningv1.Agreement)) *twinningv1.Agreement {
		a := proto.Clone(good).(*twinningv1.Agreement)
		edit(a)
		return a
	}
	updateErr("clear display_name", clone(func(a *twinningv1.Agreement) { a.DisplayName = "" }), []string{"display_name"}, "agreement.display_name")
	updateErr("bad country", clone(func(a *twinningv1.Agreement) { a.PartnerCountries = []string{"CN", "cn"} }), []string{"partner_countries"}, "agreement.partner_countries[1]")
	updateErr("bad nested field", clone(func(a *twinningv1.Agreement) { a.SignedDate = &typev1.Date{Year: 2024, Month: 14} }), []string{"signed_date.month"},
		// Only the month is copied, so the merged date has year 0 too.
		"agreement.signed_date.year", "agreement.signed_date.month")
	updateErr("bad date", clone(func(a *twinningv1.Agreement) { a.SignedDate = &typev1.Date{Year: 2024, Month: 14} }), []string{"signed_date"}, "agreement.signed_date.month")
	updateErr("clear required kind", clone(func(a *twinningv1.Agreement) { a.Kind = 0 }), []string{"kind"}, "agreement.kind")
	updateErr("full replace of a bad record", clone(func(a *twinningv1.Agreement) { a.DisplayName, a.Kind = "", 0 }), []string{"*"}, "agreement.display_name", "agreement.kind")
	updateErr("unknown mask path", clone(func(a *twinningv1.Agreement) { a.Summary = "s" }), []string{"nosuch"}, "update_mask")
	updateErr("star with others", clone(func(a *twinningv1.Agreement) { a.Summary = "s" }), []string{"*", "summary"}, "update_mask")
	updateErr("mask through a scalar", clone(func(a *twinningv1.Agreement) { a.Summary = "s" }), []string{"summary.x"}, "update_mask")
	updateErr("no name", clone(func(a *twinningv1.Agreement) { a.Name = "" }), []string{"summary"}, "agreement.name")
	updateErr("another collection", clone(func(a *twinningv1.Agreement) { a.Name = tn.parent() + "/delegations/good" }), []string{"summary"}, "agreement.name")
	_, err = tw.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{})
	wantInvalid(t, err, "update without agreement", "agreement")

	// A bad value outside the mask is not applied, so it does not matter.
	ok, err := tw.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{
		Agreement:  clone(func(a *twinningv1.Agreement) { a.DisplayName = ""; a.Summary = "fine" }),
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary"}},
	})
	if err != nil || ok.DisplayName != "good" || ok.Summary != "fine" {
		t.Errorf("update with a bad unmasked field = %v, %v", ok, err)
	}
	// "*" replaces every writable field: what is not sent is cleared.
	replaced, err := tw.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{
		Agreement:  &twinningv1.Agreement{Name: good.Name, DisplayName: "replaced", Kind: twinningv1.Agreement_KIND_OTHER},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"*"}},
	})
	if err != nil || replaced.DisplayName != "replaced" || replaced.Summary != "" || len(replaced.PartnerCountries) != 0 ||
		replaced.CreateTime == nil || !proto.Equal(replaced.CreateTime, good.CreateTime) {
		t.Errorf("update with * = %v, %v", replaced, err)
	}
}

// TestResourceNames checks malformed, unknown and merged-away names.
func TestResourceNames(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	tw := tn.Twinning
	_, err := tw.CreateDelegation(ctx, &twinningv1.CreateDelegationRequest{Parent: tn.parent(), DelegationId: "d1", Delegation: &twinningv1.Delegation{
		DisplayName: "d", Direction: 1, Countries: []string{"CN"}, StartDate: date(2024, 1, 1),
	}})
	mustf(t, err, "create delegation")

	for _, name := range []string{
		"provinces/atlantis/agreements/x",
		"provinces/cao-bang/agreements/X_bad",
		"provinces/cao-bang/agreements/1abc",
		"provinces/cao-bang/delegations/d1",
		"provinces/cao-bang/agreements",
		"provinces/cao-bang/agreements/x/y",
		"agreements/x",
		"provinces/-/agreements/x",
		"provinces/bac-giang/agreements/x",
		"",
	} {
		_, err := tw.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: name})
		wantInvalid(t, err, "GetAgreement "+name, "name")
		_, err = tw.DeleteAgreement(ctx, &twinningv1.DeleteAgreementRequest{Name: name})
		wantInvalid(t, err, "DeleteAgreement "+name, "name")
		_, err = tw.UndeleteAgreement(ctx, &twinningv1.UndeleteAgreementRequest{Name: name})
		wantInvalid(t, err, "UndeleteAgreement "+name, "name")
	}
	_, err = tw.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: "provinces/bac-giang/agreements/x"})
	if st, _ := status.FromError(err); !strings.Contains(st.Message(), "bac-ninh") {
		t.Errorf("merged province: message %q does not mention bac-ninh", st.Message())
	}
	_, err = tw.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: "provinces/cao-bang/agreements/missing"})
	wantCode(t, err, codes.NotFound, "missing record")
	_, err = tw.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: "provinces/nghe-an/agreements/missing"})
	wantCode(t, err, codes.NotFound, "missing record of another province")
	// The delegation itself is found by its own method.
	if _, err := tw.GetDelegation(ctx, &twinningv1.GetDelegationRequest{Name: "provinces/cao-bang/delegations/d1"}); err != nil {
		t.Errorf("GetDelegation: %v", err)
	}

	for _, parent := range []string{"provinces/atlantis", "provinces/bac-giang", "provinces", "provinces/cao-bang/agreements", "cao-bang", ""} {
		_, err := tw.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: parent})
		wantInvalid(t, err, "List "+parent, "parent")
		_, err = tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: parent, Agreement: newAgreement("x")})
		wantInvalid(t, err, "Create "+parent, "parent")
	}
	_, err = tw.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/bac-giang"})
	if st, _ := status.FromError(err); !strings.Contains(st.Message(), "bac-ninh") {
		t.Errorf("merged province parent: message %q does not mention bac-ninh", st.Message())
	}
	_, err = tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/-", Agreement: newAgreement("x")})
	wantInvalid(t, err, "Create under provinces/-", "parent")
}

// TestWrongProvince checks that a node writes only its own province's
// records but lists any.
func TestWrongProvince(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	tw := tn.Twinning
	own, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "own", Agreement: newAgreement("own")})
	mustf(t, err, "create own")

	_, err = tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/nghe-an", AgreementId: "x", Agreement: newAgreement("x")})
	wantCode(t, err, codes.PermissionDenied, "Create under nghe-an")
	_, err = tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/nghe-an", RequestId: "perm", Agreement: newAgreement("x")})
	wantCode(t, err, codes.PermissionDenied, "Create under nghe-an with a request id")
	foreign := newAgreement("x")
	foreign.Name = "provinces/nghe-an/agreements/x"
	_, err = tw.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{Agreement: foreign})
	wantCode(t, err, codes.PermissionDenied, "Update of a nghe-an record")
	_, err = tw.DeleteAgreement(ctx, &twinningv1.DeleteAgreementRequest{Name: foreign.Name})
	wantCode(t, err, codes.PermissionDenied, "Delete of a nghe-an record")
	_, err = tw.UndeleteAgreement(ctx, &twinningv1.UndeleteAgreementRequest{Name: foreign.Name})
	wantCode(t, err, codes.PermissionDenied, "Undelete of a nghe-an record")

	resp, err := tw.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/nghe-an"})
	if err != nil || len(resp.Agreements) != 0 || resp.NextPageToken != "" {
		t.Errorf("List provinces/nghe-an = %v, %v; want empty", resp, err)
	}
	resp, err = tw.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/-", ShowDeleted: true})
	if err != nil || len(resp.Agreements) != 1 || !proto.Equal(resp.Agreements[0], own) {
		t.Errorf("List provinces/- = %v, %v; want only %s", resp, err, own.Name)
	}

	// The ministry's node writes no province's records.
	mofa := startNode(t, resource.Ministry)
	_, err = mofa.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: "provinces/cao-bang", Agreement: newAgreement("x")})
	wantCode(t, err, codes.PermissionDenied, "Create on the ministry node")
}

// TestManyBadItemsGetABoundedAnswer: an editor's create whose repeated
// field holds 690,000 bad items (2.8 MB, under the message size) is
// refused with a bounded answer, not one field violation per item (120 MB,
// which over gRPC broke the client's connection with COMPRESSION_ERROR).
// A small request with more bad fields than an answer tells has them
// counted in its message.
func TestManyBadItemsGetABoundedAnswer(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	many := make([]string, 690_000)
	for i := range many {
		many[i] = "zz"
	}
	_, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "many",
		Agreement: &twinningv1.Agreement{DisplayName: "d", Kind: twinningv1.Agreement_KIND_MOU, PartnerCountries: many}})
	wantCode(t, err, codes.InvalidArgument, "a create with 690,000 bad items")
	if v := violations(err); len(v) == 0 || len(v) > apperr.MaxViolations {
		t.Errorf("a create with 690,000 bad items: %d field violations, want 1..%d", len(v), apperr.MaxViolations)
	}

	parties := make([]*typev1.ForeignParty, 150)
	for i := range parties {
		parties[i] = &typev1.ForeignParty{Name: "", CountryCode: "china"}
	}
	_, err = tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "parties",
		Agreement: &twinningv1.Agreement{DisplayName: "d", Kind: twinningv1.Agreement_KIND_MOU, ForeignParties: parties}})
	wantCode(t, err, codes.InvalidArgument, "a create with 300 bad fields")
	if v := violations(err); len(v) != apperr.MaxViolations || !strings.Contains(err.Error(), "more)") {
		t.Errorf("a create with 300 bad fields: %d field violations (%v), want %d and a count of the rest", len(v), err, apperr.MaxViolations)
	}
}
