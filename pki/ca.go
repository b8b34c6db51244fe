// Package pki is the federation's certificate authority and the TLS identities
// of its nodes: one CA per federation (kept by the ministry, its certificate
// published in the federation manifest), one node certificate per member
// naming that member, and the TLS configurations with which nodes serve and
// dial each other over mutual TLS.
//
// A node's identity is the member id (a province slug such as "cao-bang", or
// "mofa") carried in its certificate as exactly one URI subject alternative
// name of the form provex://member/<id>; the Subject CommonName repeats it for
// people reading the certificate, but only the URI is trusted. The same
// certificate, with both the serverAuth and clientAuth extended key usages, is
// used to serve peers and to dial them.
//
// Keys are ECDSA P-256 (rather than Ed25519) so that common tools such as
// curl, grpcurl and openssl accept the certificates.
//
// Files:
//
//	ca.pem   the CA certificate (0644)
//	ca.key   the CA private key, PKCS #8 PEM (0600); never overwritten
//	tls.crt  a node's certificate (0644)
//	tls.key  a node's TLS private key, PKCS #8 PEM (0600)
//
// Private keys are read only from files that group and others cannot read
// (package internal/ownerfile).
//
// tls.key is distinct from node.key, the Ed25519 key with which a node signs
// its change log.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/provex/provex/internal/ownerfile"
	"github.com/provex/provex/resource"
)

// maxKeyFileSize bounds what is read of a private key file; one is a few
// hundred bytes.
const maxKeyFileSize = 64 << 10

// File names inside a CA directory and a node's data directory.
const (
	CACertFile   = "ca.pem"
	CAKeyFile    = "ca.key"
	NodeCertFile = "tls.crt"
	NodeKeyFile  = "tls.key"
)

// DefaultCAName is the CommonName of the CA certificate when InitCA is given
// no name.
const DefaultCAName = "provex federation CA"

// DefaultCAValidity and DefaultCertValidity are how long a CA and a node's
// certificate are valid unless told (provex ca init and issue).
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour // 87600h
	DefaultCertValidity = 365 * 24 * time.Hour      // 8760h
)

// MinValidity is the shortest validity InitCA and Issue give: a
// certificate valid for 1ns was made expired, and one for minutes would
// expire before it reached its node (an outside review).
const MinValidity = time.Hour

// clockSkew backdates NotBefore so that a certificate is usable at once on a
// node whose clock is a little behind the issuer's.
const clockSkew = 5 * time.Minute

// DefaultHosts are the names a node certificate covers when Issue is given
// none.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// CA is the federation's certificate authority: its certificate and the
// private key that signs node certificates.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// Certificate returns the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate in PEM form, as it goes into the
// federation manifest.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// InitCA makes a new CA with a self-signed certificate valid from now for
// validity, and writes ca.pem and ca.key into dir (created 0700 if missing).
// It refuses to replace an existing ca.key or ca.pem. An empty name means
// DefaultCAName.
func InitCA(dir string, name string, validity time.Duration, now time.Time) (*CA, error) {
	if validity < MinValidity {
		return nil, fmt.Errorf("pki: CA validity must be at least %v, got %v", MinValidity, validity)
	}
	if name == "" {
		name = DefaultCAName
	}
	keyPath := filepath.Join(dir, CAKeyFile)
	certPath := filepath.Join(dir, CACertFile)
	for _, p := range []string{keyPath, certPath} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("pki: %s already exists; refusing to overwrite a CA (move it away first if you really mean to start a new federation CA)", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("pki: %w", err)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"provex"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	// O_EXCL closes the race between the check above and the write.
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeNew(certPath, certPEM, 0o644); err != nil {
		os.Remove(keyPath)
		return nil, err
	}
	return &CA{cert: cert, certPEM: certPEM, key: key}, nil
}

// LoadCA reads ca.pem and ca.key from dir and checks that they belong
// together and make a CA. It refuses a ca.key that group or others may read.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	keyPEM, err := ownerfile.ReadPrivate(filepath.Join(dir, CAKeyFile), maxKeyFileSize)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", CACertFile, err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("pki: %s is not a CA certificate", CACertFile)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", CAKeyFile, err)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("pki: %s does not match the public key in %s", CAKeyFile, CACertFile)
	}
	return &CA{cert: cert, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), key: key}, nil
}

