package federation

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/provex/provex/internal/atomicfile"
	"github.com/provex/provex/internal/yamlfile"
	"github.com/provex/provex/resource"
)

// The placeholders FormatEntry writes for an id or address it was not
// given; ParseEntry reads them as not given.
const (
	placeholderID      = "MEMBER"
	placeholderAddress = "HOST:PORT"
)

// Entry is one member's manifest entry as provex keygen prints it, the
// text a member hands the ministry. Fields the entry does not give are
// zero.
type Entry struct {
	ID            string
	Role          Role
	Address       string
	PublicKey     ed25519.PublicKey
	EncryptionKey *ecdh.PublicKey
}

// entryFile is an Entry as text: a member of the manifest's members list.
type entryFile struct {
	ID            string `json:"id,omitempty"`
	Role          string `json:"role,omitempty"`
	Address       string `json:"address,omitempty"`
	PublicKey     string `json:"public_key,omitempty"`
	EncryptionKey string `json:"encryption_key,omitempty"`
}

// FormatEntry writes a member's manifest entry (a one-item YAML list, as
// in the manifest's members), with placeholders for an empty id or
// address. The role follows from the id.
func FormatEntry(id, address string, pub ed25519.PublicKey, enc *ecdh.PublicKey) string {
	role := RoleProvince
	if id == resource.Ministry {
		role = RoleMinistry
	}
	if id == "" {
		id = placeholderID
	}
	if address == "" {
		address = placeholderAddress
	}
	return fmt.Sprintf("  - id: %s\n    role: %s\n    address: %s\n    public_key: %s\n    encryption_key: %s\n",
		id, role, address, EncodePublicKey(pub), EncodeEncryptionKey(enc))
}

// ParseEntry reads an entry printed by FormatEntry (provex keygen): a
// one-item list or the bare mapping; fields may be missing (keygen
// --rotate-encryption prints the encryption key alone). Keys must be
// well-formed; whether the entry is complete is for the caller to judge.
func ParseEntry(data []byte) (Entry, error) {
	if len(data) > maxKeyFileSize {
		return Entry{}, fmt.Errorf("federation: member entry: larger than %d bytes", maxKeyFileSize)
	}
	var f entryFile
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] == '-' {
		var list []entryFile
		if err := yamlfile.Decode(data, &list); err != nil {
			return Entry{}, fmt.Errorf("federation: member entry: not the output of provex keygen: %w", err)
		}
		if len(list) != 1 {
			return Entry{}, fmt.Errorf("federation: member entry: want the output of provex keygen, one member, got %d", len(list))
		}
		f = list[0]
	} else if err := yamlfile.Decode(data, &f); err != nil {
		return Entry{}, fmt.Errorf("federation: member entry: not the output of provex keygen: %w", err)
	}
	e := Entry{ID: f.ID, Role: Role(f.Role), Address: f.Address}
	if e.ID == placeholderID {
		// The role beside a placeholder was FormatEntry's guess from no
		// id: the caller names the member and its role follows from it.
		e.ID, e.Role = "", ""
	}
	if e.Address == placeholderAddress {
		e.Address = ""
	}
	var err error
	if f.PublicKey != "" {
		if e.PublicKey, err = decodePublicKey(f.PublicKey); err != nil {
			return Entry{}, fmt.Errorf("federation: member entry: public_key: %w", err)
		}
	}
	if f.EncryptionKey != "" {
		if e.EncryptionKey, err = decodeEncryptionKey(f.EncryptionKey); err != nil {
			return Entry{}, fmt.Errorf("federation: member entry: encryption_key: %w", err)
		}
	}
	if e.ID == "" && e.Role == "" && e.Address == "" && e.PublicKey == nil && e.EncryptionKey == nil {
		return Entry{}, errors.New("federation: member entry: empty (want the output of provex keygen)")
	}
	return e, nil
}

// DecodeEncryptionKey decodes an X25519 public key from its standard
// base64 encoding.
func DecodeEncryptionKey(s string) (*ecdh.PublicKey, error) {
	key, err := decodeEncryptionKey(s)
	if err != nil {
		return nil, fmt.Errorf("federation: encryption key: %w", err)
	}
	return key, nil
}

