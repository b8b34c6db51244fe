// Package federation describes who is in the provex federation: the manifest
// that lists every member (province nodes and the ministry's node) with its
// role, address and public keys, and the key files that hold a member's
// Ed25519 signing keys (its change-log checkpoints and audit heads) and its
// X25519 encryption keys (to open the confidential records sealed to it).
// Like X-Road's global configuration, the manifest is signed by a key the
// ministry keeps offline (the federation key), carries a serial that grows
// with every change, and expires: nodes take a manifest only with a higher
// serial signed by the federation key of the one they hold (Accept,
// Newest), warn from ExpiryWarning before its expiry and stop syncing
// ExpiryGrace after it (Freshness).
//
// # Manifest file
//
// A manifest is a YAML file (JSON is accepted too, being valid YAML). The
// commands of provex manifest write it (Marshal); nobody needs to edit it:
//
//	serial: 3
//	issued: 2026-11-24T00:00:00Z
//	expires: 2027-11-24T00:00:00Z
//	federation_key: KUupWiJsCg0UyfwnSTYMar1dLgGtZaHQz0UYM4O2dsw=
//	members:
//	  - id: cao-bang
//	    role: province
//	    address: localhost:7400
//	    public_key: 3SS3ThnldtCQ3dvmKeAt9KTQNsVT/rvRJIcHyh0Jdbs=
//	    previous_public_keys:
//	      - zaRoGYaM6bt7I/EP5IBWzAn+R0DDuzFY0teqioUDds8=
//	    encryption_key: hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=
//	  - id: mofa
//	    role: ministry
//	    address: localhost:7499
//	    public_key: 4ZoQ/jnF+rv9ZgkHOv7F1Y9Y7zGXlYd+Br5FNqYvKgc=
//	    encryption_key: 3p7bfXt9wbTTW5HC7OQOFHnNwYh6hr4LE4P+V3IK3xQ=
//	ca: |
//	  -----BEGIN CERTIFICATE-----
//	  MIIBfTCCASOgAwIBAgIQ...
//	  -----END CERTIFICATE-----
//	signature: jpLllHKLG3o8Q/jlZ2eO7BsYxFaGEkl1k4TtIyFswzvMuhcn+2pCcYkbrwIHNS6u+lorA59HyaK7554/LqziDQ==
//
// The fields are:
//
//   - serial: an integer of at least 1 that increases with every change.
//     Manifests made before they were signed call it version, which is
//     still read (one or the other, not both).
//   - issued, expires: RFC 3339 times, both optional; when both are given,
//     expires must come after issued.
//   - federation_key: the standard base64 encoding of the Ed25519 public key
//     that signs this manifest and the next ones. It may name a new key in a
//     manifest the old key signs, which hands signing over to the new key.
//   - members: at least one, each with a unique id. A province member's id is
//     the province slug (see [resource.LookupProvince]); the ministry's node,
//     of which there is at most one, has id "mofa" ([resource.Ministry]).
//   - address: the gRPC host:port other nodes dial (port 1..65535).
//   - public_key: the standard base64 encoding of the member's 32-byte
//     Ed25519 public key ([EncodePublicKey]), which verifies the member's
//     signed change-log checkpoints.
//   - previous_public_keys: the member's retired signing keys, newest first
//     ([Manifest.RotateMember] moves public_key here), so that what they
//     signed still verifies ([Manifest.SigningKeys]). Optional.
//   - encryption_key: the standard base64 encoding of the member's 32-byte
//     X25519 public key ([EncodeEncryptionKey]), to which the other members
//     seal the confidential records the member may read.
//   - ca: the federation CA's certificate in PEM (from `provex ca init`).
//     Nodes accept from each other only certificates it signed, and take a
//     peer's member id from its certificate (package pki). Optional only for
//     a node that has no peers.
//   - signature: last, the standard base64 encoding of the federation key's
//     Ed25519 signature ([Manifest.Sign]) over "provex/manifest/v1", a zero
//     byte, and the manifest as Marshal writes it without this line. So the
//     signature covers the contents, not their layout: a manifest read and
//     written again verifies as before, and any change to a field breaks it.
//
// Unknown keys, duplicate keys and files larger than 1 MiB are rejected.
// [Manifest.Marshal] writes this format deterministically, with members
// sorted by id, and [Manifest.WriteFile] replaces a manifest file atomically.
//
// A member hands the ministry its entry, the part of members that is its
// own, as provex keygen prints it ([FormatEntry], [ParseEntry]); the
// ministry adds it ([Manifest.AddMember]), and [Manifest.RemoveMember] and
// [Manifest.RotateMember] make the other changes, each refusing what would
// make the manifest invalid or give one member's key to another.
//
// # Key files
//
// A node's private keys are kept in a PEM file of "PRIVATE KEY" blocks
// (PKCS #8) of mode 0600: its signing key, its retired signing keys, then
// its encryption keys, newest first ([RotateKeys] adds new ones in front).
// The federation key has a file of its own ([WriteSigningKeyFile]).
// [WriteKeyFile] never overwrites an existing file, so a node key is not
// lost by accident, and [ReadKeyFile] refuses a key file that group or
// others may read.
package federation