// Issue makes a certificate and key for the federation member, valid from now
// for validity but never beyond the CA certificate. hosts are the DNS names
// and IP addresses by which peers reach the node (DefaultHosts if empty);
// peers do not check them (see PeerClientConfig), but ordinary TLS clients
// of the same certificate do. The certificate serves both as a TLS server
// and as a TLS client certificate.
func (ca *CA) Issue(member string, hosts []string, validity time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	if !ValidMemberID(member) {
		return nil, nil, fmt.Errorf("pki: %q is not a federation member (want a province slug or %q)", member, resource.Ministry)
	}
	if validity < MinValidity {
		return nil, nil, fmt.Errorf("pki: certificate validity must be at least %v, got %v", MinValidity, validity)
	}
	if !now.Before(ca.cert.NotAfter) {
		return nil, nil, fmt.Errorf("pki: the CA certificate expired at %s", ca.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	dnsNames, ips, err := splitHosts(hosts)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	notBefore := now.Add(-clockSkew)
	if notBefore.Before(ca.cert.NotBefore) {
		notBefore = ca.cert.NotBefore
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: member, Organization: []string{"provex"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
		URIs:                  []*url.URL{MemberURI(member)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue certificate: %w", err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// splitHosts sorts host names from IP addresses, dropping duplicates.
func splitHosts(hosts []string) (dnsNames []string, ips []net.IP, err error) {
	seen := map[string]bool{}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			h = h[1 : len(h)-1]
		}
		if ip := net.ParseIP(h); ip != nil {
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			if !seen[ip.String()] {
				seen[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if !validHostName(name) {
			return nil, nil, fmt.Errorf("pki: %q is neither a host name nor an IP address (give hosts without port or scheme)", h)
		}
		if !seen[name] {
			seen[name] = true
			dnsNames = append(dnsNames, name)
		}
	}
	if len(dnsNames) == 0 && len(ips) == 0 {
		return nil, nil, errors.New("pki: no host names or IP addresses for the certificate")
	}
	return dnsNames, ips, nil
}

// validHostName accepts DNS names made of letters, digits and hyphens, with
// an optional leading "*." wildcard label.
func validHostName(name string) bool {
	name = strings.TrimPrefix(name, "*.")
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func newSerial() (*big.Int, error) {
	// 127 random bits: positive, at most 16 octets, as RFC 5280 asks.
	limit := new(big.Int).Lsh(big.NewInt(1), 127)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("pki: serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseKey reads a PKCS #8 ("PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY")
// PEM private key.
func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM private key")
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("encrypted or annotated PEM keys are not supported")
	}
	var k any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	return s, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// writeNew creates path with perm, failing if it exists.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("pki: %s already exists; refusing to overwrite it", path)
		}
		return fmt.Errorf("pki: %w", err)
	}
	if err := writeAndClose(f, data, perm); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// writeAndClose writes data, sets perm regardless of the umask, syncs and
// closes f.
func writeAndClose(f *os.File, data []byte, perm os.FileMode) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pki: write %s: %w", f.Name(), err)
	}
	return nil
}

// WriteNodeFiles checks that certPEM and keyPEM form a node identity and
// writes them to tls.crt (0644) and tls.key (0600) in dir, replacing earlier
// ones (as when a certificate is renewed). Each file is replaced atomically.
func WriteNodeFiles(dir string, certPEM, keyPEM []byte) error {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("pki: certificate and key do not form a pair: %w", err)
	}
	if _, err := MemberOf(pair.Leaf); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	// The key first: a crash in between leaves a new key beside an old
	// certificate, which LoadNodeCert reports, rather than a certificate
	// whose key has been lost.
	if err := replaceFile(filepath.Join(dir, NodeKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return replaceFile(filepath.Join(dir, NodeCertFile), certPEM, 0o644)
}

func replaceFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	tmp := f.Name()
	if err := writeAndClose(f, data, perm); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

// LoadNodeCert reads tls.crt and tls.key from dir. The certificate must name
// a federation member (see MemberOf); Leaf is filled in. It refuses a
// tls.key that group or others may read. Missing files give an error that
// wraps os.ErrNotExist.
func LoadNodeCert(dir string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, NodeCertFile))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: load node certificate: %w", err)
	}
	keyPEM, err := ownerfile.ReadPrivate(filepath.Join(dir, NodeKeyFile), maxKeyFileSize)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: load node certificate: %w", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: load node certificate: %w", err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("pki: %w", err)
		}
	}
	if _, err := MemberOf(c.Leaf); err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: %s: %w", filepath.Join(dir, NodeCertFile), err)
	}
	return c, nil
}

// IssueTLS issues a certificate for member (DefaultHosts, valid a year from
// now) and returns it ready to serve and dial with: for dev mode and tests,
// where nodes get their certificates in process instead of from files.
func (ca *CA) IssueTLS(member string, now time.Time) (tls.Certificate, error) {
	certPEM, keyPEM, err := ca.Issue(member, nil, DefaultCertValidity, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
