package auth

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

const (
	mCreate    = "/provex.twinning.v1.TwinningService/CreateAgreement"
	mList      = "/provex.twinning.v1.TwinningService/ListAgreements"
	mUndelete  = "/provex.border.v1.BorderService/UndeleteBorderGate"
	mNodeInfo  = "/provex.node.v1.NodeService/GetNodeInfo"
	mSearch    = "/provex.national.v1.NationalService/SearchRecords"
	mSummarize = "/provex.national.v1.NationalService/Summarize"
	mHealth    = "/grpc.health.v1.Health/Check"
	mWatch     = "/grpc.health.v1.Health/Watch"
	mRefl      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	mReflA     = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
	mUnknown   = "/provex.twinning.v1.TwinningService/DropAllTables"
	mOtherSvc  = "/provex.secret.v1.SecretService/GetSecret"
)

var (
	anon     = Anonymous
	viewer   = Identity{Kind: KindUser, Member: "cao-bang", Role: RoleViewer, TokenID: "0000000000000001"}
	editor   = Identity{Kind: KindUser, Member: "cao-bang", Role: RoleEditor, TokenID: "0000000000000002"}
	admin    = Identity{Kind: KindUser, Member: "cao-bang", Role: RoleAdmin, TokenID: "0000000000000003"}
	ministry = Identity{Kind: KindUser, Member: "mofa", Role: RoleEditor, TokenID: "0000000000000004"}
	peer     = Peer("nghe-an")
	noRole   = Identity{Kind: KindUser, Member: "cao-bang", TokenID: "0000000000000005"}
	noMember = Identity{Kind: KindPeer}
)

func TestAuthorize(t *testing.T) {
	p := DefaultPolicy()
	const (
		ok     = codes.OK
		unauth = codes.Unauthenticated
		deny   = codes.PermissionDenied
	)
	type tc struct {
		method string
		id     Identity
		code   codes.Code
		msg    string
	}
	cases := []tc{
		// Open services.
		{mHealth, anon, ok, ""},
		{mWatch, anon, ok, ""},
		{mRefl, anon, ok, ""},
		{mReflA, anon, ok, ""},
		{mHealth, peer, ok, ""},
		{mRefl, viewer, ok, ""},

		// Reads.
		{mList, anon, unauth, "this call needs a bearer token: send 'authorization: Bearer <token>'"},
		{mList, viewer, ok, ""},
		{mList, editor, ok, ""},
		{mList, admin, ok, ""},
		{mList, ministry, ok, ""},
		{mList, peer, deny, "the peer endpoint serves sync peers Pull and Announce only; call ListAgreements on the node's API address (its gRPC or HTTP listener) with a bearer token"},
		{mList, noRole, deny, "token has no valid role"},
		{mNodeInfo, viewer, ok, ""},
		{mNodeInfo, anon, unauth, "bearer token"},
		{mSearch, viewer, ok, ""},
		{mSummarize, viewer, ok, ""},
		{MethodGetSyncState, viewer, deny, "viewer tokens may not call GetSyncState; it needs an admin token"},
		{MethodGetSyncState, editor, deny, "needs an admin token"},
		{MethodGetSyncState, admin, ok, ""},
		{MethodGetSyncState, peer, deny, "call GetSyncState on the node's API address (its gRPC or HTTP listener) with an admin token"},

		// Writes.
		{mCreate, anon, unauth, "this call needs a bearer token"},
		{mCreate, viewer, deny, "viewer tokens may only read; CreateAgreement needs an editor or admin token"},
		{mCreate, editor, ok, ""},
		{mCreate, admin, ok, ""},
		{mCreate, ministry, ok, ""},
		{mCreate, peer, deny, "call CreateAgreement on the node's API address (its gRPC or HTTP listener) with an editor or admin token"},
		{mUndelete, viewer, deny, "UndeleteBorderGate needs an editor or admin token"},
		{mUndelete, editor, ok, ""},

		// Sync.
		{MethodPull, peer, ok, ""},
		{MethodAnnounce, peer, ok, ""},
		{MethodPull, anon, unauth, "Pull is only for sync peers, on a node's peer endpoint (its member's address in the federation manifest) with a node certificate issued by the federation CA; this API endpoint takes bearer tokens, not certificates"},
		{MethodPull, admin, deny, "Pull is only for sync peers, on a node's peer endpoint"},
		{MethodAnnounce, editor, deny, "Announce is only for sync peers, on a node's peer endpoint"},
		{MethodPull, noMember, deny, "names no federation member"},

		// Audit (named even before the service exists).
		{MethodListAuditEntries, admin, ok, ""},
		{MethodVerifyAuditLog, admin, ok, ""},
		{MethodListAuditEntries, editor, deny, "editor tokens may not call ListAuditEntries; it needs an admin token"},
		{MethodVerifyAuditLog, viewer, deny, "needs an admin token"},
		{MethodListAuditEntries, anon, unauth, "bearer token"},
		{MethodListAuditEntries, peer, deny, "call ListAuditEntries on the node's API address (its gRPC or HTTP listener) with an admin token"},

		// Unknown: denied for everyone, even admins.
		{mUnknown, admin, deny, "denied by default"},
		{mUnknown, anon, deny, "denied by default"},
		{mUnknown, peer, deny, "denied by default"},
		{mOtherSvc, admin, deny, "denied by default"},
		{"/provex.audit.v1.AuditService/DeleteAuditLog", admin, deny, "denied by default"},
		{"/provex.sync.v1.SyncService/Push", peer, deny, "denied by default"},
		{"", admin, deny, "malformed method name"},
		{"provex.twinning.v1.TwinningService/ListAgreements", admin, deny, "malformed method name"},
		{"/provex.twinning.v1.TwinningService/ListAgreements/x", admin, deny, "malformed method name"},
		{"/grpc.health.v1.Health/", anon, deny, "malformed method name"},
		{"/grpc.health.v1.Health/*", anon, ok, ""},

		// Unknown identity kind.
		{mList, Identity{Kind: 9, Role: RoleAdmin}, deny, "unknown kind of caller"},
	}
	for _, c := range cases {
		err := p.Authorize(c.id, c.method)
		if c.code == codes.OK {
			if err != nil {
				t.Errorf("%s as %v: %v, want allowed", c.method, c.id, err)
			}
			continue
		}
		t.Run(c.method+" as "+c.id.String(), func(t *testing.T) { wantCode(t, err, c.code, c.msg) })
	}
}

