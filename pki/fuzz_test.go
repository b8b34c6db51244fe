package pki

import (
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"testing"
	"time"

	"github.com/provex/provex/resource"
)

// checkMember fails t unless a successful MemberOf yielded a federation
// member spelled exactly as in its URI.
func checkMember(t *testing.T, c *x509.Certificate) {
	m, err := MemberOf(c)
	if err != nil {
		return
	}
	if !validMemberSyntax(m) || !resource.IsMember(m) {
		t.Fatalf("MemberOf returned %q, not a member id", m)
	}
	n := 0
	for _, u := range c.URIs {
		if u != nil && u.String() == "provex://member/"+m {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("MemberOf returned %q but the certificate has %d URIs naming it: %v", m, n, c.URIs)
	}
}

// FuzzParseCertificatePEM feeds arbitrary bytes to the certificate parsers
// and MemberOf: no panics, and any member found is a valid one.
func FuzzParseCertificatePEM(f *testing.F) {
	now := time.Now()
	ca, err := InitCA(f.TempDir(), "", time.Hour, now)
	if err != nil {
		f.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue("cao-bang", []string{"x.example", "10.1.2.3"}, time.Hour, now)
	if err != nil {
		f.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	f.Add(certPEM)
	f.Add(block.Bytes)
	f.Add(ca.CertPEM())
	f.Add(ca.Certificate().Raw)
	f.Add(keyPEM)
	f.Add(append(append([]byte{}, certPEM...), ca.CertPEM()...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := ParseCertificatePEM(data); err == nil {
			if c == nil {
				t.Fatal("nil certificate without an error")
			}
			checkMember(t, c)
		}
		if c, err := x509.ParseCertificate(data); err == nil {
			checkMember(t, c)
		}
		if p, err := CertPool(data); err == nil && p == nil {
			t.Fatal("nil pool without an error")
		}
	})
}

// FuzzMemberURI feeds arbitrary URI SANs to MemberOf.
func FuzzMemberURI(f *testing.F) {
	for _, s := range []string{
		"provex://member/cao-bang", "provex://member/mofa", "PROVEX://member/nghe-an",
		"provex://member/cao-bang/", "provex://member/Cao-Bang", "provex://member/cao%2Dbang",
		"provex://u@member/cao-bang?x#y", "provex:member/cao-bang", "spiffe://member/cao-bang",
	} {
		f.Add(s, "")
		f.Add(s, "provex://member/nghe-an")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		var uris []*url.URL
		for _, s := range []string{a, b} {
			if u, err := url.Parse(s); err == nil && s != "" {
				uris = append(uris, u)
			}
		}
		checkMember(t, &x509.Certificate{URIs: uris})
	})
}
