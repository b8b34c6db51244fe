package auth

import (
	"fmt"

	"google.golang.org/grpc/codes"

	"github.com/provex/provex/internal/apperr"
)

// unauthenticated builds an UNAUTHENTICATED application error. apperr has no
// constructor for this code, so the struct is filled in directly; apperr.Status
// and the gRPC server see it like any other *apperr.Error.
func unauthenticated(format string, args ...any) *apperr.Error {
	return &apperr.Error{Code: codes.Unauthenticated, Message: fmt.Sprintf(format, args...)}
}

// Messages shared by several checks.
const (
	msgNeedToken   = "this call needs a bearer token: send 'authorization: Bearer <token>'"
	msgNeedPeer    = "%s is only for sync peers (mutual TLS): connect with a node certificate issued by the federation CA"
	msgPeerOnly    = "sync peers may only pull and announce; %s needs a bearer token"
	msgBadToken    = "token is not valid"
	msgNoRole      = "token has no valid role"
	msgDefaultDeny = "no access rule allows %s: calls are denied by default"
)