func TestRequirementByClass(t *testing.T) {
	p := DefaultPolicy()
	want := map[string]Requirement{
		mCreate:   RequireWrite,
		mList:     RequireRead,
		mUndelete: RequireWrite,
		"/provex.investment.v1.InvestmentService/DeleteProject": RequireWrite,
		"/provex.investment.v1.InvestmentService/UpdateProject": RequireWrite,
		"/provex.border.v1.BorderService/GetBorderGate":         RequireRead,
		mNodeInfo: RequireRead,
		"/provex.node.v1.NodeService/ListProvinces":        RequireRead,
		"/provex.national.v1.NationalService/GetFreshness": RequireRead,
		mSearch:                RequireRead,
		mSummarize:             RequireRead,
		MethodPull:             RequirePeer,
		MethodAnnounce:         RequirePeer,
		MethodGetSyncState:     RequireAdmin,
		MethodListAuditEntries: RequireAdmin,
		MethodVerifyAuditLog:   RequireAdmin,
		mHealth:                RequireOpen,
		mRefl:                  RequireOpen,
		mReflA:                 RequireOpen,
		mUnknown:               RequireDeny,
		mOtherSvc:              RequireDeny,
	}
	for m, r := range want {
		if got := p.Requirement(m); got != r {
			t.Errorf("Requirement(%s) = %v, want %v", m, got, r)
		}
	}
}

// TestEveryProvexMethodClassified walks the registry the way a server would
// see it and checks that no provex method is left denied by accident.
func TestEveryProvexMethodClassified(t *testing.T) {
	p := DefaultPolicy()
	if u := p.Unclassified(); len(u) != 0 {
		t.Errorf("methods without a rule (denied): %v", u)
	}
	n := 0
	services := map[string]bool{}
	for _, pkg := range provexPackages {
		protoregistry.GlobalFiles.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
			for i := 0; i < fd.Services().Len(); i++ {
				sd := fd.Services().Get(i)
				services[string(sd.FullName())] = true
				for j := 0; j < sd.Methods().Len(); j++ {
					m := "/" + string(sd.FullName()) + "/" + string(sd.Methods().Get(j).Name())
					n++
					if p.Requirement(m) == RequireDeny {
						t.Errorf("%s is denied to everyone", m)
					}
				}
			}
			return true
		})
	}
	for _, s := range []string{
		"provex.twinning.v1.TwinningService", "provex.border.v1.BorderService",
		"provex.investment.v1.InvestmentService", "provex.node.v1.NodeService",
		"provex.national.v1.NationalService", "provex.sync.v1.SyncService",
	} {
		if !services[s] {
			t.Errorf("service %s not found in the registry", s)
		}
	}
	if n < 50 {
		t.Errorf("only %d provex methods in the registry; are the generated packages imported?", n)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		svc, method string
		want        Requirement
		ok          bool
	}{
		{"provex.x.v1.S", "GetThing", RequireRead, true},
		{"provex.x.v1.S", "Get", RequireRead, true},
		{"provex.x.v1.S", "Getaway", RequireDeny, false},
		{"provex.x.v1.S", "Listen", RequireDeny, false},
		{"provex.x.v1.S", "Summarize", RequireRead, true},
		{"provex.x.v1.S", "SummarizeAll", RequireRead, true},
		{"provex.x.v1.S", "SearchThings", RequireRead, true},
		{"provex.x.v1.S", "CreateThing", RequireWrite, true},
		{"provex.x.v1.S", "UndeleteThing", RequireWrite, true},
		{"provex.x.v1.S", "Deleted", RequireDeny, false},
		{"provex.x.v1.S", "PurgeThing", RequireDeny, false},
		{"provex.x.v1.S", "Pull", RequireDeny, false},
		{SyncService, "Pull", RequirePeer, true},
		{SyncService, "ListChanges", RequireDeny, false},
		{AuditService, "GetAuditEntry", RequireAdmin, true},
	}
	for _, c := range cases {
		got, ok := classify(c.svc, c.method)
		if got != c.want || ok != c.ok {
			t.Errorf("classify(%s, %s) = %v, %v; want %v, %v", c.svc, c.method, got, ok, c.want, c.ok)
		}
	}
}

