package pki

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

const year = 365 * 24 * time.Hour

func newCA(t testing.TB, now time.Time) *CA {
	t.Helper()
	ca, err := InitCA(t.TempDir(), "", 10*year, now)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t testing.TB, ca *CA, member string, now time.Time, validity time.Duration) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(member, nil, validity, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pool(t testing.TB, ca *CA) *x509.CertPool {
	t.Helper()
	p, err := CertPool(ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// signRaw signs tmpl with the CA directly, for certificates Issue would not
// make.
func signRaw(t testing.TB, ca *CA, tmpl *x509.Certificate) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(42)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

type handshakeResult struct {
	server      tls.ConnectionState
	serverErr   error
	clientErr   error
	clientState tls.ConnectionState
}

// handshake runs one TLS connection over loopback TCP. The server writes
// "ok" after a successful handshake and the client reads it, so that a
// rejection by the server after the client's side of a TLS 1.3 handshake has
// finished reaches the client too.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) handshakeResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		state tls.ConnectionState
		err   error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, serverCfg)
		if err := tc.Handshake(); err != nil {
			ch <- res{err: err}
			return
		}
		_, err = tc.Write([]byte("ok"))
		ch <- res{state: tc.ConnectionState(), err: err}
	}()
	raw, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(raw, clientCfg)
	var r handshakeResult
	r.clientErr = tc.Handshake()
	if r.clientErr == nil {
		buf := make([]byte, 2)
		if _, err := io.ReadFull(tc, buf); err != nil {
			r.clientErr = err
		} else if string(buf) != "ok" {
			r.clientErr = errors.New("unexpected reply " + string(buf))
		}
		r.clientState = tc.ConnectionState()
	}
	tc.Close()
	sr := <-ch
	r.server, r.serverErr = sr.state, sr.err
	return r
}

