// Package federation describes who is in the provex federation: the manifest
// that lists every member (province nodes and the ministry's node) with its
// role, address and public keys, and the key files that hold a member's
// Ed25519 signing key (its change-log checkpoints and audit heads) and its
// X25519 encryption keys (to open the confidential records sealed to it). Like X-Road's global configuration, a node
// keeps working on its cached manifest; the manifest carries an expiry after
// which nodes warn that it is stale.
//
// # Manifest file
//
// A manifest is a YAML file (JSON is accepted too, being valid YAML):
//
//	version: 3
//	issued: 2026-11-24T00:00:00Z
//	expires: 2027-11-24T00:00:00Z
//	members:
//	  - id: cao-bang
//	    role: province
//	    address: localhost:7400
//	    public_key: 3SS3ThnldtCQ3dvmKeAt9KTQNsVT/rvRJIcHyh0Jdbs=
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
//
// The fields are:
//
//   - version: an integer of at least 1 that increases with every change.
//   - issued, expires: RFC 3339 times, both optional; when both are given,
//     expires must come after issued. A node whose cached manifest has
//     expired logs a warning but keeps using it.
//   - members: at least one, each with a unique id. A province member's id is
//     the province slug (see [resource.LookupProvince]); the ministry's node,
//     of which there is at most one, has id "mofa" ([resource.Ministry]).
//   - address: the gRPC host:port other nodes dial (port 1..65535).
//   - public_key: the standard base64 encoding of the member's 32-byte
//     Ed25519 public key ([EncodePublicKey]), which verifies the member's
//     signed change-log checkpoints.
//   - encryption_key: the standard base64 encoding of the member's 32-byte
//     X25519 public key ([EncodeEncryptionKey]), to which the other members
//     seal the confidential records the member may read.
//   - ca: the federation CA's certificate in PEM (from `provex ca init`).
//     Nodes accept from each other only certificates it signed, and take a
//     peer's member id from its certificate (package pki). Optional only for
//     a node that has no peers.
//
// Unknown keys, duplicate keys and files larger than 1 MiB are rejected.
// [Manifest.Marshal] writes this format deterministically, with members
// sorted by id, and [Manifest.WriteFile] replaces a manifest file atomically.
//
// # Key files
//
// A node's private key is kept in a PEM file ("PRIVATE KEY", PKCS #8) of
// mode 0600. [WriteKeyFile] never overwrites an existing file, so a node key
// is not lost by accident, and [ReadKeyFile] refuses a key file that group or
// others may read.
package federation
