package federation

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/provex/provex/internal/atomicfile"
	"github.com/provex/provex/internal/yamlfile"
	"github.com/provex/provex/resource"
)

// MaxManifestSize is the largest manifest ParseManifest and LoadManifest
// accept, in bytes.
const MaxManifestSize = 1 << 20

// Role is what a member does in the federation.
type Role string

const (
	// RoleProvince is a province's node: it owns and writes the province's
	// records.
	RoleProvince Role = "province"
	// RoleMinistry is the Ministry of Foreign Affairs' aggregator node.
	RoleMinistry Role = "ministry"
)

// Member is one node of the federation.
type Member struct {
	ID        string            // province slug (e.g. "cao-bang") or "mofa"
	Role      Role              // province or ministry
	Address   string            // gRPC host:port other nodes dial
	PublicKey ed25519.PublicKey // verifies the member's signed checkpoints
	// PreviousPublicKeys are the member's retired signing keys: what they
	// signed before a rotation still verifies.
	PreviousPublicKeys []ed25519.PublicKey
	// EncryptionKey (X25519) is what others seal the member's confidential
	// records to.
	EncryptionKey *ecdh.PublicKey
}

// Manifest lists the members of the federation.
type Manifest struct {
	Serial  int       // increases with every change; a node takes only a higher one
	Issued  time.Time // zero if not given
	Expires time.Time // see ExpiryWarning and ExpiryGrace; zero if not given
	Members []Member  // sorted by ID
	// CA is the federation CA's certificate (PEM): node certificates it
	// signs are the only ones nodes accept from each other (mutual TLS).
	CA []byte
	// FederationKey verifies the signature of this manifest and of the
	// next: the ministry keeps its private half offline. Nil in a manifest
	// that was never signed.
	FederationKey ed25519.PublicKey
	// Signature is FederationKey's signature over the manifest (see Sign);
	// nil if unsigned.
	Signature []byte
}

// manifestFile is the file form of a Manifest.
type manifestFile struct {
	Serial int `json:"serial"`
	// Version is the name serial had before manifests were signed; a file
	// may give one or the other.
	Version       int          `json:"version,omitempty"`
	Issued        string       `json:"issued,omitempty"`
	Expires       string       `json:"expires,omitempty"`
	FederationKey string       `json:"federation_key,omitempty"`
	Members       []memberFile `json:"members"`
	CA            string       `json:"ca,omitempty"`
	Signature     string       `json:"signature,omitempty"`
}

type memberFile struct {
	ID                 string   `json:"id"`
	Role               string   `json:"role"`
	Address            string   `json:"address"`
	PublicKey          string   `json:"public_key"`
	PreviousPublicKeys []string `json:"previous_public_keys,omitempty"`
	EncryptionKey      string   `json:"encryption_key"`
}

// ParseManifest parses and validates a manifest file (see the package
// documentation for the format). Times are returned in UTC and members sorted
// by ID.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("federation: manifest is larger than %d bytes", MaxManifestSize)
	}
	var f manifestFile
	if err := yamlfile.Decode(data, &f); err != nil {
		return nil, fmt.Errorf("federation: parse manifest: %w", err)
	}
	if f.Serial != 0 && f.Version != 0 {
		return nil, errors.New("federation: manifest: give serial or its old name version, not both")
	}
	m := &Manifest{Serial: f.Serial}
	if f.Version != 0 {
		m.Serial = f.Version
	}
	if f.CA != "" {
		m.CA = []byte(f.CA)
	}
	var err error
	if f.FederationKey != "" {
		if m.FederationKey, err = decodePublicKey(f.FederationKey); err != nil {
			return nil, fmt.Errorf("federation: manifest federation_key: %w", err)
		}
	}
	if f.Signature != "" {
		if m.Signature, err = base64.StdEncoding.Strict().DecodeString(f.Signature); err != nil || len(m.Signature) != ed25519.SignatureSize {
			return nil, fmt.Errorf("federation: manifest signature: not the base64 of a %d-byte Ed25519 signature", ed25519.SignatureSize)
		}
		if m.FederationKey == nil {
			return nil, errors.New("federation: manifest signature: the manifest has no federation_key to check it with")
		}
	}
	if m.Issued, err = parseTime("issued", f.Issued); err != nil {
		return nil, err
	}
	if m.Expires, err = parseTime("expires", f.Expires); err != nil {
		return nil, err
	}
	m.Members = make([]Member, 0, len(f.Members))
	for i, fm := range f.Members {
		mem := Member{ID: fm.ID, Role: Role(fm.Role), Address: fm.Address}
		if fm.PublicKey == "" {
			return nil, memberError(i, fm.ID, "public_key", errors.New("missing"))
		}
		if mem.PublicKey, err = decodePublicKey(fm.PublicKey); err != nil {
			return nil, memberError(i, fm.ID, "public_key", err)
		}
		for j, k := range fm.PreviousPublicKeys {
			old, err := decodePublicKey(k)
			if err != nil {
				return nil, memberError(i, fm.ID, fmt.Sprintf("previous_public_keys[%d]", j), err)
			}
			mem.PreviousPublicKeys = append(mem.PreviousPublicKeys, old)
		}
		if fm.EncryptionKey == "" {
			return nil, memberError(i, fm.ID, "encryption_key", errors.New("missing (a manifest made before provex sealed confidential records: "+
				"make the member's keys anew with provex keygen, which prints both public keys)"))
		}
		if mem.EncryptionKey, err = decodeEncryptionKey(fm.EncryptionKey); err != nil {
			return nil, memberError(i, fm.ID, "encryption_key", err)
		}
		m.Members = append(m.Members, mem)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	sortMembers(m.Members)
	return m, nil
}

