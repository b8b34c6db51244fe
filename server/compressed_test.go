package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	// Registered in the node's binary: the OTLP trace exporter imports it.
	grpcgzip "google.golang.org/grpc/encoding/gzip"

	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/server"
)

// gzipMessage frames n zero bytes, gzip-compressed, as a compressed gRPC
// message: about a thousandth of n.
func gzipMessage(t *testing.T, n int) []byte {
	t.Helper()
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	_, err := w.Write(make([]byte, n))
	mustf(t, err, "gzip")
	mustf(t, w.Close(), "gzip")
	b := append([]byte{1, 0, 0, 0, 0}, z.Bytes()...)
	binary.BigEndian.PutUint32(b[1:5], uint32(z.Len()))
	return b
}

// TestCompressedRequestsRefused: a request compressed with gzip (the one
// compressor registered in the process) is refused without being
// inflated, unary or streamed, with or without grpc-timeout, and the
// connection serves the next call; on the peer endpoint too. Inflated,
// each of these 4 KB requests is 4 MiB before any interceptor runs: 1024
// anonymous calls took a node to 4.7 GB (an outside review).
func TestCompressedRequestsRefused(t *testing.T) {
	p := newPair(t, server.Limits{})
	n := p.start("cao-bang").srv
	addr := n.GRPCAddr()
	bomb := gzipMessage(t, 4<<20-100)
	h := dialRawH2(t, addr)
	h.sync()
	internal := strconv.Itoa(int(codes.Internal))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const calls = 64
	for i := range calls {
		id := uint32(2*i + 1)
		method, extra := "/provex.twinning.v1.TwinningService/ListPartnerships", [][2]string{{"grpc-encoding", "gzip"}}
		if i%2 == 1 {
			extra = append(extra, [2]string{"grpc-timeout", "1H"})
		}
		if i%4 == 3 {
			method = "/grpc.health.v1.Health/Watch"
		}
		h.call(id, addr, method, bomb, true, extra...)
		code, message := h.endStatus(id, 10*time.Second)
		message, _ = url.PathUnescape(message)
		if code != internal || !strings.Contains(message, "uncompressed messages only") {
			t.Fatalf("compressed call %d to %s: grpc-status %s %q, want %s saying the node takes uncompressed messages only", i, method, code, message, internal)
		}
	}
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > calls<<20 {
		t.Errorf("%d compressed calls of %d bytes allocated %d MB: their messages were inflated", calls, len(bomb), grown>>20)
	}
	id := uint32(2*calls + 1)
	h.call(id, addr, healthCheck, grpcMessage(0), true)
	if got := h.end(id, 10*time.Second); got != "0" {
		t.Fatalf("a health check on the connection after the compressed calls: grpc-status %s, want 0", got)
	}

	cert, err := p.ca.IssueTLS(resource.Ministry, time.Now())
	mustf(t, err, "issue the ministry's certificate")
	peer, err := grpc.NewClient(n.PeerAddr(), grpc.WithTransportCredentials(credentials.NewTLS(pki.PeerClientConfig(cert, p.pool, "cao-bang"))))
	mustf(t, err, "dial the peer endpoint")
	t.Cleanup(func() { peer.Close() })
	_, err = syncv1.NewSyncServiceClient(peer).Announce(testCtx(t), &syncv1.AnnounceRequest{Member: resource.Ministry}, grpc.UseCompressor(grpcgzip.Name))
	wantDenied(t, err, codes.Internal, "the ministry's announcement compressed, on the peer endpoint", "uncompressed messages only")
}
