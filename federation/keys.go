package federation

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/provex/provex/internal/atomicfile"
	"github.com/provex/provex/internal/ownerfile"
)

// maxKeyFileSize bounds what ReadKeyFile reads; a key file is a few hundred
// bytes.
const maxKeyFileSize = 64 << 10

const pemType = "PRIVATE KEY"

// NodeKeys are a member's private keys.
type NodeKeys struct {
	// Signing (Ed25519) signs the member's change-log checkpoints and its
	// audit trail's head.
	Signing ed25519.PrivateKey
	// RetiredSigning are older signing keys, newest first, kept after a
	// rotation (RotateKeys): the node signs with whichever key the
	// manifest in effect names for it, so it moves to the new key when the
	// manifest that publishes it arrives, without a restart.
	RetiredSigning []ed25519.PrivateKey
	// Encryption (X25519) opens the confidential records sealed to the
	// member, newest first. The first is the one the manifest publishes and
	// that others seal to; older ones stay so that what was sealed to them
	// can still be opened.
	Encryption []*ecdh.PrivateKey
}

// SigningPublic is the public key that verifies the member's signatures.
func (k NodeKeys) SigningPublic() ed25519.PublicKey {
	return k.Signing.Public().(ed25519.PublicKey)
}

// EncryptionPublic is the public key others seal records to.
func (k NodeKeys) EncryptionPublic() *ecdh.PublicKey {
	return k.Encryption[0].PublicKey()
}

// SigningKeyFor returns the private key whose public half is pub: the key
// to sign with while the manifest names pub for this member.
func (k NodeKeys) SigningKeyFor(pub ed25519.PublicKey) (ed25519.PrivateKey, bool) {
	for _, s := range append([]ed25519.PrivateKey{k.Signing}, k.RetiredSigning...) {
		if s != nil && pub.Equal(s.Public()) {
			return s, true
		}
	}
	return nil, false
}

// HasEncryptionKey reports whether pub is the public half of one of the
// member's encryption keys.
func (k NodeKeys) HasEncryptionKey(pub *ecdh.PublicKey) bool {
	for _, e := range k.Encryption {
		if pub != nil && pub.Equal(e.PublicKey()) {
			return true
		}
	}
	return false
}

func (k NodeKeys) check() error {
	for _, s := range append([]ed25519.PrivateKey{k.Signing}, k.RetiredSigning...) {
		if len(s) != ed25519.PrivateKeySize {
			return fmt.Errorf("a signing key must be %d bytes, got %d", ed25519.PrivateKeySize, len(s))
		}
	}
	if len(k.Encryption) == 0 {
		return errors.New("no encryption key")
	}
	for _, e := range k.Encryption {
		if e == nil || e.Curve() != ecdh.X25519() {
			return errors.New("an encryption key is not an X25519 key")
		}
	}
	return nil
}

// GenerateKey returns a new Ed25519 key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("federation: generate key: %w", err)
	}
	return pub, priv, nil
}

// GenerateKeys returns a new member's keys: one signing key and one
// encryption key.
func GenerateKeys() (NodeKeys, error) {
	_, sign, err := GenerateKey()
	if err != nil {
		return NodeKeys{}, err
	}
	enc, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return NodeKeys{}, fmt.Errorf("federation: generate key: %w", err)
	}
	return NodeKeys{Signing: sign, Encryption: []*ecdh.PrivateKey{enc}}, nil
}

// WriteKeyFile writes the keys to path as PEM, mode 0600, atomically: the
// signing key first, then the encryption keys newest first, each a "PRIVATE
// KEY" block (PKCS #8). It refuses to overwrite an existing file, so a node
// key is never lost by accident.
func WriteKeyFile(path string, keys NodeKeys) error {
	data, err := encodeKeys(keys)
	if err != nil {
		return fmt.Errorf("federation: write key file: %w", err)
	}
	if err := atomicfile.Write(path, data, 0o600, false); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("federation: write key file: %s already exists; refusing to overwrite a node key (move it away first)", path)
		}
		return fmt.Errorf("federation: write key file: %w", err)
	}
	return nil
}

// RotateEncryptionKey adds a new encryption key to the key file at path,
// in front of the ones it holds, which stay to open what was sealed to
// them. It returns the keys now in the file; the manifest must publish the
// new public key before others seal to it.
func RotateEncryptionKey(path string) (NodeKeys, error) {
	keys, err := ReadKeyFile(path)
	if err != nil {
		return NodeKeys{}, err
	}
	enc, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return NodeKeys{}, fmt.Errorf("federation: rotate key: %w", err)
	}
	keys.Encryption = append([]*ecdh.PrivateKey{enc}, keys.Encryption...)
	data, err := encodeKeys(keys)
	if err != nil {
		return NodeKeys{}, fmt.Errorf("federation: rotate key: %w", err)
	}
	if err := atomicfile.Write(path, data, 0o600, true); err != nil {
		return NodeKeys{}, fmt.Errorf("federation: rotate key: %w", err)
	}
	return keys, nil
}