// LoadManifest reads and parses a manifest file.
func LoadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("federation: load manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("federation: load manifest: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return m, nil
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("federation: manifest %s: %q is not an RFC 3339 time such as 2026-11-24T00:00:00Z", field, s)
	}
	return t.UTC(), nil
}

func memberError(i int, id, field string, err error) error {
	return fmt.Errorf("federation: manifest member %d (id %q): %s: %w", i, id, field, err)
}

// validate checks everything but the encoding of public keys; errors name
// members by their index in m.Members.
func (m *Manifest) validate() error {
	if m.Serial < 1 {
		return fmt.Errorf("federation: manifest serial: must be at least 1, got %d", m.Serial)
	}
	if m.FederationKey != nil && len(m.FederationKey) != ed25519.PublicKeySize {
		return fmt.Errorf("federation: manifest federation_key: must be %d bytes, got %d", ed25519.PublicKeySize, len(m.FederationKey))
	}
	if !m.Issued.IsZero() && !m.Expires.IsZero() && !m.Expires.After(m.Issued) {
		return fmt.Errorf("federation: manifest expires: %s is not after issued %s",
			m.Expires.Format(time.RFC3339Nano), m.Issued.Format(time.RFC3339Nano))
	}
	if len(m.Members) == 0 {
		return errors.New("federation: manifest members: at least one member is required")
	}
	if m.CA != nil {
		if _, err := m.CAPool(); err != nil {
			return err
		}
	}
	seen := make(map[string]int, len(m.Members))
	ministry := -1
	for i, mem := range m.Members {
		if mem.ID == "" {
			return memberError(i, mem.ID, "id", errors.New("missing"))
		}
		if j, dup := seen[mem.ID]; dup {
			return memberError(i, mem.ID, "id", fmt.Errorf("duplicate of member %d", j))
		}
		seen[mem.ID] = i
		switch mem.Role {
		case RoleProvince:
			if mem.ID == resource.Ministry {
				return memberError(i, mem.ID, "role", fmt.Errorf("%q is the ministry's id; its role must be ministry", resource.Ministry))
			}
			if _, ok := resource.LookupProvince(mem.ID); !ok {
				return memberError(i, mem.ID, "id", errors.New("not a known province slug (a province member's id must be one)"))
			}
		case RoleMinistry:
			if mem.ID != resource.Ministry {
				return memberError(i, mem.ID, "id", fmt.Errorf("a ministry member's id must be %q", resource.Ministry))
			}
			if ministry >= 0 {
				return memberError(i, mem.ID, "role", fmt.Errorf("member %d is already the ministry; there can be at most one", ministry))
			}
			ministry = i
		case "":
			return memberError(i, mem.ID, "role", errors.New("missing (want province or ministry)"))
		default:
			return memberError(i, mem.ID, "role", fmt.Errorf("%q is neither province nor ministry", mem.Role))
		}
		if err := checkAddress(mem.Address); err != nil {
			return memberError(i, mem.ID, "address", err)
		}
		if len(mem.PublicKey) != ed25519.PublicKeySize {
			return memberError(i, mem.ID, "public_key", fmt.Errorf("must be %d bytes, got %d", ed25519.PublicKeySize, len(mem.PublicKey)))
		}
		for j, old := range mem.PreviousPublicKeys {
			if len(old) != ed25519.PublicKeySize {
				return memberError(i, mem.ID, fmt.Sprintf("previous_public_keys[%d]", j), fmt.Errorf("must be %d bytes, got %d", ed25519.PublicKeySize, len(old)))
			}
			if old.Equal(mem.PublicKey) {
				return memberError(i, mem.ID, fmt.Sprintf("previous_public_keys[%d]", j), errors.New("is the current public_key"))
			}
		}
		if mem.EncryptionKey == nil || mem.EncryptionKey.Curve() != ecdh.X25519() {
			return memberError(i, mem.ID, "encryption_key", errors.New("missing or not an X25519 key"))
		}
	}
	return nil
}

