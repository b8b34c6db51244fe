package server_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
)

func fullAgreement(name string) *twinningv1.Agreement {
	return &twinningv1.Agreement{
		DisplayName:      name,
		Kind:             twinningv1.Agreement_KIND_MOU,
		State:            twinningv1.Agreement_STATE_SIGNED,
		PartnerCountries: []string{"CN", "LA"},
		SignedDate:       &typev1.Date{Year: 2024, Month: 5, Day: 2},
		SignedPlace:      "Cao Bang",
		Summary:          "first",
	}
}

// withoutServerFields is for comparing two records' content: name,
// etag and times differ between two records however they were written.
func withoutServerFields(a *twinningv1.Agreement) *twinningv1.Agreement {
	a = proto.Clone(a).(*twinningv1.Agreement)
	a.Name, a.Etag, a.CreateTime, a.UpdateTime, a.DeleteTime = "", "", nil, nil, nil
	return a
}

// TestUpdateSameOnBothTransports runs each update on two equal records, one
// over gRPC and one over an HTTP PATCH with the same body and mask, and
// wants the same record from both (AIP-134 on both: no mask means the
// populated fields).
func TestUpdateSameOnBothTransports(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	tw := tn.Twinning
	jsonOf := func(a *twinningv1.Agreement) string {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(a)
		mustf(t, err, "marshal")
		return string(b)
	}
	cases := []struct {
		name string
		// update builds the request record from the stored one.
		update func(stored *twinningv1.Agreement) *twinningv1.Agreement
		// body is the JSON of the update; "" means jsonOf(update).
		body string
		mask []string
		// want edits the stored record into the expected result.
		want func(a *twinningv1.Agreement)
	}{
		{
			name: "fields present, a message whole",
			update: func(*twinningv1.Agreement) *twinningv1.Agreement {
				return &twinningv1.Agreement{Summary: "second", SignedDate: &typev1.Date{Year: 2025}}
			},
			want: func(a *twinningv1.Agreement) { a.Summary, a.SignedDate = "second", &typev1.Date{Year: 2025} },
		},
		{
			name: "record read, changed and sent back whole",
			update: func(stored *twinningv1.Agreement) *twinningv1.Agreement {
				a := proto.Clone(stored).(*twinningv1.Agreement)
				a.State = twinningv1.Agreement_STATE_IN_FORCE
				return a
			},
			want: func(a *twinningv1.Agreement) { a.State = twinningv1.Agreement_STATE_IN_FORCE },
		},
		{
			name:   "zero values are not present",
			update: func(*twinningv1.Agreement) *twinningv1.Agreement { return &twinningv1.Agreement{} },
			body:   `{"summary":"","partner_countries":[],"state":"STATE_UNSPECIFIED","signed_place":""}`,
			want:   func(*twinningv1.Agreement) {},
		},
		{
			name:   "a mask clears what it names",
			update: func(*twinningv1.Agreement) *twinningv1.Agreement { return &twinningv1.Agreement{} },
			body:   `{"summary":"","signed_place":"ignored"}`,
			mask:   []string{"summary", "partner_countries"},
			want:   func(a *twinningv1.Agreement) { a.Summary, a.PartnerCountries = "", nil },
		},
		{
			name: "a nested path changes part of a message",
			update: func(*twinningv1.Agreement) *twinningv1.Agreement {
				return &twinningv1.Agreement{SignedDate: &typev1.Date{Day: 9}}
			},
			mask: []string{"signed_date.day"},
			want: func(a *twinningv1.Agreement) { a.SignedDate.Day = 9 },
		},
		{
			name: "star replaces everything",
			update: func(*twinningv1.Agreement) *twinningv1.Agreement {
				return &twinningv1.Agreement{DisplayName: "Bare", Kind: twinningv1.Agreement_KIND_OTHER}
			},
			mask: []string{"*"},
			want: func(a *twinningv1.Agreement) {
				*a = twinningv1.Agreement{DisplayName: "Bare", Kind: twinningv1.Agreement_KIND_OTHER}
			},
		},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got [2]*twinningv1.Agreement
			var stored [2]*twinningv1.Agreement
			for j := range got {
				a, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: fmt.Sprintf("u%d-%d", i, j), Agreement: fullAgreement("Same")})
				mustf(t, err, "create")
				stored[j] = a
				upd := c.update(a)
				// Clients echo name and etag; the etag is the concurrency check.
				upd.Name, upd.Etag = a.Name, a.Etag
				if j == 0 {
					var m *fieldmaskpb.FieldMask
					if c.mask != nil {
						m = &fieldmaskpb.FieldMask{Paths: c.mask}
					}
					got[j], err = tw.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{Agreement: upd, UpdateMask: m})
					mustf(t, err, "gRPC update")
					continue
				}
				path := "/v1/" + a.Name
				if c.mask != nil {
					path += "?update_mask=" + url.QueryEscape(strings.Join(c.mask, ","))
				}
				body := c.body
				if body == "" {
					body = jsonOf(upd)
				}
				resp, b := tn.httpDo(t, "PATCH", path, body, nil)
				wantOK(t, "HTTP PATCH", resp, b)
				got[j] = decodeAgreement(t, "PATCH", b)
			}
			if g, h := withoutServerFields(got[0]), withoutServerFields(got[1]); !proto.Equal(g, h) {
				t.Errorf("gRPC gave %v\nHTTP gave %v", g, h)
			}
			want := withoutServerFields(stored[0])
			c.want(want)
			if g := withoutServerFields(got[0]); !proto.Equal(g, want) {
				t.Errorf("got %v\nwant %v", g, want)
			}
			// The etag changes exactly when the record does, on both.
			for j := range got {
				changed := !proto.Equal(withoutServerFields(stored[j]), withoutServerFields(got[j]))
				if etagChanged := got[j].Etag != stored[j].Etag; etagChanged != changed {
					t.Errorf("transport %d: record changed %v, etag changed %v", j, changed, etagChanged)
				}
			}
		})
	}
}

