package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/client"
	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
)

// TestReflectionAndHealth lists the services through gRPC server reflection
// and checks the health service and NodeService.
func TestReflectionAndHealth(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)

	stream, err := reflectionpb.NewServerReflectionClient(tn.Conn()).ServerReflectionInfo(ctx)
	mustf(t, err, "reflection stream")
	mustf(t, stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}), "send ListServices")
	resp, err := stream.Recv()
	mustf(t, err, "receive ListServices")
	var services []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	for _, want := range []string{
		"provex.twinning.v1.TwinningService",
		"provex.border.v1.BorderService",
		"provex.investment.v1.InvestmentService",
		"provex.node.v1.NodeService",
		"grpc.health.v1.Health",
	} {
		if !slices.Contains(services, want) {
			t.Errorf("reflection lists %q, missing %s", services, want)
		}
	}
	// The file descriptors are served too, so tools can call by name.
	mustf(t, stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{
		FileContainingSymbol: "provex.twinning.v1.TwinningService",
	}}), "send FileContainingSymbol")
	resp, err = stream.Recv()
	mustf(t, err, "receive FileContainingSymbol")
	if len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("no file descriptor for TwinningService: %v", resp)
	}
	mustf(t, stream.CloseSend(), "close reflection stream")

	health := healthpb.NewHealthClient(tn.Conn())
	hr, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health Check = %v, %v; want SERVING", hr, err)
	}
	_, err = health.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	wantCode(t, err, codes.NotFound, "health of an unknown service")

	info, err := tn.Node.GetNodeInfo(ctx, &nodev1.GetNodeInfoRequest{})
	if err != nil || info.GetMember() != "cao-bang" || info.GetRole() != nodev1.Role_ROLE_PROVINCE || len(info.GetCollections()) != len(resource.Kinds()) {
		t.Errorf("GetNodeInfo = %v, %v", info, err)
	}
	provinces, err := tn.Node.ListProvinces(ctx, &nodev1.ListProvincesRequest{})
	if err != nil || len(provinces.GetProvinces()) != 34 {
		t.Errorf("ListProvinces: %d provinces, %v; want 34", len(provinces.GetProvinces()), err)
	}
}

// TestNodeInfoRuntimeForAdmins: GetNodeInfo gives admin tokens the node's
// goroutine count (what bench soak watches) and keeps it from viewers and
// editors.
func TestNodeInfoRuntimeForAdmins(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	info, err := tn.Node.GetNodeInfo(ctx, &nodev1.GetNodeInfoRequest{})
	if err != nil || info.GetRuntime().GetGoroutines() <= 0 {
		t.Errorf("admin GetNodeInfo runtime = %v, %v; want a goroutine count", info.GetRuntime(), err)
	}
	for _, role := range []auth.Role{auth.RoleViewer, auth.RoleEditor} {
		info, err := dialAs(t, tn.Srv.GRPCAddr(), issue(t, tn, role)).Node.GetNodeInfo(ctx, &nodev1.GetNodeInfoRequest{})
		if err != nil || info.GetMember() != "cao-bang" || info.Runtime != nil {
			t.Errorf("%s GetNodeInfo = %v, %v; want the node without its runtime", role, info, err)
		}
	}
}

// TestGracefulShutdown stops a node while 50 Creates are in flight; every
// Create that returned OK must be stored when a node restarts on the same
// data directory, and retries with the same request ids must complete the
// set without duplicates.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	tn := startNodeAt(t, "cao-bang", dir)
	ctx := testCtx(t)

	const n = 50
	type result struct {
		rec *twinningv1.Agreement
		err error
	}
	results := make([]result, n)
	var (
		wg        sync.WaitGroup
		firstOK   = make(chan struct{})
		firstOnce sync.Once
		start     = make(chan struct{})
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Stagger the calls so some are answered before the stop,
			// some are in flight and some arrive after.
			time.Sleep(time.Duration(i) * 200 * time.Microsecond)
			a, err := tn.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
				Parent: tn.parent(), RequestId: fmt.Sprintf("shutdown-%d", i), Agreement: newAgreement(fmt.Sprintf("shutdown %d", i)),
			})
			results[i] = result{a, err}
			if err == nil {
				firstOnce.Do(func() { close(firstOK) })
			}
		}()
	}
	close(start)
	select {
	case <-firstOK:
	case <-time.After(10 * time.Second):
		t.Fatal("no Create succeeded")
	}
	stopped := make(chan struct{})
	go func() {
		tn.Stop(t)
		close(stopped)
	}()
	wg.Wait()
	<-stopped

	ok := 0
	for i, r := range results {
		switch {
		case r.err == nil:
			ok++
		case codeOf(r.err) == codes.Unavailable || codeOf(r.err) == codes.Canceled:
		default:
			t.Errorf("create %d failed with %v, want OK or UNAVAILABLE", i, r.err)
		}
	}
	t.Logf("%d of %d creates succeeded before the stop", ok, n)

	// Restart on the same data directory.
	tn2 := startNodeAt(t, "cao-bang", dir)
	for i, r := range results {
		if r.err != nil {
			continue
		}
		got, err := tn2.Twinning.GetAgreement(ctx, &twinningv1.GetAgreementRequest{Name: r.rec.Name})
		if err != nil || !proto.Equal(got, r.rec) {
			t.Errorf("create %d returned OK but after restart Get = %v, %v; want %v", i, got, err, r.rec)
		}
	}
	stored, err := listAll(ctx, tn2.Client, tn2.parent(), resource.Agreements, client.ListOptions{})
	mustf(t, err, "list after restart")
	if len(stored) < ok || len(stored) > n {
		t.Errorf("%d records after restart; %d creates succeeded of %d", len(stored), ok, n)
	}
	// Retrying every request completes the set: acknowledged ones return
	// the same record, and nothing is created twice.
	names := map[string]bool{}
	for i := range n {
		a, err := tn2.Twinning.CreateAgreement(ctx, &twinningv1.CreateAgreementRequest{
			Parent: tn2.parent(), RequestId: fmt.Sprintf("shutdown-%d", i), Agreement: newAgreement(fmt.Sprintf("shutdown %d", i)),
		})
		if err != nil {
			t.Errorf("retry %d: %v", i, err)
			continue
		}
		if r := results[i]; r.err == nil && a.Name != r.rec.Name {
			t.Errorf("retry %d gave %s, the first call %s", i, a.Name, r.rec.Name)
		}
		if a.DisplayName != fmt.Sprintf("shutdown %d", i) {
			t.Errorf("retry %d returned %q", i, a.DisplayName)
		}
		names[a.Name] = true
	}
	stored, err = listAll(ctx, tn2.Client, tn2.parent(), resource.Agreements, client.ListOptions{})
	mustf(t, err, "list after retries")
	if len(names) != n || len(stored) != n {
		t.Errorf("after retries: %d distinct names, %d records; want %d", len(names), len(stored), n)
	}

	// A stopped node refuses calls.
	old, err := client.Dial(tn.Srv.GRPCAddr(), client.WithToken(tn.Token))
	mustf(t, err, "dial the stopped node")
	defer old.Close()
	shortCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = old.Twinning.GetAgreement(shortCtx, &twinningv1.GetAgreementRequest{Name: "provinces/cao-bang/agreements/x"})
	if c := codeOf(err); c != codes.Unavailable && c != codes.DeadlineExceeded {
		t.Errorf("call to a stopped node: %v, want UNAVAILABLE", err)
	}
}