func TestPolicySet(t *testing.T) {
	p := NewPolicy()
	if err := p.Authorize(admin, mList); err == nil {
		t.Fatal("empty policy allowed a call")
	}
	p.Set("/provex.audit.v1.AuditService/*", RequireAdmin)
	p.Set("/provex.audit.v1.AuditService/Ping", RequireOpen)
	if got := p.Requirement("/provex.audit.v1.AuditService/Anything"); got != RequireAdmin {
		t.Fatalf("service rule: %v", got)
	}
	if got := p.Requirement("/provex.audit.v1.AuditService/Ping"); got != RequireOpen {
		t.Fatalf("method rule does not override the service rule: %v", got)
	}
	p.Set("/provex.audit.v1.AuditService/Ping", RequireDeny)
	if err := p.Authorize(admin, "/provex.audit.v1.AuditService/Ping"); err == nil {
		t.Fatal("explicit deny allowed")
	}

	for _, bad := range []string{"", "/", "//", "/svc", "svc/M", "/svc/", "//M", "/svc/a/b"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Set(%q) did not panic", bad)
				}
			}()
			p.Set(bad, RequireOpen)
		}()
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Set with an unknown requirement did not panic")
			}
		}()
		p.Set("/a.S/M", Requirement(99))
	}()

	// Set clears a method from Unclassified.
	d := DefaultPolicy()
	d.unclassified = []string{"/provex.x.v1.S/Frob", "/provex.x.v1.S/Twiddle", "/provex.y.v1.T/Frob"}
	d.Set("/provex.x.v1.S/Frob", RequireAdmin)
	if got := d.Unclassified(); !slices.Equal(got, []string{"/provex.x.v1.S/Twiddle", "/provex.y.v1.T/Frob"}) {
		t.Fatalf("Unclassified = %v", got)
	}
	d.Set("/provex.x.v1.S/*", RequireRead)
	if got := d.Unclassified(); !slices.Equal(got, []string{"/provex.y.v1.T/Frob"}) {
		t.Fatalf("Unclassified = %v", got)
	}
}

func TestAllowed(t *testing.T) {
	p := DefaultPolicy()
	open := []string{
		"/grpc.health.v1.Health/*",
		"/grpc.reflection.v1.ServerReflection/*",
		"/grpc.reflection.v1alpha.ServerReflection/*",
	}
	if got := p.Allowed(anon); !slices.Equal(got, open) {
		t.Errorf("anonymous may call %v, want %v", got, open)
	}
	wantPeer := append([]string{MethodAnnounce, MethodPull}, open...)
	slices.Sort(wantPeer)
	if got := p.Allowed(peer); !slices.Equal(got, wantPeer) {
		t.Errorf("peer may call %v, want %v", got, wantPeer)
	}

	rules := p.Rules()
	for _, who := range []Identity{anon, viewer, editor, admin, peer, noRole} {
		got := p.Allowed(who)
		if !slices.IsSorted(got) {
			t.Errorf("Allowed(%v) not sorted", who)
		}
		// Allowed agrees with Authorize on every rule.
		for m := range rules {
			if want := p.Authorize(who, m) == nil; want != slices.Contains(got, m) {
				t.Errorf("Allowed(%v) and Authorize disagree on %s", who, m)
			}
		}
	}
	v, e, a := p.Allowed(viewer), p.Allowed(editor), p.Allowed(admin)
	if !(len(v) < len(e) && len(e) < len(a)) {
		t.Errorf("viewer %d, editor %d, admin %d methods: want strictly more for each", len(v), len(e), len(a))
	}
	if slices.Contains(v, mCreate) || !slices.Contains(v, mList) || !slices.Contains(e, mCreate) {
		t.Error("viewer/editor lists are wrong")
	}
	if slices.Contains(a, MethodPull) || slices.Contains(e, MethodListAuditEntries) || !slices.Contains(a, MethodListAuditEntries) {
		t.Error("admin/editor lists are wrong")
	}
	for _, m := range e {
		if strings.Contains(m, "SyncService/Pull") {
			t.Error("editor may pull")
		}
	}
}

func TestRequirementString(t *testing.T) {
	for r, s := range map[Requirement]string{RequireDeny: "deny", RequireOpen: "open", RequirePeer: "peer",
		RequireRead: "read", RequireWrite: "write", RequireAdmin: "admin", 17: "Requirement(17)"} {
		if r.String() != s {
			t.Errorf("%d.String() = %q", int(r), r.String())
		}
	}
}
