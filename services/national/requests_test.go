package national_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server/servertest"
	"github.com/provex/provex/services/national"
)

type node struct {
	national nationalv1.NationalServiceClient
	twinning twinningv1.TwinningServiceClient
	http     string
	token    string
}

// startNodes runs a node per member, each on its own SQLite file, the
// provinces syncing through the ministry's node, as deployed.
func startNodes(t *testing.T, provinces ...string) map[string]node {
	nodes := map[string]node{}
	for id, n := range servertest.Federation(t, provinces...) {
		nodes[id] = node{national: nationalv1.NewNationalServiceClient(n.Conn), twinning: twinningv1.NewTwinningServiceClient(n.Conn), http: n.HTTP, token: n.Token}
	}
	return nodes
}

// waitRequestStatus asks member's node for the request's status until ok
// accepts it, and fails t at the deadline.
func waitRequestStatus(t *testing.T, n node, member, request string, ok func(*nationalv1.InformationRequestStatus) bool) *nationalv1.InformationRequestStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := n.national.GetInformationRequestStatus(context.Background(), &nationalv1.GetInformationRequestStatusRequest{Request: request})
		if err == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status of %s never as wanted: %v, %v", member, request, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// violation is the field of err's only BadRequest violation and its
// reason, or fails t unless err is INVALID_ARGUMENT with one.
func violation(t *testing.T, err error) (field, reason string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v, want INVALID_ARGUMENT", err)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField(), br.GetFieldViolations()[0].GetReason()
		}
	}
	t.Fatalf("INVALID_ARGUMENT without a field violation: %v", err)
	return "", ""
}

