package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/provex/provex/resource"
)

// MemberURIScheme and MemberURIHost make up the URI subject alternative name
// that names a node's member: provex://member/<id>.
const (
	MemberURIScheme = "provex"
	MemberURIHost   = "member"
)

// MemberURI returns provex://member/<member>.
func MemberURI(member string) *url.URL {
	return &url.URL{Scheme: MemberURIScheme, Host: MemberURIHost, Path: "/" + member}
}

// validMemberSyntax reports whether id is 1 to 63 lower-case letters, digits
// and hyphens, neither starting nor ending with a hyphen.
func validMemberSyntax(id string) bool {
	if len(id) == 0 || len(id) > 63 || id[0] == '-' || id[len(id)-1] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidMemberID reports whether id is well formed and names a member of the
// federation (a province slug or the ministry).
func ValidMemberID(id string) bool {
	return validMemberSyntax(id) && resource.IsMember(id)
}

// MemberOf returns the federation member a node certificate names. The
// certificate must carry exactly one provex: URI subject alternative name,
// of the exact form provex://member/<id> with id a member of the federation;
// other URI schemes are ignored, and a CA certificate names no member. The
// CommonName is not consulted. MemberOf does not verify the certificate: call
// it on a verified chain's leaf.
func MemberOf(cert *x509.Certificate) (string, error) {
	if cert == nil {
		return "", errors.New("no certificate")
	}
	if cert.IsCA {
		return "", errors.New("a CA certificate does not name a federation member")
	}
	var found []string
	for _, u := range cert.URIs {
		if u == nil || !strings.EqualFold(u.Scheme, MemberURIScheme) {
			continue
		}
		m, err := memberFromURI(u)
		if err != nil {
			return "", err
		}
		found = append(found, m)
	}
	switch len(found) {
	case 0:
		return "", errors.New("certificate names no federation member (no provex://member/<id> URI SAN)")
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("certificate names %d federation members (%s); a node certificate must name exactly one", len(found), strings.Join(found, ", "))
	}
}

func memberFromURI(u *url.URL) (string, error) {
	id, ok := strings.CutPrefix(u.Path, "/")
	// Comparing with the canonical form rejects users, ports, queries,
	// fragments, escapes, opaque forms and a differently spelled host.
	if !ok || !validMemberSyntax(id) || u.String() != MemberURI(id).String() || u.Host != MemberURIHost {
		return "", fmt.Errorf("malformed member URI %q (want provex://member/<id>)", u.String())
	}
	if !resource.IsMember(id) {
		return "", fmt.Errorf("certificate names %q, which is not a federation member", id)
	}
	return id, nil
}

// ParseCertificatePEM parses data holding exactly one PEM "CERTIFICATE"
// block (text before it is allowed, anything but white space after it is
// not).
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	certs, err := parseCertificatesPEM(data)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("want one PEM certificate, found %d", len(certs))
	}
	return certs[0], nil
}

// CertPool returns a pool of the CA certificates in caPEM: one or more PEM
// "CERTIFICATE" blocks (more than one while the federation CA is being
// rotated), each of which must be a CA certificate.
func CertPool(caPEM []byte) (*x509.CertPool, error) {
	certs, err := parseCertificatesPEM(caPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificates: %w", err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		if !c.BasicConstraintsValid || !c.IsCA {
			return nil, fmt.Errorf("pki: certificate %q is not a CA certificate", c.Subject.String())
		}
		pool.AddCert(c)
	}
	return pool, nil
}

func parseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = r
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q is not a CERTIFICATE", block.Type)
		}
		if len(block.Headers) != 0 {
			return nil, errors.New("PEM certificate has headers")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the last PEM certificate")
	}
	return certs, nil
}