func TestIssue(t *testing.T) {
	now := time.Now()
	ca := newCA(t, now)
	certPEM, keyPEM, err := ca.Issue("cao-bang", nil, year, now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(keyPEM, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Errorf("key is not PKCS #8 PEM:\n%s", keyPEM)
	}
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	m, err := MemberOf(cert)
	if err != nil || m != "cao-bang" {
		t.Fatalf("MemberOf = %q, %v; want cao-bang", m, err)
	}
	if cert.Subject.CommonName != "cao-bang" {
		t.Errorf("CommonName = %q", cert.Subject.CommonName)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != "provex://member/cao-bang" {
		t.Errorf("URIs = %v", cert.URIs)
	}
	if got := strings.Join(cert.DNSNames, ","); got != "localhost" {
		t.Errorf("DNSNames = %q", got)
	}
	if len(cert.IPAddresses) != 2 || !cert.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || !cert.IPAddresses[1].Equal(net.ParseIP("::1")) {
		t.Errorf("IPAddresses = %v", cert.IPAddresses)
	}
	if cert.IsCA {
		t.Error("node certificate is a CA")
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool(t, ca), KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: "localhost"}); err != nil {
			t.Errorf("verify for usage %v: %v", usage, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool(t, newCA(t, now))}); err == nil {
		t.Error("certificate verifies against another CA")
	}

	// Hosts, and a validity longer than the CA's is cut to the CA's.
	certPEM, _, err = ca.Issue("mofa", []string{"node.mofa.gov.vn", " 10.0.0.7 ", "[fd00::1]", "NODE.mofa.gov.vn."}, 100*year, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cert.DNSNames, ","); got != "node.mofa.gov.vn" {
		t.Errorf("DNSNames = %q", got)
	}
	if len(cert.IPAddresses) != 2 {
		t.Errorf("IPAddresses = %v", cert.IPAddresses)
	}
	if !cert.NotAfter.Equal(ca.Certificate().NotAfter) {
		t.Errorf("NotAfter = %v, want the CA's %v", cert.NotAfter, ca.Certificate().NotAfter)
	}
	if m, _ := MemberOf(cert); m != "mofa" {
		t.Errorf("member = %q", m)
	}
}

func TestIssueRejects(t *testing.T) {
	now := time.Now()
	ca := newCA(t, now)
	for _, m := range []string{"", "Cao-Bang", "cao_bang", "atlantis", "../cao-bang", "cao-bang ", "-cao-bang", strings.Repeat("a", 64)} {
		if _, _, err := ca.Issue(m, nil, year, now); err == nil {
			t.Errorf("Issue(%q) succeeded", m)
		}
	}
	for _, h := range []string{"http://x.example", "a b", "x.example:443", "bad..name", "-x.example"} {
		if _, _, err := ca.Issue("cao-bang", []string{h}, year, now); err == nil {
			t.Errorf("Issue with host %q succeeded", h)
		}
	}
	for _, v := range []time.Duration{0, time.Nanosecond, MinValidity - time.Second} {
		if _, _, err := ca.Issue("cao-bang", nil, v, now); err == nil {
			t.Errorf("Issue with validity %v succeeded", v)
		}
	}
	if _, _, err := ca.Issue("cao-bang", nil, MinValidity, now); err != nil {
		t.Errorf("Issue with validity %v: %v", MinValidity, err)
	}
	if _, _, err := ca.Issue("cao-bang", nil, year, now.Add(11*year)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Issue after the CA expired: %v", err)
	}
}

func TestInitCAAndLoadCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	now := time.Now()
	ca, err := InitCA(dir, "test CA", year, now)
	if err != nil {
		t.Fatal(err)
	}
	c := ca.Certificate()
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("not a path-length-0 CA: IsCA=%v MaxPathLen=%d zero=%v", c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("KeyUsage = %v", c.KeyUsage)
	}
	if c.Subject.CommonName != "test CA" {
		t.Errorf("CommonName = %q", c.Subject.CommonName)
	}
	if runtime.GOOS != "windows" {
		for name, want := range map[string]os.FileMode{CAKeyFile: 0o600, CACertFile: 0o644, ".": 0o700} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s mode = %o, want %o", name, got, want)
			}
		}
	}
	keyBefore, _ := os.ReadFile(filepath.Join(dir, CAKeyFile))
	// A ca.key others can read is refused, with the chmod to run.
	os.Chmod(filepath.Join(dir, CAKeyFile), 0o640)
	if _, err := LoadCA(dir); err == nil || !strings.Contains(err.Error(), "chmod 600 "+filepath.Join(dir, CAKeyFile)) {
		t.Errorf("LoadCA with ca.key 0640: %v", err)
	}
	os.Chmod(filepath.Join(dir, CAKeyFile), 0o600)

	// Never overwritten.
	if _, err := InitCA(dir, "", year, now); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second InitCA: %v", err)
	}
	if keyAfter, _ := os.ReadFile(filepath.Join(dir, CAKeyFile)); !bytes.Equal(keyBefore, keyAfter) {
		t.Fatal("ca.key changed")
	}
	// Not even when only ca.pem is there.
	dir2 := t.TempDir()
	os.WriteFile(filepath.Join(dir2, CACertFile), ca.CertPEM(), 0o644)
	if _, err := InitCA(dir2, "", year, now); err == nil {
		t.Fatal("InitCA over an existing ca.pem succeeded")
	}
	for _, v := range []time.Duration{0, time.Nanosecond, MinValidity - time.Second} {
		if _, err := InitCA(t.TempDir(), "", v, now); err == nil {
			t.Fatalf("InitCA with validity %v succeeded", v)
		}
	}

	loaded, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Certificate().Equal(ca.Certificate()) || !bytes.Equal(loaded.CertPEM(), ca.CertPEM()) {
		t.Fatal("loaded CA differs")
	}
	certPEM, _, err := loaded.Issue("nghe-an", nil, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := ParseCertificatePEM(certPEM)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool(t, ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("certificate from the loaded CA: %v", err)
	}

	// A key that is not the certificate's.
	other := newCA(t, now)
	mixed := t.TempDir()
	os.WriteFile(filepath.Join(mixed, CACertFile), ca.CertPEM(), 0o644)
	otherKey, _ := encodeKey(other.key)
	os.WriteFile(filepath.Join(mixed, CAKeyFile), otherKey, 0o600)
	if _, err := LoadCA(mixed); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("LoadCA with a foreign key: %v", err)
	}
	if _, err := LoadCA(t.TempDir()); err == nil {
		t.Fatal("LoadCA of an empty directory succeeded")
	}
}