// TestInformationRequestAnsweredAcrossNodes: the ministry asks Lạng Sơn
// and Quảng Ninh for their border trade figures, due yesterday; Lạng Sơn's
// node answers with a record of its own. Once synced, the ministry's node
// (and Lạng Sơn's) say Lạng Sơn answered (which response, when) and
// Quảng Ninh is waiting and overdue; the ministry's overdue list has the
// request until Quảng Ninh answers too.
func TestInformationRequestAnsweredAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes := startNodes(t, "lang-son", "quang-ninh")
	mofa := nodes[resource.Ministry].national
	due := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	request, err := mofa.CreateInformationRequest(ctx, &nationalv1.CreateInformationRequestRequest{
		Parent: "provinces/mofa", InformationRequestId: "border-trade-h1-2025",
		InformationRequest: &nationalv1.InformationRequest{DisplayName: "Border trade figures, first half of 2025",
			Collection: "trade-reports", Provinces: []string{"lang-son", "quang-ninh"}, DueTime: timestamppb.New(due)},
	})
	if err != nil {
		t.Fatal(err)
	}
	name := request.GetName()
	if name != "provinces/mofa/information-requests/border-trade-h1-2025" {
		t.Fatalf("request named %q", name)
	}
	st := waitRequestStatus(t, nodes[resource.Ministry], resource.Ministry, name, func(*nationalv1.InformationRequestStatus) bool { return true })
	if st.GetWaitingCount() != 2 || st.GetOverdueCount() != 2 || st.GetAnsweredCount() != 0 || len(st.GetProvinces()) != 2 || st.GetProvinces()[0].GetProvince() != "lang-son" {
		t.Fatalf("fresh request: %v", st)
	}

	// Lạng Sơn's node holds the request once synced, and answers.
	waitRequestStatus(t, nodes["lang-son"], "lang-son", name, func(*nationalv1.InformationRequestStatus) bool { return true })
	resp, err := nodes["lang-son"].national.CreateInformationResponse(ctx, &nationalv1.CreateInformationResponseRequest{
		Parent: "provinces/lang-son",
		InformationResponse: &nationalv1.InformationResponse{Request: name, Answer: "Figures of Hữu Nghị and Tân Thanh attached.",
			Records: []string{"provinces/lang-son/trade-reports/huu-nghi-h1-2025"}},
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, member := range []string{resource.Ministry, "lang-son"} {
		st := waitRequestStatus(t, nodes[member], member, name, func(st *nationalv1.InformationRequestStatus) bool { return st.GetAnsweredCount() == 1 })
		p := map[string]*nationalv1.ProvinceResponse{}
		for _, pr := range st.GetProvinces() {
			p[pr.GetProvince()] = pr
		}
		if got := p["lang-son"]; got.GetResponse() != resp.GetName() || !got.GetRespondTime().AsTime().Equal(resp.GetCreateTime().AsTime()) || got.GetOverdue() {
			t.Errorf("%s: lang-son %v, want answered by %s", member, got, resp.GetName())
		}
		if got := p["quang-ninh"]; got.GetResponse() != "" || got.GetRespondTime() != nil || !got.GetOverdue() {
			t.Errorf("%s: quang-ninh %v, want waiting and overdue", member, got)
		}
		if st.GetWaitingCount() != 1 || st.GetOverdueCount() != 1 {
			t.Errorf("%s: waiting %d, overdue %d, want 1 and 1", member, st.GetWaitingCount(), st.GetOverdueCount())
		}
	}

	// The ministry's lists: a request not yet due and unanswered is
	// waiting but not overdue.
	if _, err := mofa.CreateInformationRequest(ctx, &nationalv1.CreateInformationRequestRequest{
		Parent: "provinces/mofa", InformationRequestId: "fdi-2025",
		InformationRequest: &nationalv1.InformationRequest{DisplayName: "FDI projects approved in 2025",
			Collection: "projects", Provinces: []string{"quang-ninh"}, DueTime: timestamppb.New(time.Now().Add(7 * 24 * time.Hour))},
	}); err != nil {
		t.Fatal(err)
	}
	list := func(req *nationalv1.ListInformationRequestStatusesRequest) []string {
		t.Helper()
		resp, err := mofa.ListInformationRequestStatuses(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range resp.GetStatuses() {
			out = append(out, s.GetRequest())
		}
		return out
	}
	if got := list(&nationalv1.ListInformationRequestStatusesRequest{Parent: "provinces/-", WaitingOnly: true}); len(got) != 2 {
		t.Errorf("waiting requests: %v, want both", got)
	}
	if got := list(&nationalv1.ListInformationRequestStatusesRequest{Parent: "provinces/mofa", OverdueOnly: true}); len(got) != 1 || got[0] != name {
		t.Errorf("overdue requests: %v, want [%s]", got, name)
	}
	if got := list(&nationalv1.ListInformationRequestStatusesRequest{Parent: "provinces/mofa", Filter: `collection = "projects"`}); len(got) != 1 || got[0] != "provinces/mofa/information-requests/fdi-2025" {
		t.Errorf("filtered on collection: %v", got)
	}

	// Over HTTP, as the gateway serves it.
	for path, want := range map[string]int{"/v1/" + name + "/status": 1, "/v1/provinces/-/information-requests/-/statuses?overdue_only=true": 1} {
		req, _ := http.NewRequest("GET", "http://"+nodes[resource.Ministry].http+path, nil)
		req.Header.Set("Authorization", "Bearer "+nodes[resource.Ministry].token)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			OverdueCount int               `json:"overdue_count"`
			Statuses     []json.RawMessage `json:"statuses"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.StatusCode != http.StatusOK || body.OverdueCount+len(body.Statuses) != want {
			t.Errorf("HTTP %s: %d %+v %v", path, r.StatusCode, body, err)
		}
		r.Body.Close()
	}

	if _, err := nodes["quang-ninh"].national.CreateInformationResponse(ctx, &nationalv1.CreateInformationResponseRequest{
		Parent: "provinces/quang-ninh", InformationResponse: &nationalv1.InformationResponse{Request: name, Answer: "Móng Cái figures attached."},
	}); err != nil {
		t.Fatal(err)
	}
	waitRequestStatus(t, nodes[resource.Ministry], resource.Ministry, name, func(st *nationalv1.InformationRequestStatus) bool { return st.GetWaitingCount() == 0 })
	if got := list(&nationalv1.ListInformationRequestStatusesRequest{Parent: "provinces/mofa", OverdueOnly: true}); len(got) != 0 {
		t.Errorf("overdue requests after both answered: %v", got)
	}
}

// TestInformationRequestRefused: only the ministry asks, under its own
// name; a province answers under its own name a well-formed request of the
// ministry.
func TestInformationRequestRefused(t *testing.T) {
	ctx := context.Background()
	nodes := startNodes(t, "lang-son")
	ls := nodes["lang-son"].national
	ask := func(c nationalv1.NationalServiceClient, parent string) error {
		_, err := c.CreateInformationRequest(ctx, &nationalv1.CreateInformationRequestRequest{Parent: parent,
			InformationRequest: &nationalv1.InformationRequest{DisplayName: "Trade figures", Provinces: []string{"quang-ninh"}, DueTime: timestamppb.Now()}})
		return err
	}
	if err := ask(ls, "provinces/mofa"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("lang-son writing a request under provinces/mofa: %v, want PERMISSION_DENIED", err)
	}
	if field, reason := violation(t, ask(ls, "provinces/lang-son")); field != "parent" || reason != national.ReasonRequestNotMinistry {
		t.Errorf("lang-son writing a request under its own name: violation %s (%s)", field, reason)
	}
	if err := ask(nodes[resource.Ministry].national, "provinces/mofa"); err != nil {
		t.Errorf("the ministry asking: %v", err)
	}
	bad := map[string]*nationalv1.InformationRequest{
		"information_request.provinces[0]": {DisplayName: "x", Provinces: []string{"bac-giang"}, DueTime: timestamppb.Now()},
		"information_request.collection":   {DisplayName: "x", Collection: "reports", Provinces: []string{"lang-son"}, DueTime: timestamppb.Now()},
		"information_request.due_time":     {DisplayName: "x", Provinces: []string{"lang-son"}},
	}
	for want, r := range bad {
		_, err := nodes[resource.Ministry].national.CreateInformationRequest(ctx, &nationalv1.CreateInformationRequestRequest{Parent: "provinces/mofa", InformationRequest: r})
		if field, _ := violation(t, err); field != want {
			t.Errorf("%v: violation of %s, want %s", r, field, want)
		}
	}

	answer := func(parent, request string, records ...string) error {
		_, err := ls.CreateInformationResponse(ctx, &nationalv1.CreateInformationResponseRequest{Parent: parent,
			InformationResponse: &nationalv1.InformationResponse{Request: request, Answer: "figures", Records: records}})
		return err
	}
	for _, bad := range []string{"provinces/lang-son/information-requests/r1", "provinces/mofa/agreements/r1", "mofa/information-requests/r1", ""} {
		if field, _ := violation(t, answer("provinces/lang-son", bad)); field != "information_response.request" {
			t.Errorf("%q: violation of %s", bad, field)
		}
	}
	if field, _ := violation(t, answer("provinces/lang-son", "provinces/mofa/information-requests/r1", "lang-son/trade-reports/x")); field != "information_response.records[0]" {
		t.Errorf("malformed record: violation of %s", field)
	}
	if err := answer("provinces/quang-ninh", "provinces/mofa/information-requests/r1"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("lang-son answering under quang-ninh: %v, want PERMISSION_DENIED", err)
	}
	_, err := nodes[resource.Ministry].national.CreateInformationResponse(ctx, &nationalv1.CreateInformationResponseRequest{Parent: "provinces/mofa",
		InformationResponse: &nationalv1.InformationResponse{Request: "provinces/mofa/information-requests/r1"}})
	if field, reason := violation(t, err); field != "parent" || reason != national.ReasonResponseByMinistry {
		t.Errorf("the ministry answering: violation %s (%s)", field, reason)
	}
	if err := answer("provinces/lang-son", "provinces/mofa/information-requests/r1", "provinces/lang-son/trade-reports/x"); err != nil {
		t.Errorf("a well-formed answer: %v", err)
	}

	if _, err := ls.GetInformationRequestStatus(ctx, &nationalv1.GetInformationRequestStatusRequest{Request: "provinces/lang-son/information-requests/r1"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("status of a province's request: %v, want INVALID_ARGUMENT", err)
	}
	if _, err := ls.GetInformationRequestStatus(ctx, &nationalv1.GetInformationRequestStatusRequest{Request: "provinces/mofa/information-requests/unknown"}); status.Code(err) != codes.NotFound {
		t.Errorf("status of a request the node does not hold: %v, want NOT_FOUND", err)
	}
	if _, err := ls.ListInformationRequestStatuses(ctx, &nationalv1.ListInformationRequestStatusesRequest{Parent: "provinces/lang-son"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("statuses under provinces/lang-son: %v, want INVALID_ARGUMENT", err)
	}
}
