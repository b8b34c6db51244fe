package server_test

import (
	"crypto/tls"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/provex/provex/auth"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
)

// TestRefusalsSayWhatWorksOnTheirEndpoint: a refusal tells the caller what
// would be served, true of the endpoint that answers it. The ministry's
// node certificate on cao-bang's API (TLS, which asks for no certificate)
// asking to Pull was told to connect with a node certificate, which it had;
// it is told the peer endpoint is where. The same certificate on the peer
// endpoint, with an admin token, asking for GetSyncState was told it needs
// a bearer token, which it sent; it is told the API address is where, and
// which token (an outside review).
func TestRefusalsSayWhatWorksOnTheirEndpoint(t *testing.T) {
	p := newPair(t, server.Limits{})
	p.tlsAPI = true
	province := p.start("cao-bang")
	ctx := testCtx(t)
	ministry, err := p.ca.IssueTLS(resource.Ministry, time.Now())
	mustf(t, err, "issue the ministry's certificate")
	dial := func(addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
		mustf(t, err, "dial %s", addr)
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	pull := func(conn *grpc.ClientConn) error {
		stream, err := syncv1.NewSyncServiceClient(conn).Pull(ctx, &syncv1.PullRequest{Member: resource.Ministry})
		if err != nil {
			return err
		}
		for {
			if _, err := stream.Recv(); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}

	api := dial(province.srv.GRPCAddr(), credentials.NewTLS(&tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{ministry}}))
	wantDenied(t, pull(api), codes.Unauthenticated, "a node certificate's Pull on the API",
		"on a node's peer endpoint (its member's address in the federation manifest)", "this API endpoint takes bearer tokens, not certificates")
	adminOnAPI := metadata.AppendToOutgoingContext(ctx, auth.AuthorizationKey, "Bearer "+province.token)
	if _, err := syncv1.NewSyncServiceClient(api).GetSyncState(adminOnAPI, &syncv1.GetSyncStateRequest{}); err != nil {
		t.Errorf("GetSyncState with an admin token on the API: %v", err)
	}

	peer := dial(province.srv.PeerAddr(), credentials.NewTLS(pki.PeerClientConfig(ministry, p.pool, "cao-bang")))
	if err := pull(peer); err != nil {
		t.Errorf("the ministry's Pull on the peer endpoint: %v", err)
	}
	_, err = syncv1.NewSyncServiceClient(peer).GetSyncState(adminOnAPI, &syncv1.GetSyncStateRequest{})
	wantDenied(t, err, codes.PermissionDenied, "a node certificate and an admin token's GetSyncState on the peer endpoint",
		"the peer endpoint serves sync peers Pull and Announce only", "call GetSyncState on the node's API address (its gRPC or HTTP listener) with an admin token")
}
