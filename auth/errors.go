package auth

// Messages shared by several checks.
//
// A refusal says what would work on the endpoint it is answered on, and the
// kind of caller tells which that is: the peer endpoint takes only callers
// with a member's certificate (pki.PeerServerConfig) and the API's
// listeners never ask for one (pki.ServerConfig), so a peer calls on the
// peer endpoint and anyone else on the API. Telling the API's callers to
// present a node certificate sent them where it could never work (an
// outside review).
const (
	msgNeedToken   = "this call needs a bearer token: send 'authorization: Bearer <token>'"
	msgNeedPeer    = "%s is only for sync peers, on a node's peer endpoint (its member's address in the federation manifest) with a node certificate issued by the federation CA; this API endpoint takes bearer tokens, not certificates"
	msgPeerOnly    = "the peer endpoint serves sync peers Pull and Announce only; call %s on the node's API address (its gRPC or HTTP listener) with %s"
	msgBadToken    = "token is not valid: mistyped, or made by another node (a token works only on the node where provex token create made it)"
	msgNoRole      = "token has no valid role"
	msgDefaultDeny = "no access rule allows %s: calls are denied by default"
)

// tokenFor names the tokens that meet req: "a bearer token" (any role),
// "an editor or admin token" or "an admin token".
func tokenFor(req Requirement) string {
	switch req {
	case RequireWrite:
		return "an editor or admin token"
	case RequireAdmin:
		return "an admin token"
	}
	return "a bearer token"
}
