package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestTLSMismatchSaysWhatToSet: a command run without PROVEX_CA against a
// node serving TLS, or with it against a node serving plaintext, fails
// with an error that says what to change, not only gRPC's words.
func TestTLSMismatchSaysWhatToSet(t *testing.T) {
	caFile, cert := selfSigned(t)
	serve := func(opts ...grpc.ServerOption) string {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(opts...)
		go func() { _ = srv.Serve(lis) }()
		t.Cleanup(srv.Stop)
		return lis.Addr().String()
	}
	tlsAddr := serve(grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	plainAddr := serve()
	get := func(addr, ca string) string {
		t.Setenv("PROVEX_CA", ca)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := runGet(ctx, &Env{Stdout: io.Discard, Stderr: io.Discard}, []string{"--addr", addr, "provinces/cao-bang/agreements/a1"})
		if err == nil {
			t.Fatalf("get from %s with PROVEX_CA=%q succeeded", addr, ca)
		}
		return FormatError(err)
	}
	if got := get(tlsAddr, ""); !strings.HasPrefix(got, "UNAVAILABLE") || !strings.Contains(got, "set PROVEX_CA") {
		t.Errorf("plaintext to a TLS node: %s", got)
	}
	if got := get(plainAddr, caFile); !strings.HasPrefix(got, "UNAVAILABLE") || !strings.Contains(got, "unset PROVEX_CA") {
		t.Errorf("TLS to a plaintext node: %s", got)
	}
	// An HTTP/1.1 server (the node's HTTP port given for its gRPC one),
	// and a server that resets the connection (a node at its connection
	// cap): neither is about TLS.
	httpSrv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(httpSrv.Close)
	if got := get(strings.TrimPrefix(httpSrv.URL, "http://"), ""); !strings.Contains(got, "gRPC address, not its HTTP one") || strings.Contains(got, "PROVEX_CA") {
		t.Errorf("plaintext to an HTTP/1.1 server: %s", got)
	}
	resetter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resetter.Close() })
	go func() {
		for {
			c, err := resetter.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	if got := get(resetter.Addr().String(), ""); !strings.HasPrefix(got, "UNAVAILABLE") || strings.Contains(got, "PROVEX_CA") {
		t.Errorf("plaintext to a server that resets connections: %s", got)
	}
	// When the sides agree, the call reaches the server and says nothing
	// of TLS.
	if got := get(tlsAddr, caFile); strings.Contains(got, "PROVEX_CA") || !strings.HasPrefix(got, "UNIMPLEMENTED") {
		t.Errorf("TLS to a TLS node: %s", got)
	}
}

// selfSigned makes a CA certificate for 127.0.0.1 that is also the
// server's, and writes it where PROVEX_CA can name it.
func selfSigned(t *testing.T) (string, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestWrappedStatusIsInWords: the seed wraps a node's refusal with the
// record it was loading, and the CLI printed Go's spelling of the inner
// status ("seed X: rpc error: code = InvalidArgument desc = ...").
func TestWrappedStatusIsInWords(t *testing.T) {
	err := fmt.Errorf("seed provinces/cao-bang/partnerships/baise: %w", status.Error(codes.InvalidArgument, "invalid request_id"))
	if got, want := FormatError(err), "INVALID_ARGUMENT: seed provinces/cao-bang/partnerships/baise: invalid request_id"; got != want {
		t.Errorf("FormatError = %q, want %q", got, want)
	}
	if got, want := FormatError(status.Error(codes.NotFound, "x not found")), "NOT_FOUND: x not found"; got != want {
		t.Errorf("FormatError = %q, want %q", got, want)
	}
}

// TestSilentAddressIsNamed: an address that takes the connection and never
// answers (another program's port) failed after 20 s with "use of closed
// network connection" alone. gRPC's words, as a real dial gave them.
func TestSilentAddressIsNamed(t *testing.T) {
	err := status.Error(codes.Unavailable, `connection error: desc = "error reading server preface: raw-read tcp 127.0.0.1:41576->127.0.0.1:31999: use of closed network connection"`)
	if got := FormatError(err); !strings.HasSuffix(got, "(the address took the connection and answered nothing: give the node's gRPC address, and check that the node is up)") {
		t.Errorf("FormatError = %q", got)
	}
}

// TestResetByATLSServerIsToldApart: a TLS server resets a plaintext
// client's connection when its alert finds the client's preface unread,
// and the hint, given only for EOF, was missed now and then (the test
// above failed one run in seven). A reset is now followed by a TLS
// handshake to the address: a TLS server gets the PROVEX_CA hint, a server
// that resets everything (a node at its connection cap) does not.
func TestResetByATLSServerIsToldApart(t *testing.T) {
	_, cert := selfSigned(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	resetter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resetter.Close() })
	go func() {
		for {
			c, err := resetter.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	reset := status.Error(codes.Unavailable, `connection error: desc = "error reading server preface: read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"`)
	for addr, wantHint := range map[string]bool{lis.Addr().String(): true, resetter.Addr().String(): false} {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		err = probeTLSOnReset(context.Background(), "/m", nil, nil, cc, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return reset })
		cc.Close()
		if got := FormatError(err); strings.Contains(got, "set PROVEX_CA") != wantHint {
			t.Errorf("a reset from %s: %s; want the PROVEX_CA hint: %v", addr, got, wantHint)
		}
	}
}
