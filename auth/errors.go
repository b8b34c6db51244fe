package auth

// Messages shared by several checks.
const (
	msgNeedToken   = "this call needs a bearer token: send 'authorization: Bearer <token>'"
	msgNeedPeer    = "%s is only for sync peers (mutual TLS): connect with a node certificate issued by the federation CA"
	msgPeerOnly    = "sync peers may only pull and announce; %s needs a bearer token"
	msgBadToken    = "token is not valid: mistyped, or made by another node (a token works only on the node where provex token create made it)"
	msgNoRole      = "token has no valid role"
	msgDefaultDeny = "no access rule allows %s: calls are denied by default"
)
