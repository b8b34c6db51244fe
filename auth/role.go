// Package auth is provex's authorization core: roles, bearer tokens (made by
// `provex token create`, stored hashed), caller identities, and the access
// policy that maps every gRPC method to what its caller must be.
//
// Everything here denies by default. A method without a rule is refused, an
// identity without a valid role is refused, and every refusal is a gRPC
// UNAUTHENTICATED (credentials missing or not valid) or PERMISSION_DENIED
// (credentials valid but not enough) error with a message meant for the
// caller; grpc-gateway turns them into HTTP 401 and 403.
package auth

import (
	"fmt"
	"strings"
)

// Role is what a token lets its holder do on its node.
type Role string

const (
	// RoleViewer reads.
	RoleViewer Role = "viewer"
	// RoleEditor reads and writes the node's own records.
	RoleEditor Role = "editor"
	// RoleAdmin does what an editor does and also reads the audit trail.
	RoleAdmin Role = "admin"
)

// Roles lists the valid roles, least powerful first.
func Roles() []Role { return []Role{RoleViewer, RoleEditor, RoleAdmin} }

// ParseRole reads a role name ("viewer", "editor" or "admin"; surrounding
// spaces and letter case are ignored).
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q: want viewer, editor or admin", s)
	}
	return r, nil
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool {
	switch r {
	case RoleViewer, RoleEditor, RoleAdmin:
		return true
	}
	return false
}

// CanRead reports whether r may call read methods.
func (r Role) CanRead() bool { return r.Valid() }

// CanWrite reports whether r may call write methods.
func (r Role) CanWrite() bool { return r == RoleEditor || r == RoleAdmin }

// CanAdmin reports whether r may call administrative methods.
func (r Role) CanAdmin() bool { return r == RoleAdmin }

func (r Role) String() string { return string(r) }
