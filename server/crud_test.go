package server_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/client"
	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
)

// kindExample is a minimal valid record of one kind, plus two string fields
// the CRUD test changes: masked (in the update mask) and unmasked (changed
// in the request but not in the mask, so it must keep its stored value).
type kindExample struct {
	kind     *resource.Kind
	example  func() proto.Message
	masked   protoreflect.Name
	unmasked protoreflect.Name
}

func kindExamples() []kindExample {
	return []kindExample{
		{resource.Partnerships, func() proto.Message {
			return &twinningv1.Partnership{
				DisplayName: "Cao Bằng – Bách Sắc",
				LocalUnit:   &typev1.LocalUnit{Level: typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, Name: "Cao Bằng"},
				Partner:     &typev1.ForeignParty{Name: "Baise", CountryCode: "CN"},
				Kind:        twinningv1.Partnership_KIND_FRIENDSHIP_COOPERATION,
			}
		}, "notes", "display_name"},
		{resource.Agreements, func() proto.Message {
			return &twinningv1.Agreement{DisplayName: "MoU on border trade", Kind: twinningv1.Agreement_KIND_MOU}
		}, "summary", "display_name"},
		{resource.AgreementOpinions, func() proto.Message {
			return &twinningv1.AgreementOpinion{Agreement: "provinces/cao-bang/agreements/mou-baise",
				Position: twinningv1.OpinionPosition_OPINION_POSITION_AGREE, OpinionDate: date(2025, 3, 12)}
		}, "summary", "agreement"},
		{resource.Delegations, func() proto.Message {
			return &twinningv1.Delegation{
				DisplayName: "Guangxi delegation", Direction: twinningv1.Delegation_DIRECTION_INCOMING,
				Countries: []string{"CN"}, StartDate: date(2024, 5, 2),
			}
		}, "purpose", "display_name"},
		{resource.FriendshipAssociations, func() proto.Message {
			return &twinningv1.FriendshipAssociation{DisplayName: "Viet Nam–China Friendship Association", PartnerCountry: "CN"}
		}, "notes", "display_name"},
		{resource.BorderGates, func() proto.Message {
			return &borderv1.BorderGate{DisplayName: "Tà Lùng", NeighbourCountry: "CN", Level: borderv1.BorderGate_LEVEL_INTERNATIONAL}
		}, "notes", "display_name"},
		{resource.BorderMarkers, func() proto.Message {
			return &borderv1.BorderMarker{Number: "836", NeighbourCountry: "CN"}
		}, "notes", "number"},
		{resource.BorderIncidents, func() proto.Message {
			return &borderv1.BorderIncident{
				DisplayName: "Landslide near marker 836", Category: borderv1.BorderIncident_CATEGORY_NATURAL_DISASTER,
				OccurTime: timestamppb.New(time.Date(2024, 9, 8, 6, 30, 0, 0, time.UTC)),
			}
		}, "description", "display_name"},
		{resource.IncidentAcknowledgements, func() proto.Message {
			return &borderv1.IncidentAcknowledgement{BorderIncident: "provinces/lang-son/border-incidents/flood"}
		}, "note", "border_incident"},
		{resource.InformationRequests, func() proto.Message {
			return &nationalv1.InformationRequest{DisplayName: "Border trade figures", Provinces: []string{"lang-son"},
				DueTime: timestamppb.New(time.Date(2025, 7, 15, 10, 0, 0, 0, time.UTC))}
		}, "question", "display_name"},
		{resource.InformationResponses, func() proto.Message {
			return &nationalv1.InformationResponse{Request: "provinces/mofa/information-requests/trade", Answer: "Attached."}
		}, "answer", "request"},
		{resource.TradeReports, func() proto.Message {
			return &borderv1.TradeReport{
				PeriodKind: borderv1.TradeReport_PERIOD_KIND_YEAR, PeriodStart: date(2023, 1, 1), PeriodEnd: date(2023, 12, 31),
			}
		}, "notes", "border_gate"},
		{resource.Projects, func() proto.Message {
			return &investmentv1.Project{DisplayName: "Solar farm", Kind: investmentv1.Project_KIND_FDI}
		}, "description", "display_name"},
		{resource.PromotionEvents, func() proto.Message {
			return &investmentv1.PromotionEvent{DisplayName: "Investment conference", Kind: investmentv1.PromotionEvent_KIND_CONFERENCE, StartDate: date(2024, 3, 1)}
		}, "outcomes", "display_name"},
		{resource.InvestorLeads, func() proto.Message {
			return &investmentv1.InvestorLead{Investor: "Foxconn"}
		}, "notes", "investor"},
		{resource.Organizations, func() proto.Message {
			return &investmentv1.Organization{DisplayName: "Asian Development Bank", ShortName: "ADB", Kind: investmentv1.Organization_KIND_MULTILATERAL_LENDER}
		}, "description", "display_name"},
	}
}

