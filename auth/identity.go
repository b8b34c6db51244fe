package auth

import "context"

// Kind says how a caller proved who it is.
type Kind int

const (
	// KindAnonymous: no credentials. The zero value, so an Identity nobody
	// filled in is anonymous.
	KindAnonymous Kind = iota
	// KindUser: a person or program with a bearer token of this node.
	KindUser
	// KindPeer: another provex node, known from its mutual-TLS certificate.
	KindPeer
)

func (k Kind) String() string {
	switch k {
	case KindAnonymous:
		return "anonymous"
	case KindUser:
		return "user"
	case KindPeer:
		return "peer"
	}
	return "unknown"
}

// Identity is who is calling.
type Identity struct {
	Kind Kind
	// Member is, for a user, the member (province slug or "mofa") of the node
	// that issued the token (tokens are node-local); for a peer, the member
	// named in its certificate.
	Member string
	// Role is the token's role; empty for peers and anonymous callers.
	Role Role
	// TokenID is the token's id; empty for peers and anonymous callers.
	TokenID string
}

// Anonymous is the identity of a caller without credentials.
var Anonymous = Identity{}

// User is the identity of a holder of token t issued by node member.
func User(member string, t Token) Identity {
	return Identity{Kind: KindUser, Member: member, Role: t.Role, TokenID: t.ID}
}

// Peer is the identity of the node of member, known from its certificate.
func Peer(member string) Identity { return Identity{Kind: KindPeer, Member: member} }

// String names the caller for logs, audit entries and rate limits:
// "token:0123456789abcdef (editor)", "peer:nghe-an" or "anonymous".
func (id Identity) String() string {
	switch id.Kind {
	case KindUser:
		return "token:" + id.TokenID + " (" + string(id.Role) + ")"
	case KindPeer:
		return "peer:" + id.Member
	case KindAnonymous:
		return "anonymous"
	}
	return "unknown"
}

type identityKey struct{}

// WithIdentity returns a copy of ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity WithIdentity put in ctx. Without one it
// returns Anonymous and false; callers must treat that as anonymous.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