// RotateKeys puts a new signing key and a new encryption key in front of
// the ones the key file at path holds, which stay: the old signing key
// until the manifest publishes the new one, the old encryption key to open
// what was sealed to it. It returns the keys now in the file.
func RotateKeys(path string) (NodeKeys, error) {
	keys, err := ReadKeyFile(path)
	if err != nil {
		return NodeKeys{}, err
	}
	fresh, err := GenerateKeys()
	if err != nil {
		return NodeKeys{}, err
	}
	keys.RetiredSigning = append([]ed25519.PrivateKey{keys.Signing}, keys.RetiredSigning...)
	keys.Signing = fresh.Signing
	keys.Encryption = append(fresh.Encryption, keys.Encryption...)
	data, err := encodeKeys(keys)
	if err != nil {
		return NodeKeys{}, fmt.Errorf("federation: rotate keys: %w", err)
	}
	if err := atomicfile.Write(path, data, 0o600, true); err != nil {
		return NodeKeys{}, fmt.Errorf("federation: rotate keys: %w", err)
	}
	return keys, nil
}

func encodeKeys(keys NodeKeys) ([]byte, error) {
	if err := keys.check(); err != nil {
		return nil, err
	}
	var out []byte
	all := []any{keys.Signing}
	for _, s := range keys.RetiredSigning {
		all = append(all, s)
	}
	for _, e := range keys.Encryption {
		all = append(all, e)
	}
	for _, k := range all {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der})...)
	}
	return out, nil
}

// ReadKeyFile reads the keys written by WriteKeyFile. It refuses a file
// that group or others may read (on systems with Unix permissions) and
// anything but Ed25519 keys (the newest first) followed by X25519 keys in
// PKCS #8 "PRIVATE KEY" PEM blocks.
func ReadKeyFile(path string) (NodeKeys, error) {
	data, err := ownerfile.ReadPrivate(path, maxKeyFileSize)
	if err != nil {
		return NodeKeys{}, fmt.Errorf("federation: read key file: %w", err)
	}
	var keys NodeKeys
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != pemType {
			return NodeKeys{}, fmt.Errorf("federation: read key file %s: PEM block is %q, want %q", path, block.Type, pemType)
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return NodeKeys{}, fmt.Errorf("federation: read key file %s: %w", path, err)
		}
		switch k := key.(type) {
		case ed25519.PrivateKey:
			if len(keys.Encryption) > 0 {
				return NodeKeys{}, fmt.Errorf("federation: read key file %s: the signing keys must come first", path)
			}
			if _, dup := keys.SigningKeyFor(k.Public().(ed25519.PublicKey)); dup {
				return NodeKeys{}, fmt.Errorf("federation: read key file %s: the same signing key twice", path)
			}
			if keys.Signing == nil {
				keys.Signing = k
			} else {
				keys.RetiredSigning = append(keys.RetiredSigning, k)
			}
		case *ecdh.PrivateKey:
			if k.Curve() != ecdh.X25519() {
				return NodeKeys{}, fmt.Errorf("federation: read key file %s: an encryption key must be X25519", path)
			}
			keys.Encryption = append(keys.Encryption, k)
		default:
			return NodeKeys{}, fmt.Errorf("federation: read key file %s: key is %T, want Ed25519 or X25519", path, key)
		}
	}
	switch {
	case keys.Signing == nil && len(keys.Encryption) == 0:
		return NodeKeys{}, fmt.Errorf("federation: read key file %s: no PEM block found", path)
	case keys.Signing == nil:
		return NodeKeys{}, fmt.Errorf("federation: read key file %s: no signing (Ed25519) key", path)
	case len(keys.Encryption) == 0:
		return NodeKeys{}, fmt.Errorf("federation: read key file %s holds a signing key only: it was made by a provex older than sealed records; "+
			"make new keys with provex keygen and publish both public keys in the manifest", path)
	}
	return keys, nil
}

// EncodePublicKey returns the standard base64 encoding of a public key, as
// used in manifests.
func EncodePublicKey(key ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(key)
}

// EncodeEncryptionKey returns the standard base64 encoding of an X25519
// public key, as used in manifests.
func EncodeEncryptionKey(key *ecdh.PublicKey) string {
	return base64.StdEncoding.EncodeToString(key.Bytes())
}

// DecodePublicKey decodes a public key from its standard base64 encoding.
func DecodePublicKey(s string) (ed25519.PublicKey, error) {
	key, err := decodePublicKey(s)
	if err != nil {
		return nil, fmt.Errorf("federation: public key: %w", err)
	}
	return key, nil
}

func decodePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not valid base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("must decode to %d bytes, got %d", ed25519.PublicKeySize, len(b))
	}
	return ed25519.PublicKey(b), nil
}

func decodeEncryptionKey(s string) (*ecdh.PublicKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not valid base64: %w", err)
	}
	key, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("must decode to a 32-byte X25519 key, got %d bytes", len(b))
	}
	return key, nil
}