func TestNodeFiles(t *testing.T) {
	now := time.Now()
	ca := newCA(t, now)
	dir := filepath.Join(t.TempDir(), "data")
	certPEM, keyPEM, err := ca.Issue("cao-bang", nil, year, now)
	if err != nil {
		t.Fatal(err)
	}
	// node.key, the change-log signing key, must be left alone.
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "node.key"), []byte("signing key"), 0o600)
	if err := WriteNodeFiles(dir, certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "node.key")); string(b) != "signing key" {
		t.Fatal("node.key was touched")
	}
	if runtime.GOOS != "windows" {
		for name, want := range map[string]os.FileMode{NodeKeyFile: 0o600, NodeCertFile: 0o644} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s mode = %o, want %o", name, got, want)
			}
		}
	}
	c, err := LoadNodeCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := MemberOf(c.Leaf); err != nil || m != "cao-bang" {
		t.Fatalf("member = %q, %v", m, err)
	}
	// A tls.key others can read is refused, with the chmod to run.
	os.Chmod(filepath.Join(dir, NodeKeyFile), 0o644)
	if _, err := LoadNodeCert(dir); err == nil || !strings.Contains(err.Error(), "chmod 600 "+filepath.Join(dir, NodeKeyFile)) {
		t.Errorf("LoadNodeCert with tls.key 0644: %v", err)
	}
	os.Chmod(filepath.Join(dir, NodeKeyFile), 0o600)

	// Renewal replaces both files.
	certPEM2, keyPEM2, _ := ca.Issue("cao-bang", nil, year, now)
	if err := WriteNodeFiles(dir, certPEM2, keyPEM2); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, NodeKeyFile)); !bytes.Equal(b, keyPEM2) {
		t.Fatal("tls.key not replaced")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("stray files in %s: %v", dir, entries)
	}

	// A certificate with someone else's key is refused.
	if err := WriteNodeFiles(t.TempDir(), certPEM, keyPEM2); err == nil {
		t.Fatal("WriteNodeFiles with a mismatched key succeeded")
	}
	// So is one that names no member.
	bare := signRaw(t, ca, &x509.Certificate{Subject: pkix.Name{CommonName: "cao-bang"}, NotBefore: now, NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	bareKey, _ := encodeKey(bare.PrivateKey.(*ecdsa.PrivateKey))
	if err := WriteNodeFiles(t.TempDir(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: bare.Certificate[0]}), bareKey); err == nil {
		t.Fatal("WriteNodeFiles of a certificate naming no member succeeded")
	}
	if _, err := LoadNodeCert(t.TempDir()); err == nil {
		t.Fatal("LoadNodeCert of an empty directory succeeded")
	}
}

func TestMemberOf(t *testing.T) {
	u := func(s string) *url.URL {
		v, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	good := u("provex://member/cao-bang")
	spiffe := u("spiffe://provex/node/nghe-an")
	cases := []struct {
		name string
		cert *x509.Certificate
		want string // "" means an error
	}{
		{"one", &x509.Certificate{URIs: []*url.URL{good}}, "cao-bang"},
		{"other schemes ignored", &x509.Certificate{URIs: []*url.URL{spiffe, good}}, "cao-bang"},
		{"ministry", &x509.Certificate{URIs: []*url.URL{u("provex://member/mofa")}}, "mofa"},
		{"upper-case scheme", &x509.Certificate{URIs: []*url.URL{u("PROVEX://member/cao-bang")}}, "cao-bang"},
		{"nil", nil, ""},
		{"none", &x509.Certificate{Subject: pkix.Name{CommonName: "cao-bang"}}, ""},
		{"only other schemes", &x509.Certificate{URIs: []*url.URL{spiffe}}, ""},
		{"two", &x509.Certificate{URIs: []*url.URL{good, u("provex://member/nghe-an")}}, ""},
		{"same twice", &x509.Certificate{URIs: []*url.URL{good, good}}, ""},
		{"good and malformed", &x509.Certificate{URIs: []*url.URL{good, u("provex://node/nghe-an")}}, ""},
		{"CA", &x509.Certificate{IsCA: true, URIs: []*url.URL{good}}, ""},
	}
	for _, bad := range []string{
		"provex://MEMBER/cao-bang", "provex://member/Cao-Bang", "provex://member/cao-bang/",
		"provex://member/", "provex://member", "provex://member/cao-bang?x=1", "provex://member/cao-bang#f",
		"provex://u@member/cao-bang", "provex://member:1/cao-bang", "provex:member/cao-bang",
		"provex://member/cao%2Dbang", "provex://member//cao-bang", "provex://member/atlantis",
		"provex://member/cao-bang?", "provex:///cao-bang",
	} {
		cases = append(cases, struct {
			name string
			cert *x509.Certificate
			want string
		}{bad, &x509.Certificate{URIs: []*url.URL{u(bad)}}, ""})
	}
	for _, c := range cases {
		got, err := MemberOf(c.cert)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: MemberOf = %q, want an error", c.name, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: MemberOf = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestCertPoolAndParse(t *testing.T) {
	now := time.Now()
	ca, ca2 := newCA(t, now), newCA(t, now)
	if _, err := CertPool(append(ca.CertPEM(), ca2.CertPEM()...)); err != nil {
		t.Errorf("two CAs: %v", err)
	}
	if _, err := ParseCertificatePEM(append(ca.CertPEM(), ca2.CertPEM()...)); err == nil {
		t.Error("ParseCertificatePEM accepted two certificates")
	}
	if _, err := ParseCertificatePEM(append([]byte("# the federation CA\n"), ca.CertPEM()...)); err != nil {
		t.Errorf("leading comment: %v", err)
	}
	certPEM, keyPEM, _ := ca.Issue("cao-bang", nil, year, now)
	for name, in := range map[string][]byte{
		"empty":    nil,
		"garbage":  []byte("not a certificate"),
		"key":      keyPEM,
		"node":     certPEM,
		"trailing": append(ca.CertPEM(), "junk"...),
		"bad DER":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 1, 2, 3}}),
		"headers":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"A": "b"}, Bytes: ca.Certificate().Raw}),
	} {
		if _, err := CertPool(in); err == nil {
			t.Errorf("CertPool(%s) succeeded", name)
		}
	}
}