// The edits below leave the manifest unchanged when they fail, and leave
// its serial, times and signature to the caller, who signs the result.

// AddMember adds a member. Its id must be new, and its keys must be no
// other member's, current or retired: a pasted entry of the wrong member
// would otherwise let two ids sign as one.
func (m *Manifest) AddMember(mem Member) error {
	if _, dup := m.Member(mem.ID); dup {
		return fmt.Errorf("federation: %s is already a member (to publish its new keys, rotate them; to take it out, remove it)", mem.ID)
	}
	if err := m.checkKeysUnused(mem.ID, mem.PublicKey, mem.EncryptionKey); err != nil {
		return err
	}
	if err := m.checkDialable(mem.ID, mem.Address); err != nil {
		return err
	}
	return m.edit(func(members []Member) []Member { return append(members, mem) })
}

// RemoveMember takes a member out: nodes refuse it from the manifest that
// no longer lists it.
func (m *Manifest) RemoveMember(id string) error {
	i := slices.IndexFunc(m.Members, func(mem Member) bool { return mem.ID == id })
	if i < 0 {
		return m.unknown(id)
	}
	if len(m.Members) == 1 {
		return fmt.Errorf("federation: %s is the manifest's only member, and a manifest needs at least one", id)
	}
	return m.edit(func(members []Member) []Member { return slices.Delete(members, i, i+1) })
}

// MoveMember gives a member a new sync address (host:port): its node,
// restarted on the manifest, listens there, and the others dial it there
// once they take the manifest.
func (m *Manifest) MoveMember(id, address string) error {
	i := slices.IndexFunc(m.Members, func(mem Member) bool { return mem.ID == id })
	if i < 0 {
		return m.unknown(id)
	}
	if err := checkAddress(address); err != nil {
		return err
	}
	if m.Members[i].Address == address {
		return fmt.Errorf("federation: move %s: the manifest already gives it address %s", id, address)
	}
	if err := m.checkDialable(id, address); err != nil {
		return err
	}
	return m.edit(func(members []Member) []Member {
		members[i].Address = address
		return members
	})
}

// DropRetiredKey takes a retired signing key out of a member's
// previous_public_keys, once the member's current key has signed its log's
// head and that checkpoint reached every copy: what the retired key signed
// then no longer needs it.
func (m *Manifest) DropRetiredKey(id string, key ed25519.PublicKey) error {
	i := slices.IndexFunc(m.Members, func(mem Member) bool { return mem.ID == id })
	if i < 0 {
		return m.unknown(id)
	}
	j := slices.IndexFunc(m.Members[i].PreviousPublicKeys, func(k ed25519.PublicKey) bool { return k.Equal(key) })
	if j < 0 {
		if m.Members[i].PublicKey.Equal(key) {
			return fmt.Errorf("federation: %s signs with that key now; only a retired key (in previous_public_keys) can be dropped", id)
		}
		return fmt.Errorf("federation: that key is not among %s's retired keys (provex manifest show lists them)", id)
	}
	return m.edit(func(members []Member) []Member {
		members[i].PreviousPublicKeys = slices.Delete(members[i].PreviousPublicKeys, j, j+1)
		return members
	})
}

// RotateMember publishes a member's new keys; a nil key stays as it is.
// A new signing key moves the current one to the front of the member's
// previous_public_keys, so what it signed still verifies. The old
// encryption key is simply replaced: others seal only to the current one,
// and the member's key file keeps the old private half.
func (m *Manifest) RotateMember(id string, pub ed25519.PublicKey, enc *ecdh.PublicKey) error {
	i := slices.IndexFunc(m.Members, func(mem Member) bool { return mem.ID == id })
	if i < 0 {
		return m.unknown(id)
	}
	cur := m.Members[i]
	if pub != nil && pub.Equal(cur.PublicKey) {
		pub = nil
	}
	if enc != nil && enc.Equal(cur.EncryptionKey) {
		enc = nil
	}
	if pub == nil && enc == nil {
		return fmt.Errorf("federation: rotate %s: the keys given are the ones the manifest already publishes (give the entry keygen --rotate printed)", id)
	}
	if err := m.checkKeysUnused("", pub, enc); err != nil {
		return err
	}
	return m.edit(func(members []Member) []Member {
		mem := &members[i]
		if pub != nil {
			mem.PreviousPublicKeys = append([]ed25519.PublicKey{mem.PublicKey}, mem.PreviousPublicKeys...)
			mem.PublicKey = pub
		}
		if enc != nil {
			mem.EncryptionKey = enc
		}
		return members
	})
}

