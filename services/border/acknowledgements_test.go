package border_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server/servertest"
	"github.com/provex/provex/services/border"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

type node struct {
	border borderv1.BorderServiceClient
	http   string
	token  string
}

// startNodes runs a node per member, each on its own SQLite file, the
// provinces syncing through the ministry's node, as deployed.
func startNodes(t *testing.T, provinces ...string) map[string]node {
	nodes := map[string]node{}
	for id, n := range servertest.Federation(t, provinces...) {
		nodes[id] = node{border: borderv1.NewBorderServiceClient(n.Conn), http: n.HTTP, token: n.Token}
	}
	return nodes
}

// waitStatus asks member's node for the incident's status until ok accepts
// it, and fails t at the deadline.
func waitStatus(t *testing.T, n node, member, incident string, ok func(*borderv1.IncidentAcknowledgementStatus) bool) *borderv1.IncidentAcknowledgementStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := n.border.GetIncidentAcknowledgementStatus(context.Background(), &borderv1.GetIncidentAcknowledgementStatusRequest{Incident: incident})
		if err == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status of %s never as wanted: %v, %v", member, incident, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func byProvince(st *borderv1.IncidentAcknowledgementStatus) map[string]*borderv1.ProvinceAcknowledgement {
	out := map[string]*borderv1.ProvinceAcknowledgement{}
	for _, p := range st.GetProvinces() {
		out[p.GetProvince()] = p
	}
	return out
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

