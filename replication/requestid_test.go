package replication_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	auditv1 "github.com/provex/provex/gen/go/provex/audit/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/internal/requestid"
	"github.com/provex/provex/internal/testlog"
)

// servedLine matches the log line of a call of method a node served, with
// its request id.
func servedLine(method, caller, id string) *regexp.Regexp {
	return regexp.MustCompile(`msg=call .*method=` + regexp.QuoteMeta(method) + ` code=OK .*request_id=` + regexp.QuoteMeta(id) + ` caller=` + regexp.QuoteMeta(caller) + ` `)
}

// TestPullIsTracedUnderOneRequestID: a record written on one node and
// pulled by another is audited there (sync.pull, the run of the origin's
// entries the pull applied) under the request id of
// the pull that brought it, and the node it was pulled from logged the
// Pull it served under the same id, as the puller logged its pull: one
// exchange is followed across both nodes by one id (an outside review
// found the pull's audit records without any, and the served Pull under an
// id the puller never saw).
func TestPullIsTracedUnderOneRequestID(t *testing.T) {
	f := newFederation(t, []string{p1, p2}, map[string][]string{p2: {p1}})
	var originLogs, pullerLogs testlog.Buffer
	f.nodes[p1].logs, f.nodes[p1].logLevel = &originLogs, slog.LevelDebug
	f.nodes[p2].logs, f.nodes[p2].logLevel = &pullerLogs, slog.LevelDebug
	f.startAll()
	createAgreements(t, f.nodes[p1], 1, "traced")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var pulled *auditv1.AuditEntry
	eventually(t, 20*time.Second, func() (bool, string) {
		resp, err := auditv1.NewAuditServiceClient(f.nodes[p2].client.Conn()).ListAuditEntries(ctx, &auditv1.ListAuditEntriesRequest{Actor: "peer:" + p1})
		if err != nil {
			return false, err.Error()
		}
		for _, e := range resp.GetEntries() {
			if e.GetAction() == "sync.pull" {
				pulled = e
				return true, ""
			}
		}
		return false, "no sync.pull record on " + p2
	})
	id := pulled.GetRequestId()
	if !requestid.Sane(id) || pulled.GetActor() != "peer:"+p1 {
		t.Fatalf("%s audited the pull as %v: want actor peer:%s and a request id", p2, pulled, p1)
	}
	served := servedLine(syncv1.SyncService_Pull_FullMethodName, "peer:"+p2, id)
	eventually(t, 10*time.Second, func() (bool, string) {
		return served.MatchString(originLogs.String()), p1 + " logged no Pull served to " + p2 + " under request id " + id + ":\n" + originLogs.String()
	})
	if !strings.Contains(pullerLogs.String(), `msg=pulled component=sync peer=`+p1+` request_id=`+id+` `) {
		t.Errorf("%s did not log its pull under request id %s:\n%s", p2, id, pullerLogs.String())
	}
}

// TestPeerRequestIDThatIsNotSaneIsReplaced: a peer's request id is taken
// as an API caller's is, only when sane: one that would break a log line
// is replaced by one the node makes, which answers the call and names it
// in the log.
func TestPeerRequestIDThatIsNotSaneIsReplaced(t *testing.T) {
	f := newFederation(t, []string{p1, p2}, map[string][]string{})
	var logs testlog.Buffer
	f.nodes[p1].logs, f.nodes[p1].logLevel = &logs, slog.LevelDebug
	n := f.start(p1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, hostile := range []string{`forged request_id=sane`, strings.Repeat("f", 65)} {
		stream, err := f.peerClient(t, n, p2).Pull(metadata.AppendToOutgoingContext(ctx, requestid.Header, hostile), &syncv1.PullRequest{Member: p2})
		if err != nil {
			t.Fatal(err)
		}
		header, err := stream.Header()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err = stream.Recv(); err != nil {
				break
			}
		}
		if !errors.Is(err, io.EOF) {
			t.Fatalf("pull with request id %q: %v", hostile, err)
		}
		ids := header.Get(requestid.Header)
		if len(ids) != 1 || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(ids[0]) {
			t.Fatalf("pull with request id %q answered with x-request-id %q, want one the node made", hostile, ids)
		}
		served := servedLine(syncv1.SyncService_Pull_FullMethodName, "peer:"+p2, ids[0])
		eventually(t, 10*time.Second, func() (bool, string) {
			return served.MatchString(logs.String()), "no Pull logged under request id " + ids[0] + ":\n" + logs.String()
		})
		if strings.Contains(logs.String(), hostile) {
			t.Errorf("the peer's request id %q reached the log:\n%s", hostile, logs.String())
		}
	}
}
