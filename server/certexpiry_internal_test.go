package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestCertExpiryIsTold: the node's own certificate, a month before it
// expires and after, is a problem /healthz names with what to do.
func TestCertExpiryIsTold(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	notAfter := time.Date(2027, 11, 29, 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert := &tls.Certificate{Certificate: [][]byte{der}}
	for _, c := range []struct {
		now  time.Time
		want string
	}{
		{notAfter.Add(-CertWarning - time.Hour), ""},
		{notAfter.Add(-CertWarning + time.Hour), "expires at 2027-11-29T00:00:00Z: issue a new one (provex ca issue)"},
		{notAfter.Add(time.Second), "expired at 2027-11-29T00:00:00Z: peers and clients refuse it"},
	} {
		got := certExpiry(cert, c.now)
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("at %s: %q, want %q", c.now, got, c.want)
		}
	}
	if got := certExpiry(nil, notAfter); got != "" {
		t.Errorf("a node without a certificate: %q", got)
	}
}