func checkAddress(addr string) error {
	if addr == "" {
		return errors.New("missing (want host:port)")
	}
	for _, r := range addr {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%q contains a space or control character", addr)
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	if port == "" || strings.Trim(port, "0123456789") != "" {
		return fmt.Errorf("%q: port %q is not a number", addr, port)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %s is not in 1..65535", addr, port)
	}
	return nil
}

func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
}

// plainAddress matches addresses that can be written as plain YAML scalars.
var plainAddress = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*:[0-9]+$`)

// Marshal returns the manifest as YAML in the format of the package
// documentation, with members sorted by ID, its signature last. The output
// depends only on the manifest's contents. It fails if the manifest is not
// valid.
func (m *Manifest) Marshal() ([]byte, error) {
	body, err := m.body()
	if err != nil {
		return nil, err
	}
	if m.Signature != nil {
		body = append(body, "signature: "+base64.StdEncoding.EncodeToString(m.Signature)+"\n"...)
	}
	return body, nil
}

// body is the manifest's YAML without its signature: what the signature
// signs.
func (m *Manifest) body() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	members := slices.Clone(m.Members)
	sortMembers(members)
	var b bytes.Buffer
	fmt.Fprintf(&b, "serial: %d\n", m.Serial)
	if !m.Issued.IsZero() {
		fmt.Fprintf(&b, "issued: %s\n", m.Issued.UTC().Format(time.RFC3339Nano))
	}
	if !m.Expires.IsZero() {
		fmt.Fprintf(&b, "expires: %s\n", m.Expires.UTC().Format(time.RFC3339Nano))
	}
	if m.FederationKey != nil {
		fmt.Fprintf(&b, "federation_key: %s\n", EncodePublicKey(m.FederationKey))
	}
	b.WriteString("members:\n")
	for _, mem := range members {
		addr := mem.Address
		if !plainAddress.MatchString(addr) {
			q, err := json.Marshal(addr) // a JSON string is a YAML double-quoted scalar
			if err != nil {
				return nil, err
			}
			addr = string(q)
		}
		fmt.Fprintf(&b, "  - id: %s\n    role: %s\n    address: %s\n    public_key: %s\n",
			mem.ID, mem.Role, addr, EncodePublicKey(mem.PublicKey))
		if len(mem.PreviousPublicKeys) > 0 {
			b.WriteString("    previous_public_keys:\n")
			for _, old := range mem.PreviousPublicKeys {
				fmt.Fprintf(&b, "      - %s\n", EncodePublicKey(old))
			}
		}
		fmt.Fprintf(&b, "    encryption_key: %s\n", EncodeEncryptionKey(mem.EncryptionKey))
	}
	if m.CA != nil {
		b.WriteString("ca: |\n")
		for _, line := range strings.Split(strings.TrimRight(string(m.CA), "\n"), "\n") {
			b.WriteString("  " + line + "\n")
		}
	}
	return b.Bytes(), nil
}

// WriteFile writes the manifest to path atomically: it writes a temporary
// file in the same directory and renames it over path. The file gets mode
// 0644.
func (m *Manifest) WriteFile(path string) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, data, 0o644, true); err != nil {
		return fmt.Errorf("federation: write manifest: %w", err)
	}
	return nil
}

// Member returns the member with the given id.
func (m *Manifest) Member(id string) (Member, bool) {
	for _, mem := range m.Members {
		if mem.ID == id {
			return mem, true
		}
	}
	return Member{}, false
}

// Ministry returns the ministry's member, if the manifest lists one.
func (m *Manifest) Ministry() (Member, bool) {
	for _, mem := range m.Members {
		if mem.Role == RoleMinistry {
			return mem, true
		}
	}
	return Member{}, false
}

// PublicKey returns the public key of the member with the given id.
func (m *Manifest) PublicKey(id string) (ed25519.PublicKey, bool) {
	mem, ok := m.Member(id)
	if !ok {
		return nil, false
	}
	return mem.PublicKey, true
}

// EncryptionKey returns the key the member with the given id publishes for
// sealing records to it.
func (m *Manifest) EncryptionKey(id string) (*ecdh.PublicKey, bool) {
	mem, ok := m.Member(id)
	if !ok {
		return nil, false
	}
	return mem.EncryptionKey, true
}

// MemberIDs lists the members' ids, sorted.
func (m *Manifest) MemberIDs() []string {
	ids := make([]string, len(m.Members))
	for i, mem := range m.Members {
		ids[i] = mem.ID
	}
	return ids
}

// Expired reports whether the manifest has an expiry and now is after it.
// Nodes keep using an expired manifest but warn that it is stale.
func (m *Manifest) Expired(now time.Time) bool {
	return !m.Expires.IsZero() && now.After(m.Expires)
}

// DevFederation makes keys for the given member ids and a manifest listing
// them at the given addresses (ids[i] at addrs[i]), for tests and the local
// demo. The role comes from the id ("mofa" is the ministry, anything else a
// province). The manifest has serial 1, is issued at now (truncated to the
// second, in UTC), expires a year later, and is not signed: a node takes an
// unsigned manifest only from its own configuration in the process, never
// from a file or a peer. It returns the manifest and the private keys by id.
func DevFederation(ids, addrs []string, now time.Time) (*Manifest, map[string]NodeKeys, error) {
	m, keys, _, err := DevFederationKey(ids, addrs, now)
	if m != nil {
		m.FederationKey = nil
	}
	return m, keys, err
}

// DevFederationKey is DevFederation that also makes a federation signing
// key: the manifest names its public half, and the caller signs it (Sign)
// once it has made its own changes, and the manifests that follow.
func DevFederationKey(ids, addrs []string, now time.Time) (*Manifest, map[string]NodeKeys, ed25519.PrivateKey, error) {
	if len(ids) != len(addrs) {
		return nil, nil, nil, fmt.Errorf("federation: dev federation: %d ids but %d addresses", len(ids), len(addrs))
	}
	issued := now.UTC().Truncate(time.Second)
	m := &Manifest{Serial: 1, Issued: issued, Expires: issued.AddDate(1, 0, 0)}
	keys := make(map[string]NodeKeys, len(ids))
	for i, id := range ids {
		k, err := GenerateKeys()
		if err != nil {
			return nil, nil, nil, err
		}
		role := RoleProvince
		if id == resource.Ministry {
			role = RoleMinistry
		}
		m.Members = append(m.Members, Member{ID: id, Role: role, Address: addrs[i], PublicKey: k.SigningPublic(), EncryptionKey: k.EncryptionPublic()})
		keys[id] = k
	}
	if err := m.validate(); err != nil {
		return nil, nil, nil, err
	}
	sortMembers(m.Members)
	fedPub, fedKey, err := GenerateKey()
	if err != nil {
		return nil, nil, nil, err
	}
	m.FederationKey = fedPub
	return m, keys, fedKey, nil
}

// CAPool returns the federation CA's certificates as a pool for verifying
// node certificates. The manifest's ca must hold at least one PEM
// CERTIFICATE block, each a CA certificate, and nothing else.
func (m *Manifest) CAPool() (*x509.CertPool, error) {
	cas, err := m.CACerts()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, ca := range cas {
		pool.AddCert(ca)
	}
	return pool, nil
}

// CACerts returns the federation CA's certificates, as CAPool checks them.
func (m *Manifest) CACerts() ([]*x509.Certificate, error) {
	if len(m.CA) == 0 {
		return nil, errors.New("federation: the manifest has no ca (the federation CA certificate, from provex ca init)")
	}
	var cas []*x509.Certificate
	rest := m.CA
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(cas) == 0 || len(bytes.TrimSpace(rest)) != 0 {
				return nil, errors.New("federation: manifest ca: not a PEM certificate")
			}
			return cas, nil
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("federation: manifest ca: a PEM %q block where a CERTIFICATE belongs", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("federation: manifest ca: %w", err)
		}
		if !cert.IsCA {
			return nil, fmt.Errorf("federation: manifest ca: %q is not a CA certificate", cert.Subject.CommonName)
		}
		cas = append(cas, cert)
	}
}
