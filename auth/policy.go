package auth

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/provex/provex/internal/apperr"

	// The generated packages register provex's services in
	// protoregistry.GlobalFiles; DefaultPolicy reads them from there.
	_ "github.com/provex/provex/gen/go/provex/border/v1"
	_ "github.com/provex/provex/gen/go/provex/investment/v1"
	_ "github.com/provex/provex/gen/go/provex/national/v1"
	_ "github.com/provex/provex/gen/go/provex/node/v1"
	_ "github.com/provex/provex/gen/go/provex/sync/v1"
	_ "github.com/provex/provex/gen/go/provex/twinning/v1"
)

// Requirement is what a caller must be to call a method.
type Requirement int

const (
	// RequireDeny: no one may call. The zero value, and the answer for any
	// method the policy has no rule for.
	RequireDeny Requirement = iota
	// RequireOpen: anyone, anonymous callers included (health, reflection).
	RequireOpen
	// RequirePeer: a provex node over mutual TLS (sync Pull and Announce).
	RequirePeer
	// RequireRead: a viewer, editor or admin token.
	RequireRead
	// RequireWrite: an editor or admin token.
	RequireWrite
	// RequireAdmin: an admin token.
	RequireAdmin
)

func (r Requirement) String() string {
	switch r {
	case RequireDeny:
		return "deny"
	case RequireOpen:
		return "open"
	case RequirePeer:
		return "peer"
	case RequireRead:
		return "read"
	case RequireWrite:
		return "write"
	case RequireAdmin:
		return "admin"
	}
	return fmt.Sprintf("Requirement(%d)", int(r))
}

// Service and method names the default policy knows by name.
const (
	SyncService  = "provex.sync.v1.SyncService"
	AuditService = "provex.audit.v1.AuditService"

	MethodPull             = "/" + SyncService + "/Pull"
	MethodAnnounce         = "/" + SyncService + "/Announce"
	MethodGetSyncState     = "/" + SyncService + "/GetSyncState"
	MethodListAuditEntries = "/" + AuditService + "/ListAuditEntries"
	MethodVerifyAuditLog   = "/" + AuditService + "/VerifyAuditLog"
)

// openServices stay open to everyone: health checks and server reflection.
var openServices = []string{
	"grpc.health.v1.Health",
	"grpc.reflection.v1.ServerReflection",
	"grpc.reflection.v1alpha.ServerReflection",
}

// provexPackages are the proto packages whose services DefaultPolicy
// classifies. provex.audit.v1 is read if something in the program has
// registered it.
var provexPackages = []protoreflect.FullName{
	"provex.twinning.v1",
	"provex.border.v1",
	"provex.investment.v1",
	"provex.node.v1",
	"provex.national.v1",
	"provex.sync.v1",
	"provex.audit.v1",
}

// Policy maps gRPC full method names ("/package.Service/Method") to
// requirements. A rule for "/package.Service/*" covers every method of the
// service that has no rule of its own. Methods without a rule are denied.
// A Policy is safe for concurrent use.
type Policy struct {
	mu       sync.RWMutex
	methods  map[string]Requirement // "/pkg.Service/Method"
	services map[string]Requirement // "pkg.Service", from "/pkg.Service/*"
	// unserved are methods the policy allows whose handler refuses every
	// caller on this node (Unserved): Allowed leaves them out.
	unserved     map[string]bool
	unclassified []string
}

// NewPolicy returns a policy without rules: it denies everything.
func NewPolicy() *Policy {
	return &Policy{methods: map[string]Requirement{}, services: map[string]Requirement{}}
}