// TestUpdateMaskNamingOutputOnly: a mask that names an output-only field is
// refused on both transports, naming update_mask, and changes nothing;
// output-only fields echoed in a body without a mask are not an error.
func TestUpdateMaskNamingOutputOnly(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	tw := tn.Twinning
	a, err := tw.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{Parent: tn.parent(), AgreementId: "oo", Agreement: fullAgreement("Output only")})
	mustf(t, err, "create")
	for _, p := range []string{"name", "etag", "create_time", "update_time", "delete_time"} {
		upd := proto.Clone(a).(*twinningv1.Agreement)
		upd.Summary = "changed"
		_, err := tw.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{Agreement: upd, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{p}}})
		wantInvalid(t, err, "gRPC mask "+p, "update_mask")
		resp, body := tn.httpDo(t, "PATCH", "/v1/"+a.Name+"?update_mask=summary,"+p, `{"summary":"changed"}`, nil)
		wantHTTPError(t, "HTTP mask "+p, resp, body, 400, 3, "update_mask")
	}
	// A path of megabytes is named cut: quoted whole, the answer's
	// trailers passed what a client takes (the call failed with
	// COMPRESSION_ERROR, not INVALID_ARGUMENT: an outside review).
	upd := proto.Clone(a).(*twinningv1.Agreement)
	_, err = tw.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{Agreement: upd, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{strings.Repeat("z", 3<<20)}}})
	wantInvalid(t, err, "gRPC mask of 3 MiB", "update_mask")
	if len(status.Convert(err).Message()) > 1024 {
		t.Errorf("a mask path of 3 MiB: an error of %d bytes, want it named cut", len(status.Convert(err).Message()))
	}
	got, err := tw.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: a.Name})
	if err != nil || !proto.Equal(got, a) {
		t.Fatalf("refused updates changed the record to %v (%v)", got, err)
	}

	// The record as read, sent back without a mask: every output-only field
	// is in the body, and none of it is an error or a change.
	body, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(a)
	mustf(t, err, "marshal")
	resp, b := tn.httpDo(t, "PATCH", "/v1/"+a.Name, string(body), nil)
	wantOK(t, "PATCH of the record as read", resp, b)
	if same := decodeAgreement(t, "PATCH", b); !proto.Equal(same, a) {
		t.Errorf("PATCH of the record as read = %v, want it unchanged (etag %q) %v", same, a.Etag, a)
	}
	same, err := tw.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{Agreement: a})
	if err != nil || !proto.Equal(same, a) {
		t.Errorf("gRPC update of the record as read = %v (%v), want it unchanged", same, err)
	}
	// A stale etag still fails an update that would change nothing.
	resp, b = tn.httpDo(t, "PATCH", "/v1/"+a.Name, `{"etag":"stale"}`, nil)
	wantHTTPError(t, "no-op PATCH with a stale etag", resp, b, 409, 10)
}