// TestIncidentAcknowledgedAcrossNodes: Cao Bằng notifies Lạng Sơn and
// Quảng Ninh of an incident; Lạng Sơn's node acknowledges it with a record
// of its own. Once synced, the owner's node, the ministry's and Lạng Sơn's
// all say Lạng Sơn acknowledged (when, after how long) and Quảng Ninh is
// waiting, and the ministry's national list of waiting incidents has it
// until Quảng Ninh acknowledges too.
func TestIncidentAcknowledgedAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes := startNodes(t, "cao-bang", "lang-son", "quang-ninh")
	occur := time.Now().Add(-48 * time.Hour)
	incident, err := nodes["cao-bang"].border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{
		Parent: "provinces/cao-bang", BorderIncidentId: "ta-lung-crossing",
		BorderIncident: &borderv1.BorderIncident{DisplayName: "Illegal crossing near Tà Lùng", Category: borderv1.BorderIncident_CATEGORY_ILLEGAL_CROSSING,
			OccurTime: timestamppb.New(occur), NotifyProvinces: []string{"lang-son", "quang-ninh"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	name := incident.GetName()

	// Before anyone acknowledges: both wait, from the incident's create_time.
	st := waitStatus(t, nodes["cao-bang"], "cao-bang", name, func(*borderv1.IncidentAcknowledgementStatus) bool { return true })
	if st.GetAcknowledgedCount() != 0 || st.GetWaitingCount() != 2 || len(st.GetProvinces()) != 2 || st.GetProvinces()[0].GetProvince() != "lang-son" {
		t.Fatalf("fresh incident: %v", st)
	}

	ackTime := time.Now().Truncate(time.Second)
	ack, err := nodes["lang-son"].border.CreateIncidentAcknowledgement(ctx, &borderv1.CreateIncidentAcknowledgementRequest{
		Parent:                  "provinces/lang-son",
		IncidentAcknowledgement: &borderv1.IncidentAcknowledgement{BorderIncident: name, AcknowledgeTime: timestamppb.New(ackTime), Note: "Border guard post Tân Thanh informed"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The ministry is not notified: its acknowledgement is its own record,
	// and counts for nobody.
	if _, err := nodes[resource.Ministry].border.CreateIncidentAcknowledgement(ctx, &borderv1.CreateIncidentAcknowledgementRequest{
		Parent: "provinces/mofa", IncidentAcknowledgement: &borderv1.IncidentAcknowledgement{BorderIncident: name},
	}); err != nil {
		t.Fatal(err)
	}

	// Counted from the time it names, but not before the incident was
	// recorded (ackTime, cut to the second, may be).
	counted := ackTime
	if created := incident.GetCreateTime().AsTime(); counted.Before(created) {
		counted = created
	}
	for _, member := range []string{"cao-bang", resource.Ministry, "lang-son"} {
		st := waitStatus(t, nodes[member], member, name, func(st *borderv1.IncidentAcknowledgementStatus) bool { return st.GetAcknowledgedCount() == 1 })
		p := byProvince(st)
		if got := p["lang-son"]; got.GetAcknowledgement() != ack.GetName() || !got.GetAcknowledgeTime().AsTime().Equal(counted) ||
			got.GetWait().AsDuration() != counted.Sub(incident.GetCreateTime().AsTime()) {
			t.Errorf("%s: lang-son %v, want acknowledged by %s at %v", member, got, ack.GetName(), counted)
		}
		if got := p["quang-ninh"]; got.GetAcknowledgement() != "" || got.GetAcknowledgeTime() != nil || got.GetWait().AsDuration() <= 0 {
			t.Errorf("%s: quang-ninh %v, want waiting", member, got)
		}
		if st.GetWaitingCount() != 1 || len(st.GetProvinces()) != 2 {
			t.Errorf("%s: waiting_count %d of %d, want 1 of 2", member, st.GetWaitingCount(), len(st.GetProvinces()))
		}
	}

	// The national view on the ministry's node: incidents still waiting.
	waiting := func() []string {
		resp, err := nodes[resource.Ministry].border.ListIncidentAcknowledgementStatuses(ctx, &borderv1.ListIncidentAcknowledgementStatusesRequest{Parent: "provinces/-", WaitingOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range resp.GetStatuses() {
			out = append(out, s.GetIncident())
		}
		return out
	}
	if got := waiting(); len(got) != 1 || got[0] != name {
		t.Errorf("waiting incidents on the ministry: %v, want [%s]", got, name)
	}

	// Over HTTP, as the gateway serves it.
	req, _ := http.NewRequest("GET", "http://"+nodes[resource.Ministry].http+"/v1/"+name+"/acknowledgement-status", nil)
	req.Header.Set("Authorization", "Bearer "+nodes[resource.Ministry].token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		AcknowledgedCount int `json:"acknowledged_count"`
		WaitingCount      int `json:"waiting_count"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AcknowledgedCount != 1 || body.WaitingCount != 1 {
		t.Errorf("HTTP status: %d %+v %v", resp.StatusCode, body, err)
	}
	resp.Body.Close()

	// An acknowledgement that names a time after it was recorded (2262)
	// counts from when it was recorded: it made a wait of 235 years.
	if _, err := nodes["quang-ninh"].border.CreateIncidentAcknowledgement(ctx, &borderv1.CreateIncidentAcknowledgementRequest{
		Parent: "provinces/quang-ninh", IncidentAcknowledgement: &borderv1.IncidentAcknowledgement{BorderIncident: name,
			AcknowledgeTime: timestamppb.New(time.Date(2262, 4, 1, 0, 0, 0, 0, time.UTC))},
	}); err != nil {
		t.Fatal(err)
	}
	st = waitStatus(t, nodes[resource.Ministry], resource.Ministry, name, func(st *borderv1.IncidentAcknowledgementStatus) bool { return st.GetWaitingCount() == 0 })
	if got := byProvince(st)["quang-ninh"]; got.GetAcknowledgeTime().AsTime().After(time.Now()) || got.GetWait().AsDuration() > time.Hour {
		t.Errorf("quang-ninh's acknowledgement dated 2262: acknowledged at %v after a wait of %v; want when it was recorded",
			got.GetAcknowledgeTime().AsTime(), got.GetWait().AsDuration())
	}
	if got := waiting(); len(got) != 0 {
		t.Errorf("waiting incidents on the ministry after both acknowledged: %v", got)
	}
}

// TestIncidentAcknowledgementRefused: a province acknowledges only another
// province's incident, named as an incident, and only under its own name.
func TestIncidentAcknowledgementRefused(t *testing.T) {
	ctx := context.Background()
	nodes := startNodes(t, "cao-bang", "lang-son")
	ls := nodes["lang-son"].border
	create := func(parent, incident string) error {
		_, err := ls.CreateIncidentAcknowledgement(ctx, &borderv1.CreateIncidentAcknowledgementRequest{
			Parent: parent, IncidentAcknowledgement: &borderv1.IncidentAcknowledgement{BorderIncident: incident}})
		return err
	}
	field, reason := violation(t, create("provinces/lang-son", "provinces/lang-son/border-incidents/own"))
	if field != "incident_acknowledgement.border_incident" || reason != border.ReasonOwnIncident {
		t.Errorf("own incident: violation %s (%s)", field, reason)
	}
	for _, bad := range []string{"provinces/cao-bang/border-gates/ta-lung", "cao-bang/incident", "provinces/nowhere/border-incidents/x", ""} {
		if field, _ := violation(t, create("provinces/lang-son", bad)); field != "incident_acknowledgement.border_incident" {
			t.Errorf("%q: violation of %s", bad, field)
		}
	}
	if err := create("provinces/cao-bang", "provinces/quang-ninh/border-incidents/x"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("lang-son writing under cao-bang: %v, want PERMISSION_DENIED", err)
	}
	ok, err := ls.CreateIncidentAcknowledgement(ctx, &borderv1.CreateIncidentAcknowledgementRequest{
		Parent: "provinces/lang-son", IncidentAcknowledgement: &borderv1.IncidentAcknowledgement{BorderIncident: "provinces/cao-bang/border-incidents/x"}})
	if err != nil {
		t.Fatal(err)
	}
	// Nor may an update turn it into an acknowledgement of its own incident.
	ok.BorderIncident = "provinces/lang-son/border-incidents/own"
	if field, _ := violation(t, func() error {
		_, err := ls.UpdateIncidentAcknowledgement(ctx, &borderv1.UpdateIncidentAcknowledgementRequest{IncidentAcknowledgement: ok})
		return err
	}()); field != "incident_acknowledgement.border_incident" {
		t.Errorf("update to own incident: violation of %s", field)
	}
	if _, err := ls.GetIncidentAcknowledgementStatus(ctx, &borderv1.GetIncidentAcknowledgementStatusRequest{Incident: "provinces/cao-bang/border-gates/x"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("status of a gate: %v, want INVALID_ARGUMENT", err)
	}
	if _, err := ls.GetIncidentAcknowledgementStatus(ctx, &borderv1.GetIncidentAcknowledgementStatusRequest{Incident: "provinces/cao-bang/border-incidents/unknown"}); status.Code(err) != codes.NotFound {
		t.Errorf("status of an incident the node does not hold: %v, want NOT_FOUND", err)
	}
}

// TestOwnProvinceToNotifyIsNotAwaited: an incident stored before its own
// province among notify_provinces was refused (written here straight into
// the store, as an older release did) does not wait for the owner, which
// may not acknowledge its own incident.
func TestOwnProvinceToNotifyIsNotAwaited(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "provex.db"), "cao-bang", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := "provinces/cao-bang/border-incidents/flood"
	incident := &borderv1.BorderIncident{Name: name, DisplayName: "Flood", Category: borderv1.BorderIncident_CATEGORY_NATURAL_DISASTER,
		NotifyProvinces: []string{"cao-bang", "lang-son"}}
	if _, err := db.Write(ctx, storage.Write{Kind: resource.BorderIncidents, Name: name,
		Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return incident, nil }}); err != nil {
		t.Fatal(err)
	}
	st, err := border.New(&collection.Node{Store: db, Member: "cao-bang"}).GetIncidentAcknowledgementStatus(ctx,
		&borderv1.GetIncidentAcknowledgementStatusRequest{Incident: name})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.GetProvinces()) != 1 || st.GetProvinces()[0].GetProvince() != "lang-son" || st.GetWaitingCount() != 1 {
		t.Errorf("status %v; want lang-son alone waited for", st)
	}
}

// TestAudiencesThatCannotReadAreRefused: an incident told to a province
// its visibility keeps from it (a national incident notifying lang-son, a
// restricted one notifying a province not in visible_to) was awaited for
// good on the ministry's national list; an acknowledgement its incident's
// owner may not read (national) showed as given on the ministry's node,
// as awaited on the owner's (an outside review). Both are refused; the
// same records with readers that can read them are taken.
func TestAudiencesThatCannotReadAreRefused(t *testing.T) {
	ctx := context.Background()
	nodes := startNodes(t, "cao-bang", "lang-son")
	cb, ls := nodes["cao-bang"].border, nodes["lang-son"].border
	incident := func(v typev1.Visibility, visibleTo ...string) error {
		_, err := cb.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: "provinces/cao-bang", BorderIncident: &borderv1.BorderIncident{
			DisplayName: "Flood", Category: borderv1.BorderIncident_CATEGORY_NATURAL_DISASTER, NotifyProvinces: []string{"lang-son"},
			OccurTime:  timestamppb.New(time.Date(2025, 8, 1, 6, 0, 0, 0, time.UTC)),
			Visibility: v, VisibleTo: visibleTo}})
		return err
	}
	for _, tc := range []struct {
		v         typev1.Visibility
		visibleTo []string
	}{{typev1.Visibility_VISIBILITY_NATIONAL, nil}, {typev1.Visibility_VISIBILITY_RESTRICTED, []string{"quang-ninh"}}} {
		if field, reason := violation(t, incident(tc.v, tc.visibleTo...)); field != "border_incident.notify_provinces[0]" || reason != collection.ReasonListedCannotRead {
			t.Errorf("%v incident visible to %v notifying lang-son: violation %s (%s)", tc.v, tc.visibleTo, field, reason)
		}
	}
	for _, err := range []error{incident(typev1.Visibility_VISIBILITY_RESTRICTED, "lang-son"), incident(typev1.Visibility_VISIBILITY_PUBLIC)} {
		if err != nil {
			t.Errorf("an incident its notified provinces read: %v", err)
		}
	}
	ack := func(v typev1.Visibility, visibleTo ...string) error {
		_, err := ls.CreateIncidentAcknowledgement(ctx, &borderv1.CreateIncidentAcknowledgementRequest{Parent: "provinces/lang-son",
			IncidentAcknowledgement: &borderv1.IncidentAcknowledgement{BorderIncident: "provinces/cao-bang/border-incidents/x", Visibility: v, VisibleTo: visibleTo}})
		return err
	}
	for _, tc := range []struct {
		v         typev1.Visibility
		visibleTo []string
	}{{typev1.Visibility_VISIBILITY_NATIONAL, nil}, {typev1.Visibility_VISIBILITY_RESTRICTED, []string{"quang-ninh"}}} {
		if field, reason := violation(t, ack(tc.v, tc.visibleTo...)); field != "incident_acknowledgement.visibility" || reason != collection.ReasonAnsweredCannotRead {
			t.Errorf("%v acknowledgement visible to %v: violation %s (%s)", tc.v, tc.visibleTo, field, reason)
		}
	}
	for _, err := range []error{ack(typev1.Visibility_VISIBILITY_RESTRICTED, "cao-bang"), ack(typev1.Visibility_VISIBILITY_PUBLIC)} {
		if err != nil {
			t.Errorf("an acknowledgement its incident's owner reads: %v", err)
		}
	}
}

// TestAnAnswerIsNoMoreVisibleThanWhatItAnswers: an acknowledgement of an
// incident restricted to the province told was public by default, and
// every node then read the incident's name, its owner and the note (an
// outside review). On the node that holds the incident, an answer more
// members may read than the incident is refused, on Create and Update;
// one its readers alone read is taken.
func TestAnAnswerIsNoMoreVisibleThanWhatItAnswers(t *testing.T) {
	ctx := context.Background()
	nodes := startNodes(t, "cao-bang", "lang-son", "quang-ninh")
	cb, ls := nodes["cao-bang"].border, nodes["lang-son"].border
	// An acknowledgement made before its incident reached lang-son's node
	// is not checked: nothing there says who reads the incident.
	early := &borderv1.CreateIncidentAcknowledgementRequest{Parent: "provinces/lang-son", RequestId: "early-ack",
		IncidentAcknowledgement: &borderv1.IncidentAcknowledgement{BorderIncident: "provinces/cao-bang/border-incidents/marker-836", Note: "heard of it"}}
	earlyAck, err := ls.CreateIncidentAcknowledgement(ctx, early)
	if err != nil {
		t.Fatal(err)
	}
	incident, err := cb.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: "provinces/cao-bang", BorderIncidentId: "marker-836", BorderIncident: &borderv1.BorderIncident{
		DisplayName: "Marker 836 damaged", Category: borderv1.BorderIncident_CATEGORY_MARKER_DAMAGE, NotifyProvinces: []string{"lang-son"},
		OccurTime:  timestamppb.New(time.Date(2025, 8, 1, 6, 0, 0, 0, time.UTC)),
		Visibility: typev1.Visibility_VISIBILITY_RESTRICTED, VisibleTo: []string{"lang-son"}}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := ls.GetBorderIncident(ctx, &borderv1.GetBorderIncidentRequest{Name: incident.GetName()}); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("lang-son never held the incident: %v", err)
		}
	}
	ack := func(v typev1.Visibility, visibleTo ...string) *borderv1.IncidentAcknowledgement {
		return &borderv1.IncidentAcknowledgement{BorderIncident: incident.GetName(), Note: "post informed", Visibility: v, VisibleTo: visibleTo}
	}
	for _, a := range []*borderv1.IncidentAcknowledgement{ack(typev1.Visibility_VISIBILITY_UNSPECIFIED), ack(typev1.Visibility_VISIBILITY_PUBLIC),
		ack(typev1.Visibility_VISIBILITY_RESTRICTED, "cao-bang", "quang-ninh")} {
		_, err := ls.CreateIncidentAcknowledgement(ctx, &borderv1.CreateIncidentAcknowledgementRequest{Parent: "provinces/lang-son", IncidentAcknowledgement: a})
		if field, reason := violation(t, err); field != "incident_acknowledgement.visibility" || reason != collection.ReasonWiderThanAnswered {
			t.Errorf("%v acknowledgement visible to %v: violation %s (%s)", a.GetVisibility(), a.GetVisibleTo(), field, reason)
		}
	}
	kept, err := ls.CreateIncidentAcknowledgement(ctx, &borderv1.CreateIncidentAcknowledgementRequest{Parent: "provinces/lang-son",
		IncidentAcknowledgement: ack(typev1.Visibility_VISIBILITY_RESTRICTED, "cao-bang")})
	if err != nil {
		t.Fatalf("an acknowledgement the incident's readers alone read: %v", err)
	}
	// A retry of the early create with its request id returns what it
	// stored, though the incident now held would refuse it (an outside
	// review); deleted, it does not come back public.
	retried, err := ls.CreateIncidentAcknowledgement(ctx, early)
	if err != nil || retried.GetName() != earlyAck.GetName() {
		t.Fatalf("a retry of a stored create with its request id: %v, %v; want %s", retried.GetName(), err, earlyAck.GetName())
	}
	if _, err := ls.DeleteIncidentAcknowledgement(ctx, &borderv1.DeleteIncidentAcknowledgementRequest{Name: earlyAck.GetName()}); err != nil {
		t.Fatal(err)
	}
	_, err = ls.UndeleteIncidentAcknowledgement(ctx, &borderv1.UndeleteIncidentAcknowledgementRequest{Name: earlyAck.GetName()})
	if field, reason := violation(t, err); field != "incident_acknowledgement.visibility" || reason != collection.ReasonWiderThanAnswered {
		t.Errorf("an undelete of a public acknowledgement of the restricted incident: violation %s (%s)", field, reason)
	}
	widened := proto.Clone(kept).(*borderv1.IncidentAcknowledgement)
	widened.Visibility, widened.VisibleTo = typev1.Visibility_VISIBILITY_PUBLIC, nil
	_, err = ls.UpdateIncidentAcknowledgement(ctx, &borderv1.UpdateIncidentAcknowledgementRequest{IncidentAcknowledgement: widened,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"visibility", "visible_to"}}})
	if field, reason := violation(t, err); field != "incident_acknowledgement.visibility" || reason != collection.ReasonWiderThanAnswered {
		t.Errorf("an update making the acknowledgement public: violation %s (%s)", field, reason)
	}
}

// TestAcknowledgementCountsFromTheIncidentOn: an acknowledgement dated
// before its incident was recorded (2020, for an incident of today) was
// shown as given then, with no wait; it counts from the incident's
// recording (an outside review).
func TestAcknowledgementCountsFromTheIncidentOn(t *testing.T) {
	ctx := context.Background()
	nodes := startNodes(t, "cao-bang", "lang-son")
	incident, err := nodes["cao-bang"].border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: "provinces/cao-bang", BorderIncident: &borderv1.BorderIncident{
		DisplayName: "Flood", Category: borderv1.BorderIncident_CATEGORY_NATURAL_DISASTER, NotifyProvinces: []string{"lang-son"},
		OccurTime: timestamppb.New(time.Date(2025, 8, 1, 6, 0, 0, 0, time.UTC))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes["lang-son"].border.CreateIncidentAcknowledgement(ctx, &borderv1.CreateIncidentAcknowledgementRequest{Parent: "provinces/lang-son",
		IncidentAcknowledgement: &borderv1.IncidentAcknowledgement{BorderIncident: incident.GetName(), AcknowledgeTime: timestamppb.New(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))}}); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, nodes["cao-bang"], "cao-bang", incident.GetName(), func(st *borderv1.IncidentAcknowledgementStatus) bool { return st.GetAcknowledgedCount() == 1 })
	if got := byProvince(st)["lang-son"]; !got.GetAcknowledgeTime().AsTime().Equal(incident.GetCreateTime().AsTime()) || got.GetWait().AsDuration() != 0 {
		t.Errorf("an acknowledgement dated 2020: %v, want counted at the incident's create_time %v", got, incident.GetCreateTime().AsTime())
	}
}

// TestAnAnswerIsNotMovedToAnotherRecord: an acknowledgement kept and moved
// to a newer incident (update_mask border_incident) showed as given when
// it was first made, before the new incident's wait began (an outside
// review); the answered record cannot change.
func TestAnAnswerIsNotMovedToAnotherRecord(t *testing.T) {
	ctx := context.Background()
	nodes := startNodes(t, "cao-bang", "lang-son")
	var incidents []string
	for _, name := range []string{"Flood", "Landslide"} {
		in, err := nodes["cao-bang"].border.CreateBorderIncident(ctx, &borderv1.CreateBorderIncidentRequest{Parent: "provinces/cao-bang", BorderIncident: &borderv1.BorderIncident{
			DisplayName: name, Category: borderv1.BorderIncident_CATEGORY_NATURAL_DISASTER, NotifyProvinces: []string{"lang-son"},
			OccurTime: timestamppb.New(time.Date(2025, 8, 1, 6, 0, 0, 0, time.UTC))}})
		if err != nil {
			t.Fatal(err)
		}
		incidents = append(incidents, in.GetName())
	}
	ack, err := nodes["lang-son"].border.CreateIncidentAcknowledgement(ctx, &borderv1.CreateIncidentAcknowledgementRequest{Parent: "provinces/lang-son",
		IncidentAcknowledgement: &borderv1.IncidentAcknowledgement{BorderIncident: incidents[0], Note: "seen"}})
	if err != nil {
		t.Fatal(err)
	}
	moved := &borderv1.IncidentAcknowledgement{Name: ack.GetName(), BorderIncident: incidents[1]}
	_, err = nodes["lang-son"].border.UpdateIncidentAcknowledgement(ctx, &borderv1.UpdateIncidentAcknowledgementRequest{IncidentAcknowledgement: moved, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"border_incident"}}})
	if field, reason := violation(t, err); field != "incident_acknowledgement.border_incident" || reason != collection.ReasonAnsweredChanged {
		t.Errorf("an acknowledgement moved to another incident: violation %s (%s)", field, reason)
	}
	// Its other fields still change.
	note := &borderv1.IncidentAcknowledgement{Name: ack.GetName(), Note: "seen, teams sent"}
	if _, err := nodes["lang-son"].border.UpdateIncidentAcknowledgement(ctx, &borderv1.UpdateIncidentAcknowledgementRequest{IncidentAcknowledgement: note, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"note"}}}); err != nil {
		t.Errorf("the acknowledgement's note: %v", err)
	}
}