// DefaultPolicy returns provex's access policy: health and reflection open;
// sync Pull and Announce for peers; Get/List/Search/Summarize methods for
// any token; Create/Update/Delete/Undelete for editor and admin tokens; the
// audit service and GetSyncState for admin tokens. It reads the methods from
// the protobuf registry, so it should be called after package initialisation
// (from main or a test, not from a package-level variable). Registered provex
// methods that match no rule are denied and listed by Unclassified.
func DefaultPolicy() *Policy {
	p := NewPolicy()
	for _, svc := range openServices {
		p.Set("/"+svc+"/*", RequireOpen)
	}
	for _, pkg := range provexPackages {
		protoregistry.GlobalFiles.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
			svcs := fd.Services()
			for i := 0; i < svcs.Len(); i++ {
				sd := svcs.Get(i)
				ms := sd.Methods()
				for j := 0; j < ms.Len(); j++ {
					md := ms.Get(j)
					full := "/" + string(sd.FullName()) + "/" + string(md.Name())
					if req, ok := classify(string(sd.FullName()), string(md.Name())); ok {
						p.methods[full] = req
					} else {
						p.unclassified = append(p.unclassified, full)
					}
				}
			}
			return true
		})
	}
	// The audit service may not be generated yet; name its methods anyway.
	p.Set(MethodListAuditEntries, RequireAdmin)
	p.Set(MethodVerifyAuditLog, RequireAdmin)
	sort.Strings(p.unclassified)
	return p
}

// classify gives the requirement of a provex method from its service and
// name, or false when no rule matches (and the method stays denied).
func classify(service, method string) (Requirement, bool) {
	switch service {
	case SyncService:
		// Only the methods known to be safe; a new sync method stays
		// closed until someone decides who may call it.
		switch method {
		case "Pull", "Announce":
			return RequirePeer, true
		case "GetSyncState":
			// The node's peers, their addresses and last errors, and how
			// far behind each origin it is: the operators' business, as
			// /metrics is (THREATS A21). Viewers ask NationalService's
			// GetFreshness how fresh each province's records are.
			return RequireAdmin, true
		}
		return RequireDeny, false
	case AuditService:
		return RequireAdmin, true
	}
	for _, verb := range []string{"Get", "List", "Search", "Summarize"} {
		if hasVerb(method, verb) {
			return RequireRead, true
		}
	}
	for _, verb := range []string{"Create", "Update", "Delete", "Undelete"} {
		if hasVerb(method, verb) {
			return RequireWrite, true
		}
	}
	return RequireDeny, false
}

// hasVerb reports whether method is verb or starts with verb followed by an
// upper-case letter ("GetAgreement", not "Getaway").
func hasVerb(method, verb string) bool {
	if !strings.HasPrefix(method, verb) {
		return false
	}
	rest := method[len(verb):]
	return rest == "" || (rest[0] >= 'A' && rest[0] <= 'Z')
}

// splitMethod splits "/pkg.Service/Method" into its service and method.
func splitMethod(fullMethod string) (service, method string, ok bool) {
	if !strings.HasPrefix(fullMethod, "/") {
		return "", "", false
	}
	service, method, ok = strings.Cut(fullMethod[1:], "/")
	if !ok || service == "" || method == "" || strings.Contains(method, "/") {
		return "", "", false
	}
	return service, method, true
}

