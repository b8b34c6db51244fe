package federation

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
)

// maxKeyFileSize bounds what ReadKeyFile reads; a PEM Ed25519 key is about
// 120 bytes.
const maxKeyFileSize = 64 << 10

const pemType = "PRIVATE KEY"

// GenerateKey returns a new Ed25519 key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("federation: generate key: %w", err)
	}
	return pub, priv, nil
}

// WriteKeyFile writes the private key to path as PEM ("PRIVATE KEY", PKCS
// #8), mode 0600, atomically. It refuses to overwrite an existing file, so a
// node key is never lost by accident.
func WriteKeyFile(path string, key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("federation: write key file: private key must be %d bytes, got %d", ed25519.PrivateKeySize, len(key))
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("federation: write key file: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der})
	if err := writeAtomic(path, data, 0o600, false); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("federation: write key file: %s already exists; refusing to overwrite a node key (move it away first)", path)
		}
		return fmt.Errorf("federation: write key file: %w", err)
	}
	return nil
}

// ReadKeyFile reads a private key written by WriteKeyFile. It refuses a file
// that group or others may read (on systems with Unix permissions) and
// anything but an Ed25519 key in a PKCS #8 "PRIVATE KEY" PEM block.
func ReadKeyFile(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("federation: read key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("federation: read key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("federation: read key file %s: not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("federation: read key file %s: mode %#o lets group or others read the private key; run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("federation: read key file: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("federation: read key file %s: larger than %d bytes", path, maxKeyFileSize)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("federation: read key file %s: no PEM block found", path)
	}
	if block.Type != pemType {
		return nil, fmt.Errorf("federation: read key file %s: PEM block is %q, want %q", path, block.Type, pemType)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("federation: read key file %s: %w", path, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("federation: read key file %s: key is %T, want an Ed25519 key", path, key)
	}
	return priv, nil
}

// EncodePublicKey returns the standard base64 encoding of a public key, as
// used in manifests.
func EncodePublicKey(key ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(key)
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
