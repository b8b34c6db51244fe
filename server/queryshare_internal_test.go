package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/provex/provex/auth"
	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
)

// TestQueriesShareByIdentity: an identity runs at most QueriesPerIdentity
// queries at once; its next waits, while another identity's queries and
// its own Gets run; the one waiting starts when one of its own ends, and
// one whose deadline comes first is DEADLINE_EXCEEDED without running.
func TestQueriesShareByIdentity(t *testing.T) {
	ic := &interceptors{guard: &guard{policy: auth.DefaultPolicy()}, queries: newQueryShare(2)}
	list := &grpc.UnaryServerInfo{FullMethod: "/provex.twinning.v1.TwinningService/ListAgreements"}
	get := &grpc.UnaryServerInfo{FullMethod: "/provex.twinning.v1.TwinningService/GetAgreement"}
	as := func(token string) context.Context {
		return auth.WithIdentity(context.Background(), auth.Identity{Kind: auth.KindUser, Member: "cao-bang", Role: auth.RoleViewer, TokenID: token})
	}
	hold := make(chan struct{})
	started := make(chan string, 16)
	call := func(ctx context.Context, info *grpc.UnaryServerInfo, what string) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := ic.unaryQueryShare(ctx, nil, info, func(context.Context, any) (any, error) {
				started <- what
				<-hold
				return nil, nil
			})
			done <- err
		}()
		return done
	}
	waitStart := func(want string) {
		t.Helper()
		select {
		case got := <-started:
			if got != want {
				t.Fatalf("%s started, want %s", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not start", want)
		}
	}
	first := call(as("a"), list, "a1")
	waitStart("a1")
	call(as("a"), list, "a2")
	waitStart("a2")
	call(as("a"), list, "a3") // waits: a runs two
	call(as("b"), list, "b1")
	waitStart("b1")
	call(as("a"), get, "a-get")
	waitStart("a-get")
	late, cancel := context.WithCancel(as("a"))
	cancel()
	if err := <-call(late, list, "a-late"); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("a query whose context ended while its identity ran two: %v, want DEADLINE_EXCEEDED", err)
	}
	a := auth.Identity{Kind: auth.KindUser, Member: "cao-bang", Role: auth.RoleViewer, TokenID: "a"}.String()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		ic.queries.mu.Lock()
		users := ic.queries.ids[a].users
		ic.queries.mu.Unlock()
		if users == 3 {
			break // a1, a2 and a3, which waits or runs
		}
		if time.Now().After(deadline) {
			t.Fatalf("a's calls: %d, want 3", users)
		}
	}
	select {
	case got := <-started:
		t.Fatalf("%s started while a ran two queries", got)
	case <-time.After(300 * time.Millisecond):
	}
	// Ending every held call lets a3 run (and end) too.
	close(hold)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	waitStart("a3")
}

// TestQueryPastItsDeadlineIsNotBlamedOnOthers: a query whose deadline has
// passed when it comes is DEADLINE_EXCEEDED saying so, never that its
// identity's other queries took its turn, when none runs (a select with a
// free slot and an ended context picked either: an outside review).
func TestQueryPastItsDeadlineIsNotBlamedOnOthers(t *testing.T) {
	q := newQueryShare(2)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for range 50 {
		_, err := q.acquire(ended, "a")
		if status.Code(err) != codes.DeadlineExceeded || status.Convert(err).Message() != "the call's deadline passed before its query began" {
			t.Fatalf("a query whose deadline had passed, none other running: %v", err)
		}
	}
	if len(q.ids) != 0 {
		t.Errorf("identities left counted: %d", len(q.ids))
	}
}

// TestWhatIsAQuery: the reads that share an identity's query slots are
// those whose cost the caller sets, Gets of workflow status included.
func TestWhatIsAQuery(t *testing.T) {
	for method, want := range map[string]bool{
		twinningv1.TwinningService_GetAgreement_FullMethodName:                 false,
		borderv1.BorderService_GetBorderGate_FullMethodName:                    false,
		syncv1.SyncService_GetSyncState_FullMethodName:                         false,
		twinningv1.TwinningService_ListAgreements_FullMethodName:               true,
		nationalv1.NationalService_SearchRecords_FullMethodName:                true,
		borderv1.BorderService_GetIncidentAcknowledgementStatus_FullMethodName: true,
		nationalv1.NationalService_GetInformationRequestStatus_FullMethodName:  true,
		auth.MethodVerifyAuditLog:                                              true,
		auth.MethodListAuditEntries:                                            false,
	} {
		if got := isQuery(auth.DefaultPolicy().Requirement(method), method); got != want {
			t.Errorf("isQuery(%s) = %v, want %v", method, got, want)
		}
	}
}