func TestMutualTLS(t *testing.T) {
	now := time.Now()
	ca := newCA(t, now)
	roots := pool(t, ca)
	server := issue(t, ca, "cao-bang", now, year)
	client := issue(t, ca, "nghe-an", now, year)
	r := handshake(t, PeerServerConfig(server, roots), PeerClientConfig(client, roots, "cao-bang"))
	if r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("server: %v; client: %v", r.serverErr, r.clientErr)
	}
	if r.server.Version != tls.VersionTLS13 {
		t.Errorf("version %x", r.server.Version)
	}
	if len(r.server.VerifiedChains) == 0 {
		t.Fatal("server has no verified chain")
	}
	if m, _ := MemberOf(r.server.VerifiedChains[0][0]); m != "nghe-an" {
		t.Errorf("server sees client %q", m)
	}
	if m, _ := MemberOf(r.clientState.PeerCertificates[0]); m != "cao-bang" {
		t.Errorf("client sees server %q", m)
	}
}

func TestPeerServerRejects(t *testing.T) {
	now := time.Now()
	ca, foreign := newCA(t, now), newCA(t, now)
	roots := pool(t, ca)
	server := issue(t, ca, "cao-bang", now, year)
	noMember := signRaw(t, ca, &x509.Certificate{
		Subject: pkix.Name{CommonName: "nghe-an"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	serverOnly := signRaw(t, ca, &x509.Certificate{
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), URIs: []*url.URL{MemberURI("nghe-an")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	cases := map[string]*tls.Config{
		"certificate from another CA":    PeerClientConfig(issue(t, foreign, "nghe-an", now, year), roots, "cao-bang"),
		"no certificate":                 {MinVersion: tls.VersionTLS13, InsecureSkipVerify: true},
		"expired certificate":            PeerClientConfig(issue(t, ca, "nghe-an", now.Add(-2*year), time.Hour), roots, "cao-bang"),
		"certificate naming no member":   PeerClientConfig(noMember, roots, "cao-bang"),
		"certificate without clientAuth": PeerClientConfig(serverOnly, roots, "cao-bang"),
		"TLS 1.2": {MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true,
			Certificates: []tls.Certificate{issue(t, ca, "nghe-an", now, year)}},
	}
	for name, clientCfg := range cases {
		t.Run(name, func(t *testing.T) {
			r := handshake(t, PeerServerConfig(server, roots), clientCfg)
			if r.serverErr == nil {
				t.Error("server accepted the client")
			}
			if r.clientErr == nil {
				t.Error("client saw no failure")
			}
			t.Logf("server: %v; client: %v", r.serverErr, r.clientErr)
		})
	}
	t.Run("nil roots", func(t *testing.T) {
		r := handshake(t, PeerServerConfig(server, nil), PeerClientConfig(issue(t, ca, "nghe-an", now, year), roots, "cao-bang"))
		if r.serverErr == nil {
			t.Error("server without roots accepted a client")
		}
	})
}

func TestPeerClientRejects(t *testing.T) {
	now := time.Now()
	ca, foreign := newCA(t, now), newCA(t, now)
	roots := pool(t, ca)
	client := issue(t, ca, "nghe-an", now, year)
	server := issue(t, ca, "cao-bang", now, year)
	noMember := signRaw(t, ca, &x509.Certificate{
		Subject: pkix.Name{CommonName: "cao-bang"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	clientOnly := signRaw(t, ca, &x509.Certificate{
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), URIs: []*url.URL{MemberURI("cao-bang")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	cases := []struct {
		name   string
		server tls.Certificate
		roots  *x509.CertPool
		want   string
		errHas string
	}{
		{"wrong member", server, roots, "nghe-an", `peer is "cao-bang", want "nghe-an"`},
		{"server from another CA", issue(t, foreign, "cao-bang", now, year), roots, "cao-bang", "unknown authority"},
		{"expired server", issue(t, ca, "cao-bang", now.Add(-2*year), time.Hour), roots, "cao-bang", "expired"},
		{"server naming no member", noMember, roots, "cao-bang", "no federation member"},
		{"server without serverAuth", clientOnly, roots, "cao-bang", "usage"},
		{"nil roots", server, nil, "cao-bang", "no federation CA"},
		{"want a non-member", server, roots, "atlantis", "not a federation member"},
		{"want nothing", server, roots, "", "not a federation member"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srvCfg := PeerServerConfig(c.server, roots)
			r := handshake(t, srvCfg, PeerClientConfig(client, c.roots, c.want))
			if r.clientErr == nil {
				t.Fatal("client accepted the server")
			}
			if !strings.Contains(r.clientErr.Error(), c.errHas) {
				t.Errorf("client error %q does not mention %q", r.clientErr, c.errHas)
			}
			if r.serverErr == nil {
				t.Error("server saw no failure")
			}
		})
	}
}

func TestServerConfig(t *testing.T) {
	now := time.Now()
	ca := newCA(t, now)
	cfg := ServerConfig(issue(t, ca, "cao-bang", now, year))
	if cfg.ClientAuth != tls.NoClientCert {
		t.Errorf("ClientAuth = %v", cfg.ClientAuth)
	}
	// An ordinary client (no certificate, TLS 1.2, host name checked).
	r := handshake(t, cfg, &tls.Config{RootCAs: pool(t, ca), ServerName: "localhost", MaxVersion: tls.VersionTLS12})
	if r.serverErr != nil || r.clientErr != nil {
		t.Fatalf("server: %v; client: %v", r.serverErr, r.clientErr)
	}
	r = handshake(t, cfg, &tls.Config{RootCAs: pool(t, ca), ServerName: "127.0.0.1"})
	if r.clientErr != nil {
		t.Fatalf("by IP address: %v", r.clientErr)
	}
	r = handshake(t, cfg, &tls.Config{RootCAs: pool(t, ca), MaxVersion: tls.VersionTLS11, ServerName: "localhost"})
	if r.serverErr == nil {
		t.Error("server accepted TLS 1.1")
	}
}

// TestGRPC runs a real gRPC server and client with the peer configurations.
func TestGRPC(t *testing.T) {
	now := time.Now()
	ca := newCA(t, now)
	roots := pool(t, ca)
	server := issue(t, ca, "cao-bang", now, year)

	callers := make(chan string, 10)
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(PeerServerConfig(server, roots))),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			m, ok := PeerFromContext(ctx)
			if !ok {
				return nil, status.Error(codes.Unauthenticated, "no federation member")
			}
			callers <- m
			return handler(ctx, req)
		}),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Stop()

	call := func(client tls.Certificate, want string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(PeerClientConfig(client, roots, want))))
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := call(issue(t, ca, "nghe-an", now, year), "cao-bang"); err != nil {
		t.Fatal(err)
	}
	if got := <-callers; got != "nghe-an" {
		t.Errorf("PeerFromContext = %q, want nghe-an", got)
	}
	if err := call(issue(t, ca, "nghe-an", now, year), "nghe-an"); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "pki: peer is") {
		t.Errorf("dialing cao-bang as nghe-an: %v", err)
	}
	if err := call(issue(t, newCA(t, now), "nghe-an", now, year), "cao-bang"); err == nil {
		t.Error("client from another CA was served")
	}
	select {
	case m := <-callers:
		t.Errorf("unexpected caller %q", m)
	default:
	}
}

func TestPeerFromContext(t *testing.T) {
	if m, ok := PeerFromContext(context.Background()); ok {
		t.Errorf("no peer: %q", m)
	}
	ctx := peer.NewContext(context.Background(), &peer.Peer{})
	if m, ok := PeerFromContext(ctx); ok {
		t.Errorf("no auth info: %q", m)
	}
	now := time.Now()
	ca := newCA(t, now)
	leaf := issue(t, ca, "cao-bang", now, year).Leaf
	// Certificates the client sent but nobody verified do not count.
	ctx = peer.NewContext(context.Background(), &peer.Peer{AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}}})
	if m, ok := PeerFromContext(ctx); ok {
		t.Errorf("unverified certificate: %q", m)
	}
	ctx = peer.NewContext(context.Background(), &peer.Peer{AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf, ca.Certificate()}}}}})
	if m, ok := PeerFromContext(ctx); !ok || m != "cao-bang" {
		t.Errorf("verified: %q, %v", m, ok)
	}
}
