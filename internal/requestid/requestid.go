// Package requestid makes and checks the ids that tie one exchange
// together across nodes and logs. A caller sends one in Header (gRPC
// metadata, or the HTTP header X-Request-Id); the node serving it takes it
// if it is Sane, else makes its own with New, and logs and audits the call
// under it. A node's own calls to its peers (pulls and announcements) send
// one made with New too, and are logged and audited under it on both ends.
package requestid

import (
	"crypto/rand"
	"encoding/hex"
)

// Header carries the request id, in a call and in its answer.
const Header = "x-request-id"

// New makes a request id: 16 hex digits, random.
func New() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Sane reports whether a caller's request id may be used as it is: 1 to
// 64 printable ASCII characters, so it fits a header and a log line and
// cannot forge one.
func Sane(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '!' || id[i] > '~' {
			return false
		}
	}
	return true
}
