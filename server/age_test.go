package server_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/client"
	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	"github.com/provex/provex/resource"
)

// TestAgeFiltersOverTheAPI: "unresolved incidents older than 30 days" is
// a filter, in List and in summaries alike, with no date arithmetic by the
// caller; a bad .age is INVALID_ARGUMENT naming the filter.
func TestAgeFiltersOverTheAPI(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	now := time.Now()
	for _, in := range []struct {
		id    string
		age   time.Duration
		state borderv1.BorderIncident_State
	}{
		{"old-open", 40 * 24 * time.Hour, borderv1.BorderIncident_STATE_OPEN},
		{"recent-open", 10 * 24 * time.Hour, borderv1.BorderIncident_STATE_OPEN},
		{"old-resolved", 60 * 24 * time.Hour, borderv1.BorderIncident_STATE_RESOLVED},
	} {
		bi := &borderv1.BorderIncident{DisplayName: in.id, Category: 1, State: in.state, OccurTime: timestamppb.New(now.Add(-in.age))}
		_, err := tn.Border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: tn.parent(), BorderIncidentId: in.id, BorderIncident: bi})
		mustf(t, err, "create incident %s", in.id)
	}
	const unresolvedOld = "state != RESOLVED AND occur_time.age > 30"
	got, err := listAll(ctx, tn.Client, tn.parent(), resource.BorderIncidents, client.ListOptions{Filter: unresolvedOld})
	mustf(t, err, "list %s", unresolvedOld)
	if names := namesOf(resource.BorderIncidents, got); !slices.Equal(names, []string{tn.parent() + "/border-incidents/old-open"}) {
		t.Errorf("list %s: %q", unresolvedOld, names)
	}
	national := nationalv1.NewNationalServiceClient(tn.Conn())
	sum, err := national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "border-incidents", GroupBy: []string{"state"}, Filter: unresolvedOld})
	mustf(t, err, "summarize %s", unresolvedOld)
	if sum.GetTotal().GetCount() != 1 || len(sum.GetGroups()) != 1 || sum.GetGroups()[0].GetKeys()[0] != "STATE_OPEN" {
		t.Errorf("summary of %s: %v", unresolvedOld, sum)
	}
	sum, err = national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "border-incidents", Filter: "occur_time.age <= 45"})
	mustf(t, err, "summarize occur_time.age <= 45")
	if sum.GetTotal().GetCount() != 2 {
		t.Errorf("incidents of the last 45 days: %d, want 2", sum.GetTotal().GetCount())
	}
	for _, bad := range []string{"display_name.age > 30", "occur_time.age > -1", "occur_time.age > 100000", "occur_time.age = 30", "occur_time.age > 1e3"} {
		_, _, err := tn.List(ctx, tn.parent(), resource.BorderIncidents, client.ListOptions{Filter: bad})
		wantInvalid(t, err, "list filter "+bad, "filter")
		_, err = national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "border-incidents", Filter: bad})
		wantInvalid(t, err, "summary filter "+bad, "filter")
	}
}