// edit applies f to a copy of the members and keeps the result only if the
// manifest stays valid.
func (m *Manifest) edit(f func([]Member) []Member) error {
	members := slices.Clone(m.Members)
	for i := range members {
		members[i].PreviousPublicKeys = slices.Clone(members[i].PreviousPublicKeys)
	}
	next := *m
	next.Members = f(members)
	sortMembers(next.Members)
	if err := next.validate(); err != nil {
		return err
	}
	m.Members = next.Members
	return nil
}

// checkDialable refuses an address the other nodes could not dial self at:
// an unspecified one (0.0.0.0, ::, also with a zone or IPv4-mapped), which
// a listener takes and a dialler cannot reach, or one the manifest gives
// another member (written alike: hosts in any case, with or without the
// root's dot; IPs in any form), whose node would answer them for both (the
// edits took either, and said nothing; an outside review).
func (m *Manifest) checkDialable(self, address string) error {
	key, unspecified := dialKey(address)
	if unspecified {
		return fmt.Errorf("federation: address %s is no address to dial (a node listens on all its addresses there; give the one the others reach it at)", address)
	}
	for _, mem := range m.Members {
		if other, _ := dialKey(mem.Address); mem.ID != self && key != "" && other == key {
			return fmt.Errorf("federation: address %s is %s's (%s)", address, mem.ID, mem.Address)
		}
	}
	return nil
}

// dialKey is address in one form for comparing (IPs canonical, IPv4-mapped
// as IPv4; host names in lower case without the root's dot), "" if it is
// not host:port, and whether its host is an unspecified IP.
func dialKey(address string) (key string, unspecified bool) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", false
	}
	if n, err := strconv.Atoi(port); err == nil {
		port = strconv.Itoa(n) // 080 is 80
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		return net.JoinHostPort(ip.String(), port), ip.WithZone("").IsUnspecified()
	}
	return net.JoinHostPort(strings.ToLower(strings.TrimSuffix(host, ".")), port), false
}

// checkKeysUnused refuses keys that a member other than self publishes or
// published (nil keys are not checked); any member's retired keys count,
// self's included, so a rotation never goes back to a retired key.
func (m *Manifest) checkKeysUnused(self string, pub ed25519.PublicKey, enc *ecdh.PublicKey) error {
	for _, mem := range m.Members {
		if pub != nil {
			if mem.ID != self && pub.Equal(mem.PublicKey) {
				return fmt.Errorf("federation: that public_key is %s's", mem.ID)
			}
			for _, old := range mem.PreviousPublicKeys {
				if pub.Equal(old) {
					return fmt.Errorf("federation: that public_key is a retired key of %s's", mem.ID)
				}
			}
		}
		if enc != nil && mem.ID != self && enc.Equal(mem.EncryptionKey) {
			return fmt.Errorf("federation: that encryption_key is %s's", mem.ID)
		}
	}
	return nil
}

func (m *Manifest) unknown(id string) error {
	return fmt.Errorf("federation: %q is not a member of the manifest (members: %s)", id, strings.Join(m.MemberIDs(), ", "))
}

// WriteNewFile is WriteFile for a manifest that must not replace one:
// it fails, leaving the file as it is, if path exists.
func (m *Manifest) WriteNewFile(path string) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, data, 0o644, false); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("federation: write manifest: %s already exists; refusing to replace a manifest (change it with provex manifest add, remove, rotate or sign)", path)
		}
		return fmt.Errorf("federation: write manifest: %w", err)
	}
	return nil
}
