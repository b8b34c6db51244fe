package replication_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/client"
	auditv1 "github.com/provex/provex/gen/go/provex/audit/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
)

// TestReadsOfConfidentialRecordsAreAudited: on a real federation (a
// province, a province a record is restricted to, the ministry), viewers
// read public, national and restricted records through the API; each
// node's audit trail then says who read which confidential record, when
// and in which call, and nothing of public reads, until the node is
// restarted auditing every read. Sync of the same records (sealed
// entries) is not a read. Every trail verifies.
func TestReadsOfConfidentialRecordsAreAudited(t *testing.T) {
	members := []string{p1, p2, mofa}
	f := newFederation(t, members, mesh(members))
	f.startAll()
	pub := createVisible(t, f.nodes[p1], "pub", typev1.Visibility_VISIBILITY_PUBLIC).GetName()
	nat := createVisible(t, f.nodes[p1], "nat", typev1.Visibility_VISIBILITY_NATIONAL).GetName()
	res := createVisible(t, f.nodes[p1], "res", typev1.Visibility_VISIBILITY_RESTRICTED, p2).GetName()
	f.waitConverged(t, map[string]uint64{p1: 3}, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// viewer is a client of a new viewer token of member's node, and the
	// identity the audit trail knows it by.
	viewer := func(member string) (*client.Client, string) {
		t.Helper()
		n := f.nodes[member]
		token, err := n.node.IssueToken(ctx, auth.RoleViewer, "reader", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.Dial(n.node.GRPCAddr(), client.WithToken(token))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		who, err := c.Node.GetCaller(ctx, &nodev1.GetCallerRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return c, who.GetIdentity()
	}
	get := func(c *client.Client, name string) {
		t.Helper()
		if _, err := c.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: name}); err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
	}
	const (
		getMethod    = "/provex.twinning.v1.TwinningService/GetAgreement"
		listMethod   = "/provex.twinning.v1.TwinningService/ListAgreements"
		searchMethod = "/provex.national.v1.NationalService/SearchRecords"
	)
	type read = auditedRead
	reads := func(n *testNode, resource string, want []read) {
		t.Helper()
		wantReads(ctx, t, n, resource, want)
	}

	// A viewer of the owner reads all three records, then lists them.
	v1, id1 := viewer(p1)
	get(v1, pub)
	get(v1, nat)
	get(v1, res)
	if l, err := v1.Twinning.ListAgreements(ctx, &twinningv1.ListAgreementsRequest{Parent: "provinces/-"}); err != nil || len(l.GetAgreements()) != 3 {
		t.Fatalf("list on %s: %v, %v", p1, l, err)
	}
	// The province the record is restricted to reads it and the public
	// one; the ministry reads the national record and searches them all.
	v2, id2 := viewer(p2)
	get(v2, res)
	get(v2, pub)
	vm, idm := viewer(mofa)
	get(vm, nat)
	found, err := nationalv1.NewNationalServiceClient(vm.Conn()).SearchRecords(ctx, &nationalv1.SearchRecordsRequest{Collections: []string{"agreements"}})
	if err != nil || len(found.GetRecords()) != 3 {
		t.Fatalf("search on %s: %v, %v", mofa, found, err)
	}

	reads(f.nodes[p1], "", []read{
		{id1, getMethod, nat, fmt.Sprint([]string{nat})},
		{id1, getMethod, res, fmt.Sprint([]string{res})},
		{id1, listMethod, "provinces/-/agreements", fmt.Sprint([]string{nat, res})},
	})
	reads(f.nodes[p2], "", []read{{id2, getMethod, res, fmt.Sprint([]string{res})}})
	reads(f.nodes[mofa], "", []read{
		{idm, getMethod, nat, fmt.Sprint([]string{nat})},
		{idm, searchMethod, "provinces/-/agreements", fmt.Sprint([]string{nat, res})},
	})
	// Who saw the national record, on the ministry's node: asked by its
	// name.
	reads(f.nodes[mofa], nat, []read{
		{idm, getMethod, nat, fmt.Sprint([]string{nat})},
		{idm, searchMethod, "provinces/-/agreements", fmt.Sprint([]string{nat, res})},
	})
	// Read records commit in the order of the reads, so the public read,
	// made before those found above, would be there by now.
	reads(f.nodes[p1], pub, nil)

	// Audit every read: the public record's reads are recorded too.
	f.stop(p1)
	f.nodes[p1].auditAllReads = true
	f.start(p1)
	v1, id1 = viewer(p1)
	get(v1, pub)
	reads(f.nodes[p1], pub, []read{{id1, getMethod, pub, fmt.Sprint([]string{pub})}})

	for _, m := range members {
		v, err := auditv1.NewAuditServiceClient(f.nodes[m].client.Conn()).VerifyAuditLog(ctx, &auditv1.VerifyAuditLogRequest{})
		if err != nil || !v.GetOk() {
			t.Errorf("%s: VerifyAuditLog = %v, %v", m, v, err)
		}
	}
}

// auditedRead is a read record of a trail: who, in which call, what the
// call named and the records it read.
type auditedRead struct{ actor, action, resource, names string }

// wantReads waits until n's trail holds want reads (of resource, when set)
// and checks them, with their time and request id.
func wantReads(ctx context.Context, t *testing.T, n *testNode, resource string, want []auditedRead) {
	t.Helper()
	var got []auditedRead
	eventually(t, 10*time.Second, func() (bool, string) {
		resp, err := auditv1.NewAuditServiceClient(n.client.Conn()).ListAuditEntries(ctx, &auditv1.ListAuditEntriesRequest{Resource: resource, PageSize: 1000})
		if err != nil {
			return false, err.Error()
		}
		got = nil
		for _, e := range resp.GetEntries() {
			if !e.GetRead() {
				continue
			}
			if e.GetRequestId() == "" || time.Since(e.GetTime().AsTime()) > time.Minute || e.GetChangeOrigin() != "" {
				t.Errorf("%s: read entry %v lacks its time or request id, or names changes", n.member, e)
			}
			got = append(got, auditedRead{e.GetActor(), e.GetAction(), e.GetResource(), fmt.Sprint(e.GetRecordsRead())})
		}
		return len(got) >= len(want), fmt.Sprintf("%s: reads %+v, want %+v", n.member, got, want)
	})
	if !slices.Equal(got, want) {
		t.Errorf("%s: reads of %q: got %+v, want %+v", n.member, resource, got, want)
	}
}

// TestWritesThatReturnStoredRecordsAreAuditedReads: a retried create (the
// same request_id) and an update that changes nothing write nothing and
// return the record as stored, national data included. Each is a read of
// that record, recorded in the trail as a Get of it would be: for the
// national record always, for the public one only when every read is
// audited.
func TestWritesThatReturnStoredRecordsAreAuditedReads(t *testing.T) {
	f := newFederation(t, []string{p1}, nil)
	n := f.start(p1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const (
		createMethod = "/provex.twinning.v1.TwinningService/CreateAgreement"
		updateMethod = "/provex.twinning.v1.TwinningService/UpdateAgreement"
	)
	caller := func() string {
		t.Helper()
		who, err := n.client.Node.GetCaller(ctx, &nodev1.GetCallerRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return who.GetIdentity()
	}
	create := func(id string, v typev1.Visibility) *twinningv1.Agreement {
		t.Helper()
		a, err := n.client.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
			Parent: "provinces/" + p1, AgreementId: id, RequestId: "create-" + id,
			Agreement: &twinningv1.Agreement{DisplayName: "agreement " + id, Kind: twinningv1.Agreement_KIND_MOU, Visibility: v},
		})
		if err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
		return a
	}
	// same makes the call that writes nothing and checks it returned the
	// record as stored.
	same := func(stored *twinningv1.Agreement, call func() (*twinningv1.Agreement, error)) {
		t.Helper()
		got, err := call()
		if err != nil || !proto.Equal(got, stored) {
			t.Fatalf("%s: got %v, %v; want it as stored, %v", stored.GetName(), got, err, stored)
		}
	}
	retry := func(stored *twinningv1.Agreement) {
		t.Helper()
		id := strings.TrimPrefix(stored.GetName(), "provinces/"+p1+"/agreements/")
		same(stored, func() (*twinningv1.Agreement, error) { return create(id, stored.GetVisibility()), nil })
	}
	noop := func(stored *twinningv1.Agreement) {
		t.Helper()
		same(stored, func() (*twinningv1.Agreement, error) {
			// No mask and no fields but the name: PATCH with {}.
			return n.client.Twinning.UpdateAgreement(ctx, &twinningv1.UpdateAgreementRequest{Agreement: &twinningv1.Agreement{Name: stored.GetName()}})
		})
	}

	pub := create("pub", typev1.Visibility_VISIBILITY_PUBLIC)
	nat := create("nat", typev1.Visibility_VISIBILITY_NATIONAL)
	retry(pub)
	retry(nat)
	noop(pub)
	noop(nat)
	id := caller()
	natName := fmt.Sprint([]string{nat.GetName()})
	wantReads(ctx, t, n, nat.GetName(), []auditedRead{
		{id, createMethod, nat.GetName(), natName},
		{id, updateMethod, nat.GetName(), natName},
	})
	// Read records commit in order, so the public ones would be there.
	wantReads(ctx, t, n, pub.GetName(), nil)

	f.stop(p1)
	n.auditAllReads = true
	f.start(p1)
	retry(pub)
	noop(pub)
	pubName := fmt.Sprint([]string{pub.GetName()})
	id = caller()
	wantReads(ctx, t, n, pub.GetName(), []auditedRead{
		{id, createMethod, pub.GetName(), pubName},
		{id, updateMethod, pub.GetName(), pubName},
	})
	if v, err := auditv1.NewAuditServiceClient(n.client.Conn()).VerifyAuditLog(ctx, &auditv1.VerifyAuditLogRequest{}); err != nil || !v.GetOk() {
		t.Errorf("VerifyAuditLog = %v, %v", v, err)
	}
}
