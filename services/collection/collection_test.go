package collection_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/validation"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/storage/sqlstore"
)

const member = "cao-bang"

type fixture struct {
	db  *sqlstore.DB
	agr *collection.Collection[*twinningv1.Agreement]
}

func open(t *testing.T) *fixture {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "provex.db"), member, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v, err := validation.New(resource.FieldRules())
	if err != nil {
		t.Fatal(err)
	}
	node := &collection.Node{Store: db, Member: member, Validator: v}
	return &fixture{db: db, agr: collection.New[*twinningv1.Agreement](node, resource.Agreements)}
}

// full is an agreement with most kinds of field set: scalars, an enum, a
// list, nested messages.
func full() *twinningv1.Agreement {
	return &twinningv1.Agreement{
		DisplayName:      "Full",
		Kind:             twinningv1.Agreement_KIND_MOU,
		State:            twinningv1.Agreement_STATE_SIGNED,
		PartnerCountries: []string{"CN", "LA"},
		SignedDate:       &typev1.Date{Year: 2024, Month: 5, Day: 2},
		SignedPlace:      "Cao Bang",
		Summary:          "first",
	}
}

func (f *fixture) create(t *testing.T, id string) *twinningv1.Agreement {
	t.Helper()
	a, err := f.agr.Create(context.Background(), "provinces/"+member, id, "", full())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) logLength(t *testing.T) uint64 {
	t.Helper()
	head, err := f.db.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return head.Seq
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

func wantInvalid(t *testing.T, err error, what, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != codes.InvalidArgument || len(e.Violations) != 1 || e.Violations[0].GetField() != field {
		t.Errorf("%s: %v, want INVALID_ARGUMENT naming %s", what, err, field)
	}
}

// TestUpdateWithoutMaskChangesPopulatedFields: with no mask, the fields set
// in the request change (a message field whole) and every other field
// stays, even ones the request leaves at their zero value (AIP-134).
func TestUpdateWithoutMaskChangesPopulatedFields(t *testing.T) {
	f := open(t)
	ctx := context.Background()
	for id, m := range map[string]*fieldmaskpb.FieldMask{"nil-mask": nil, "empty-mask": {}} {
		a := f.create(t, id)
		// The etag is echoed for the concurrency check; a year-only date
		// replaces the whole date.
		req := &twinningv1.Agreement{Name: a.Name, Etag: a.Etag, Summary: "second", SignedDate: &typev1.Date{Year: 2025}}
		got, err := f.agr.Update(ctx, req, m)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		want := proto.Clone(a).(*twinningv1.Agreement)
		want.Summary, want.SignedDate = "second", &typev1.Date{Year: 2025}
		want.Etag, want.UpdateTime = got.Etag, got.UpdateTime
		if !proto.Equal(got, want) {
			t.Errorf("%s: update = %v, want %v", id, got, want)
		}
		if got.Etag == a.Etag {
			t.Errorf("%s: an update that changed fields kept etag %q", id, got.Etag)
		}
	}
}

// TestUpdateStarReplacesEveryWritableField: "*" clears what the request
// leaves unset, and keeps output-only fields.
func TestUpdateStarReplacesEveryWritableField(t *testing.T) {
	f := open(t)
	a := f.create(t, "a")
	got, err := f.agr.Update(context.Background(), &twinningv1.Agreement{Name: a.Name, DisplayName: "Bare", Kind: twinningv1.Agreement_KIND_OTHER}, mask("*"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Summary != "" || got.SignedDate != nil || len(got.PartnerCountries) != 0 || got.DisplayName != "Bare" {
		t.Errorf(`"*" left fields the request did not set: %v`, got)
	}
	if !proto.Equal(got.CreateTime, a.CreateTime) || got.Name != a.Name {
		t.Errorf(`"*" changed output-only fields: %v, was %v`, got, a)
	}
}

// TestUpdateMaskNamingOutputOnlyIsRefused: a mask naming a field only the
// server sets is INVALID_ARGUMENT on update_mask, and nothing is written.
func TestUpdateMaskNamingOutputOnlyIsRefused(t *testing.T) {
	f := open(t)
	ctx := context.Background()
	a := f.create(t, "a")
	before := f.logLength(t)
	for _, p := range []string{"name", "etag", "create_time", "update_time", "delete_time", "create_time.seconds"} {
		req := proto.Clone(a).(*twinningv1.Agreement)
		req.Summary = "changed"
		_, err := f.agr.Update(ctx, req, mask("summary", p))
		wantInvalid(t, err, "mask "+p, "update_mask")
	}
	got, err := f.agr.Get(ctx, a.Name)
	if err != nil || !proto.Equal(got, a) || f.logLength(t) != before {
		t.Errorf("refused updates changed the record: %v (%v)", got, err)
	}
}

// TestUpdateThatChangesNothingWritesNothing: the record comes back with its
// etag and update_time, and the change log does not grow; the etag
// precondition and the deleted check still apply.
func TestUpdateThatChangesNothingWritesNothing(t *testing.T) {
	f := open(t)
	ctx := context.Background()
	a := f.create(t, "a")
	before := f.logLength(t)
	for what, u := range map[string]struct {
		res  *twinningv1.Agreement
		mask *fieldmaskpb.FieldMask
	}{
		"only name and etag":       {&twinningv1.Agreement{Name: a.Name, Etag: a.Etag}, nil},
		"the record echoed":        {proto.Clone(a).(*twinningv1.Agreement), nil},
		"same value, masked":       {&twinningv1.Agreement{Name: a.Name, Summary: a.Summary}, mask("summary")},
		"the record echoed, *":     {proto.Clone(a).(*twinningv1.Agreement), mask("*")},
		"zero value not populated": {&twinningv1.Agreement{Name: a.Name, Summary: ""}, nil},
		// A path inside a message the record lacks only clears, so the
		// message stays absent (an outside review: it was made empty).
		"cleared inside absent messages": {&twinningv1.Agreement{Name: a.Name, Etag: a.Etag}, mask("consultation.opinion", "signatory.name")},
	} {
		got, err := f.agr.Update(ctx, u.res, u.mask)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		if !proto.Equal(got, a) {
			t.Errorf("%s: got %v, want the record unchanged %v", what, got, a)
		}
	}
	if n := f.logLength(t); n != before {
		t.Errorf("updates that changed nothing wrote %d entries", n-before)
	}
	_, err := f.agr.Update(ctx, &twinningv1.Agreement{Name: a.Name, Etag: "stale"}, nil)
	if e, ok := apperr.As(err); !ok || e.Code != codes.Aborted {
		t.Errorf("no-op update with a stale etag: %v, want ABORTED", err)
	}
	if _, err := f.agr.Delete(ctx, a.Name, ""); err != nil {
		t.Fatal(err)
	}
	_, err = f.agr.Update(ctx, &twinningv1.Agreement{Name: a.Name}, nil)
	if e, ok := apperr.As(err); !ok || e.Code != codes.FailedPrecondition {
		t.Errorf("no-op update of a deleted record: %v, want FAILED_PRECONDITION", err)
	}
}

// TestMessageSentOnAMaskedPathIsMade: a message the request holds on a
// masked path is made in the record as sent, though empty: the record
// lacked it, and location {} with its latitude and longitude masked is the
// point 0,0 (a review: only a path whose field was set made its message,
// and that update was dropped).
func TestMessageSentOnAMaskedPathIsMade(t *testing.T) {
	f := open(t)
	ctx := context.Background()
	a := f.create(t, "a")
	if a.Consultation != nil {
		t.Fatal("the fixture's record holds a consultation")
	}
	before := f.logLength(t)
	got, err := f.agr.Update(ctx, &twinningv1.Agreement{Name: a.Name, Consultation: &twinningv1.Agreement_Consultation{}}, mask("consultation.opinion"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Consultation == nil || got.Etag == a.Etag || f.logLength(t) != before+1 {
		t.Errorf("an empty consultation sent with consultation.opinion masked: consultation %v, etag %q (was %q), %d entries written; want it made, one entry",
			got.Consultation, got.Etag, a.Etag, f.logLength(t)-before)
	}
}

// TestUpdateInsideAnAbsentMessageIsNotStored: a field set inside a message
// the record lacks (signed_date.day with no signed_date) makes the message
// with that field alone; a rule the message then breaks (no year) is not
// blamed on a stored value, which the record does not hold.
func TestUpdateInsideAnAbsentMessageIsNotStored(t *testing.T) {
	f := open(t)
	ctx := context.Background()
	bare := full()
	bare.SignedDate = nil
	a, err := f.agr.Create(ctx, "provinces/"+member, "undated", "", bare)
	if err != nil {
		t.Fatal(err)
	}
	before := f.logLength(t)
	_, err = f.agr.Update(ctx, &twinningv1.Agreement{Name: a.Name, SignedDate: &typev1.Date{Day: 5}}, mask("signed_date.day"))
	e, ok := apperr.As(err)
	if !ok || e.Code != codes.InvalidArgument {
		t.Fatalf("signed_date.day with no signed_date: %v, want INVALID_ARGUMENT", err)
	}
	var year string
	for _, v := range e.Violations {
		if v.GetField() == "agreement.signed_date.year" {
			year = v.GetDescription()
		}
	}
	if strings.Contains(year, "stored value") || !strings.Contains(year, "the record holds no signed_date") {
		t.Errorf("signed_date.day with no signed_date: %v, want its year violation to say the record holds no signed_date, not blame a stored value", err)
	}
	if f.logLength(t) != before {
		t.Errorf("a refused update wrote %d entries", f.logLength(t)-before)
	}
}

// TestCreateRequestIDFingerprint: a retry returns the first record, also
// when the server chose the id; the same request_id with another parent,
// id or record is refused on request_id and writes nothing.
func TestCreateRequestIDFingerprint(t *testing.T) {
	f := open(t)
	ctx := context.Background()
	parent := "provinces/" + member
	first, err := f.agr.Create(ctx, parent, "", "req-1", full())
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.agr.Create(ctx, parent, "", "req-1", full())
	if err != nil || !proto.Equal(again, first) {
		t.Fatalf("retry = %v (%v), want %v", again, err, first)
	}
	// Output-only fields are ignored, so a retry may carry them.
	echoed := full()
	echoed.Name, echoed.Etag, echoed.CreateTime = first.Name, first.Etag, first.CreateTime
	if again, err := f.agr.Create(ctx, parent, "", "req-1", echoed); err != nil || !proto.Equal(again, first) {
		t.Fatalf("retry with output-only fields = %v (%v), want %v", again, err, first)
	}
	before := f.logLength(t)
	other := full()
	other.Summary = "other"
	for what, c := range map[string]struct {
		id  string
		res *twinningv1.Agreement
	}{
		"another record": {"", other},
		"an id":          {"chosen", full()},
	} {
		_, err := f.agr.Create(ctx, parent, c.id, "req-1", c.res)
		wantInvalid(t, err, "request_id reused with "+what, "request_id")
	}
	if n := f.logLength(t); n != before {
		t.Errorf("refused reuses wrote %d entries", n-before)
	}
}