func setString(m proto.Message, field protoreflect.Name, v string) {
	r := m.ProtoReflect()
	r.Set(r.Descriptor().Fields().ByName(field), protoreflect.ValueOfString(v))
}

func getString(m proto.Message, field protoreflect.Name) string {
	r := m.ProtoReflect()
	return r.Get(r.Descriptor().Fields().ByName(field)).String()
}

func timeField(m proto.Message, field protoreflect.Name) *timestamppb.Timestamp {
	r := m.ProtoReflect()
	f := r.Descriptor().Fields().ByName(field)
	if !r.Has(f) {
		return nil
	}
	return r.Get(f).Message().Interface().(*timestamppb.Timestamp)
}

// TestCRUDEveryKind runs the standard methods of every resource kind through
// the generic gRPC client.
func TestCRUDEveryKind(t *testing.T) {
	province := startNode(t, "cao-bang")
	// Only the ministry's node writes the kinds the ministry owns.
	var ministry *testNode
	examples := kindExamples()
	covered := map[*resource.Kind]bool{}
	for _, ex := range examples {
		covered[ex.kind] = true
	}
	for _, k := range resource.Kinds() {
		if !covered[k] {
			t.Errorf("no example for kind %s", k.Collection)
		}
	}
	for _, ex := range examples {
		k := ex.kind
		tn := province
		if k.MinistryOwned() {
			if ministry == nil {
				ministry = startNode(t, resource.Ministry)
			}
			tn = ministry
		}
		t.Run(k.Collection, func(t *testing.T) {
			ctx := testCtx(t)
			parent := tn.parent()
			in := ex.example()
			// Output-only fields sent by the client are ignored.
			setString(in, "etag", "client-etag")
			in.ProtoReflect().Set(in.ProtoReflect().Descriptor().Fields().ByName("delete_time"),
				protoreflect.ValueOfMessage(timestamppb.Now().ProtoReflect()))

			created, err := tn.Create(ctx, parent, k, "first", "", in)
			mustf(t, err, "Create")
			wantName := parent + "/" + k.Collection + "/first"
			if got := k.Name(created); got != wantName {
				t.Errorf("name = %q, want %q", got, wantName)
			}
			if k.Etag(created) == "" || k.Etag(created) == "client-etag" {
				t.Errorf("etag = %q, want a server etag", k.Etag(created))
			}
			if k.Deleted(created) {
				t.Errorf("created record has delete_time")
			}
			ct, ut := timeField(created, "create_time"), timeField(created, "update_time")
			if ct == nil || ut == nil || !proto.Equal(ct, ut) {
				t.Errorf("create_time %v, update_time %v: want both set and equal", ct, ut)
			}
			if d := time.Since(ct.AsTime()); d < -time.Minute || d > time.Minute {
				t.Errorf("create_time %v is not now", ct.AsTime())
			}
			// The stored record is what the client sent plus the server's fields.
			want := ex.example()
			k.SetName(want, wantName)
			k.SetEtag(want, k.Etag(created))
			k.SetCreateTime(want, ct)
			k.SetUpdateTime(want, ut)
			if !proto.Equal(created, want) {
				t.Errorf("Create returned %v, want %v", created, want)
			}

			got, err := tn.Get(ctx, wantName)
			mustf(t, err, "Get")
			if !proto.Equal(got, created) {
				t.Errorf("Get = %v, want Create's result %v", got, created)
			}

			// A server-chosen id.
			auto, err := tn.Create(ctx, parent, k, "", "", ex.example())
			mustf(t, err, "Create without id")
			if n, err := resource.ParseName(k.Name(auto), k.Collection); err != nil || n.Province != tn.Member {
				t.Errorf("server-chosen name %q: %v", k.Name(auto), err)
			}
			// The same id again.
			_, err = tn.Create(ctx, parent, k, "first", "", ex.example())
			wantCode(t, err, codes.AlreadyExists, "Create of an existing id")

			// Update with a mask: only the masked field changes.
			upd := proto.Clone(created)
			setString(upd, ex.masked, "changed by mask")
			setString(upd, ex.unmasked, "must not be stored")
			updated, err := tn.Update(ctx, upd, []string{string(ex.masked)})
			mustf(t, err, "Update")
			if getString(updated, ex.masked) != "changed by mask" {
				t.Errorf("masked field %s = %q", ex.masked, getString(updated, ex.masked))
			}
			if getString(updated, ex.unmasked) != getString(created, ex.unmasked) {
				t.Errorf("unmasked field %s changed to %q", ex.unmasked, getString(updated, ex.unmasked))
			}
			if k.Etag(updated) == k.Etag(created) {
				t.Errorf("Update kept etag %q", k.Etag(updated))
			}
			if !proto.Equal(timeField(updated, "create_time"), ct) {
				t.Errorf("Update changed create_time")
			}
			if !timeField(updated, "update_time").AsTime().After(ut.AsTime()) {
				t.Errorf("update_time %v not after %v", timeField(updated, "update_time").AsTime(), ut.AsTime())
			}
			wantUpd := proto.Clone(created)
			setString(wantUpd, ex.masked, "changed by mask")
			k.SetEtag(wantUpd, k.Etag(updated))
			k.SetUpdateTime(wantUpd, timeField(updated, "update_time"))
			if !proto.Equal(updated, wantUpd) {
				t.Errorf("Update = %v, want %v", updated, wantUpd)
			}
			if got, err := tn.Get(ctx, wantName); err != nil || !proto.Equal(got, updated) {
				t.Errorf("Get after Update = %v, %v; want %v", got, err, updated)
			}

			listNames := func(showDeleted bool) []string {
				items, err := listAll(ctx, tn.Client, parent, k, client.ListOptions{ShowDeleted: showDeleted})
				mustf(t, err, "List")
				return namesOf(k, items)
			}
			if got := listNames(false); !sameSet(got, []string{wantName, k.Name(auto)}) {
				t.Errorf("List = %q", got)
			}

			// Delete.
			deleted, err := tn.Delete(ctx, wantName, "")
			mustf(t, err, "Delete")
			if !k.Deleted(deleted) {
				t.Errorf("Delete returned a record without delete_time")
			}
			if k.Etag(deleted) == k.Etag(updated) {
				t.Errorf("Delete kept the etag")
			}
			if got := listNames(false); !sameSet(got, []string{k.Name(auto)}) {
				t.Errorf("List after Delete = %q, want only %q", got, k.Name(auto))
			}
			if got := listNames(true); !sameSet(got, []string{wantName, k.Name(auto)}) {
				t.Errorf("List show_deleted after Delete = %q", got)
			}
			if got, err := tn.Get(ctx, wantName); err != nil || !proto.Equal(got, deleted) {
				t.Errorf("Get of a deleted record = %v, %v; want %v", got, err, deleted)
			}
			_, err = tn.Delete(ctx, wantName, "")
			wantCode(t, err, codes.NotFound, "Delete of a deleted record")
			_, err = tn.Update(ctx, deleted, []string{string(ex.masked)})
			wantCode(t, err, codes.FailedPrecondition, "Update of a deleted record")
			_, err = tn.Create(ctx, parent, k, "first", "", ex.example())
			wantCode(t, err, codes.AlreadyExists, "Create over a deleted record")

			// Undelete.
			restored, err := tn.Undelete(ctx, wantName, "")
			mustf(t, err, "Undelete")
			if k.Deleted(restored) {
				t.Errorf("Undelete left delete_time set")
			}
			wantRestored := proto.Clone(updated)
			k.SetEtag(wantRestored, k.Etag(restored))
			k.SetUpdateTime(wantRestored, timeField(restored, "update_time"))
			if !proto.Equal(restored, wantRestored) {
				t.Errorf("Undelete = %v, want %v", restored, wantRestored)
			}
			if got := listNames(false); !sameSet(got, []string{wantName, k.Name(auto)}) {
				t.Errorf("List after Undelete = %q", got)
			}
			_, err = tn.Undelete(ctx, wantName, "")
			wantCode(t, err, codes.AlreadyExists, "Undelete of a live record")
			_, err = tn.Delete(ctx, parent+"/"+k.Collection+"/missing", "")
			wantCode(t, err, codes.NotFound, "Delete of a missing record")
			_, err = tn.Undelete(ctx, parent+"/"+k.Collection+"/missing", "")
			wantCode(t, err, codes.NotFound, "Undelete of a missing record")
			_, err = tn.Get(ctx, parent+"/"+k.Collection+"/missing")
			wantCode(t, err, codes.NotFound, "Get of a missing record")
		})
	}
}
