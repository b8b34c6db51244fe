package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// PeerServerConfig is the TLS configuration with which a node serves other
// nodes: TLS 1.3 only, and every client must present a certificate that
// chains to roots, carries the clientAuth usage and names a federation member
// (MemberOf). A nil roots trusts nothing (rather than the system roots).
//
// Session tickets are off, so every connection is a full handshake checked
// against the current roots; gRPC keeps its connections open, so this costs
// little.
func PeerServerConfig(cert tls.Certificate, roots *x509.CertPool) *tls.Config {
	if roots == nil {
		roots = x509.NewCertPool()
	}
	return peerServerConfig(cert, roots)
}

// PeerServerConfigLive is PeerServerConfig with the roots read at every
// handshake: a federation manifest that replaces the CA takes effect for
// new connections without a restart.
func PeerServerConfigLive(cert tls.Certificate, roots func() *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			pool := roots()
			if pool == nil {
				pool = x509.NewCertPool()
			}
			c := peerServerConfig(cert, pool)
			// The config returned here is the handshake's whole config:
			// gRPC's ALPN protocol must be in it.
			c.NextProtos = []string{"h2"}
			return c, nil
		},
	}
}

func peerServerConfig(cert tls.Certificate, roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{cert},
		ClientAuth:             tls.RequireAndVerifyClientCert,
		ClientCAs:              roots,
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			// crypto/tls has verified the chain by now; the leaf must also
			// say which member it is.
			if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
				return errors.New("pki: peer presented no verified certificate")
			}
			if _, err := MemberOf(cs.VerifiedChains[0][0]); err != nil {
				return fmt.Errorf("pki: peer certificate: %w", err)
			}
			return nil
		},
	}
}

// PeerClientConfig is the TLS configuration with which a node dials the node
// of wantMember: TLS 1.3 only, presenting cert, and accepting the server only
// if its certificate chains to roots, carries the serverAuth usage and names
// wantMember. A nil roots, or a wantMember that is not a federation member,
// makes every handshake fail.
//
// The server is identified by the member in its certificate, not by host
// name: peers are dialled at whatever address the federation manifest gives
// (often an IP address, or a name behind NAT that the certificate need not
// list), so crypto/tls's own verification, which insists that the address
// match a DNS or IP SAN, is switched off with InsecureSkipVerify and replaced
// by VerifyConnection, which verifies the whole chain against roots itself
// (x509.Certificate.Verify with the serverAuth usage) and then compares the
// member. crypto/tls still checks that the server holds the certificate's key.
// The config may be cloned (gRPC does), but VerifyConnection must stay: without
// it the config would accept any server.
func PeerClientConfig(cert tls.Certificate, roots *x509.CertPool, wantMember string) *tls.Config {
	return PeerClientConfigLive(cert, func() *x509.CertPool { return roots }, wantMember)
}

// PeerClientConfigLive is PeerClientConfig with the roots read at every
// handshake.
func PeerClientConfigLive(cert tls.Certificate, roots func() *x509.CertPool, wantMember string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		// Verification is done in full by VerifyConnection; see above.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServer(cs, roots(), wantMember)
		},
	}
}

// ChainsTo checks that the peer certificate a call came with (over a
// connection served with PeerServerConfig) chains to roots now, and is
// valid now: a connection made before the federation CA changed, or
// before the certificate expired, carries one the node may no longer
// trust. The error says why not.
func ChainsTo(ctx context.Context, roots *x509.CertPool) error {
	state, ok := tlsState(ctx)
	if !ok || roots == nil || len(state.PeerCertificates) == 0 {
		return errors.New("no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range state.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := state.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err
}

func verifyServer(cs tls.ConnectionState, roots *x509.CertPool, wantMember string) error {
	if roots == nil {
		return errors.New("pki: no federation CA to verify the peer with")
	}
	if !ValidMemberID(wantMember) {
		return fmt.Errorf("pki: %q is not a federation member", wantMember)
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("pki: peer presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return fmt.Errorf("pki: peer certificate: %w", err)
	}
	got, err := MemberOf(leaf)
	if err != nil {
		return fmt.Errorf("pki: peer certificate: %w", err)
	}
	if got != wantMember {
		return fmt.Errorf("pki: peer is %q, want %q", got, wantMember)
	}
	return nil
}

// PeerFromContext returns the federation member that called a gRPC handler
// over a connection served with PeerServerConfig: the member named by the
// leaf of the client's verified certificate chain. ok is false when the call
// did not come over such a connection.
func PeerFromContext(ctx context.Context) (member string, ok bool) {
	state, ok := tlsState(ctx)
	if !ok {
		return "", false
	}
	// Only verified chains count; PeerCertificates alone are whatever the
	// client sent.
	if len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) == 0 {
		return "", false
	}
	m, err := MemberOf(state.VerifiedChains[0][0])
	if err != nil {
		return "", false
	}
	return m, true
}

// ServerConfig is the TLS configuration of a node's user-facing API (gRPC
// and HTTP): server authentication only, TLS 1.2 or later. Users
// authenticate with tokens, not certificates.
func ServerConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
}

// tlsState is the TLS state of the connection a gRPC call came over.
func tlsState(ctx context.Context) (tls.ConnectionState, bool) {
	p, found := peer.FromContext(ctx)
	if !found || p == nil || p.AuthInfo == nil {
		return tls.ConnectionState{}, false
	}
	switch ai := p.AuthInfo.(type) {
	case credentials.TLSInfo:
		return ai.State, true
	case *credentials.TLSInfo:
		if ai != nil {
			return ai.State, true
		}
	}
	return tls.ConnectionState{}, false
}