// Set gives fullMethod the requirement req, replacing any rule it had.
// fullMethod is "/package.Service/Method", or "/package.Service/*" for every
// method of the service without a rule of its own. A malformed name is a
// programming error and panics.
func (p *Policy) Set(fullMethod string, req Requirement) {
	service, method, ok := splitMethod(fullMethod)
	if !ok {
		panic(fmt.Sprintf("auth: Policy.Set: malformed method name %q: want /package.Service/Method or /package.Service/*", fullMethod))
	}
	if req < RequireDeny || req > RequireAdmin {
		panic(fmt.Sprintf("auth: Policy.Set(%q): unknown requirement %d", fullMethod, int(req)))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if method == "*" {
		p.services[service] = req
	} else {
		p.methods[fullMethod] = req
	}
	p.unclassified = removeMatching(p.unclassified, service, method)
}

func removeMatching(list []string, service, method string) []string {
	out := list[:0]
	for _, m := range list {
		s, n, _ := splitMethod(m)
		if s == service && (method == "*" || n == method) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// Requirement returns the requirement for fullMethod: its own rule, else its
// service's "/*" rule, else RequireDeny.
func (p *Policy) Requirement(fullMethod string) Requirement {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.requirementLocked(fullMethod)
}

func (p *Policy) requirementLocked(fullMethod string) Requirement {
	if req, ok := p.methods[fullMethod]; ok {
		return req
	}
	service, _, ok := splitMethod(fullMethod)
	if !ok {
		return RequireDeny
	}
	return p.services[service] // RequireDeny when absent
}

// Rules returns a copy of the policy's rules, service rules spelled
// "/package.Service/*".
func (p *Policy) Rules() map[string]Requirement {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make(map[string]Requirement, len(p.methods)+len(p.services))
	for m, r := range p.methods {
		out[m] = r
	}
	for s, r := range p.services {
		out["/"+s+"/*"] = r
	}
	return out
}

// Unclassified lists the registered provex methods DefaultPolicy found no
// rule for and that Set has not given one since; they are denied. A non-empty
// answer is worth a warning at start-up.
func (p *Policy) Unclassified() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return append([]string(nil), p.unclassified...)
}

// Authorize decides whether id may call fullMethod. It returns nil, an
// UNAUTHENTICATED error when credentials are missing and some would help, or
// a PERMISSION_DENIED error; messages tell the caller what would be needed.
func (p *Policy) Authorize(id Identity, fullMethod string) error {
	return authorize(p.Requirement(fullMethod), id, fullMethod)
}

func authorize(req Requirement, id Identity, fullMethod string) error {
	_, name, ok := splitMethod(fullMethod)
	if !ok {
		return apperr.PermissionDenied("malformed method name %q: calls are denied by default", printable(fullMethod))
	}
	switch req {
	case RequireOpen:
		return nil
	case RequirePeer:
		switch id.Kind {
		case KindPeer:
			if id.Member == "" {
				return apperr.PermissionDenied("peer certificate names no federation member")
			}
			return nil
		case KindAnonymous:
			return apperr.Unauthenticated(msgNeedPeer, name)
		default:
			return apperr.PermissionDenied(msgNeedPeer, name)
		}
	case RequireRead, RequireWrite, RequireAdmin:
		switch id.Kind {
		case KindUser:
		case KindAnonymous:
			return apperr.Unauthenticated(msgNeedToken)
		case KindPeer:
			return apperr.PermissionDenied(msgPeerOnly, name, tokenFor(req))
		default:
			return apperr.PermissionDenied("unknown kind of caller; calls are denied by default")
		}
		if !id.Role.Valid() {
			return apperr.PermissionDenied(msgNoRole)
		}
		switch {
		case req == RequireWrite && !id.Role.CanWrite():
			return apperr.PermissionDenied("%s tokens may only read; %s needs %s", id.Role, name, tokenFor(req))
		case req == RequireAdmin && !id.Role.CanAdmin():
			return apperr.PermissionDenied("%s tokens may not call %s; it needs %s", id.Role, name, tokenFor(req))
		}
		return nil
	}
	return apperr.PermissionDenied(msgDefaultDeny, fullMethod)
}

// Unserved names methods whose handlers refuse every caller on this node
// (a province's node writes no record the ministry alone owns), so that
// Allowed does not offer them. Their calls are authorized as before and
// refused by the handler, which says why.
func (p *Policy) Unserved(fullMethods ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unserved == nil {
		p.unserved = map[string]bool{}
	}
	for _, m := range fullMethods {
		p.unserved[m] = true
	}
}

// Allowed lists, sorted, the methods (and "/package.Service/*" rules) id may
// call: the answer to "what may I use here?".
func (p *Policy) Allowed(id Identity) []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []string
	for m, req := range p.methods {
		if authorize(req, id, m) == nil && !p.unserved[m] {
			out = append(out, m)
		}
	}
	for s, req := range p.services {
		m := "/" + s + "/*"
		if authorize(req, id, m) == nil {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}
