// Command apidoc writes docs/API.md, the reference of provex's gRPC services
// and HTTP/JSON gateway, from the schema compiled into it: services, methods
// and HTTP bindings come from the registered descriptors of the generated
// packages, resource kinds and their filterable fields from resource.Kinds()
// (so the document lists exactly what the server accepts), and page sizes
// from services/collection. protoc-gen-go drops source comments from the
// descriptors, so descriptions are read from the .proto files under -proto.
//
// Usage:
//
//	go run ./scripts/apidoc [-proto proto] [docs/API.md]
//
// Without a path the document goes to standard output. The output is
// deterministic; scripts/gen.sh regenerates it and --check compares it.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/provex/provex/auth"
	_ "github.com/provex/provex/gen/go/provex/audit/v1"
	_ "github.com/provex/provex/gen/go/provex/border/v1"
	_ "github.com/provex/provex/gen/go/provex/investment/v1"
	_ "github.com/provex/provex/gen/go/provex/national/v1"
	_ "github.com/provex/provex/gen/go/provex/node/v1"
	_ "github.com/provex/provex/gen/go/provex/sync/v1"
	_ "github.com/provex/provex/gen/go/provex/twinning/v1"
	_ "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/sampledata"
	"github.com/provex/provex/services/collection"
)

const (
	exampleProvince = "cao-bang"
	grpcAddr        = "localhost:7400"
	httpAddr        = "http://localhost:8400"
)

var verbs = []string{"Get", "List", "Create", "Update", "Delete", "Undelete"}

// aip links each standard verb to its AIP.
var aip = map[string]string{
	"Get": "131", "List": "132", "Create": "133", "Update": "134", "Delete": "135", "Undelete": "164",
}

// standardFields are carried by every resource; a kind whose .proto leaves
// one undocumented borrows the comment of the first kind that documents it.
var standardFields = []protoreflect.Name{"visibility", "visible_to", "etag", "create_time", "update_time", "delete_time"}

func main() {
	protoDir := flag.String("proto", "proto", "directory of the .proto sources, read for comments")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: apidoc [-proto dir] [output.md]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 1 {
		flag.Usage()
		os.Exit(2)
	}
	c, err := readComments(*protoDir)
	if err != nil {
		fail(err)
	}
	if len(c) == 0 {
		fail(fmt.Errorf("no comments found in %s: is -proto the proto source directory?", *protoDir))
	}
	g := newGen(c)
	g.write()
	if flag.NArg() == 0 {
		_, err = os.Stdout.Write(g.buf.Bytes())
	} else {
		if err = os.MkdirAll(filepath.Dir(flag.Arg(0)), 0o755); err == nil {
			err = os.WriteFile(flag.Arg(0), g.buf.Bytes(), 0o644)
		}
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "apidoc:", err)
	os.Exit(1)
}

type gen struct {
	buf      bytes.Buffer
	comments comments
	kinds    []*resource.Kind
	files    []protoreflect.FileDescriptor // provex files, services' files first
	// anchors maps every documented message and enum to its link target.
	anchors map[protoreflect.FullName]string
	std     map[protoreflect.Name]string // standard field comments
	// kindMethods maps a standard method to its kind and verb.
	kindMethods map[protoreflect.FullName]kindVerb
	// covered are the messages and enums documented with a kind or as
	// standard method requests and responses.
	covered map[protoreflect.FullName]bool
	// filterEnums are the enums some filterable field has.
	filterEnums map[protoreflect.FullName]bool
}

type kindVerb struct {
	kind *resource.Kind
	verb string
}

func newGen(c comments) *gen {
	g := &gen{
		comments:    c,
		kinds:       resource.Kinds(),
		anchors:     map[protoreflect.FullName]string{},
		std:         map[protoreflect.Name]string{},
		kindMethods: map[protoreflect.FullName]kindVerb{},
		covered:     map[protoreflect.FullName]bool{},
		filterEnums: map[protoreflect.FullName]bool{},
	}
	var rest []protoreflect.FileDescriptor
	seen := map[string]bool{}
	for _, k := range g.kinds {
		fd := k.Message.Descriptor().ParentFile()
		if !seen[fd.Path()] {
			seen[fd.Path()] = true
			g.files = append(g.files, fd)
		}
	}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(fd.Path(), "provex/") && !seen[fd.Path()] {
			rest = append(rest, fd)
		}
		return true
	})
	sort.Slice(rest, func(i, j int) bool { return rest[i].Path() < rest[j].Path() })
	g.files = append(g.files, rest...)

	for _, k := range g.kinds {
		md := k.Message.Descriptor()
		walkMessage(md, func(d protoreflect.Descriptor) { g.covered[d.FullName()] = true })
		for _, v := range verbs {
			m := k.Method(v)
			g.kindMethods[m.FullName()] = kindVerb{k, v}
			g.covered[m.Input().FullName()] = true
			g.anchors[m.Input().FullName()] = "standard-" + strings.ToLower(v)
			if m.Output().FullName() != md.FullName() {
				g.covered[m.Output().FullName()] = true
				g.anchors[m.Output().FullName()] = "standard-" + strings.ToLower(v)
			}
		}
		for _, f := range k.Schema.Fields() {
			if f.Enum != nil {
				g.filterEnums[f.Enum.FullName()] = true
			}
		}
		for _, n := range standardFields {
			if f := md.Fields().ByName(n); f != nil && g.std[n] == "" {
				g.std[n] = g.comments[string(f.FullName())]
			}
		}
	}
	for _, fd := range g.files {
		walkFile(fd, func(d protoreflect.Descriptor) {
			if g.anchors[d.FullName()] == "" {
				g.anchors[d.FullName()] = anchor(d.FullName())
			}
		})
	}
	return g
}

// walkMessage calls f for md and every message and enum declared in it.
func walkMessage(md protoreflect.MessageDescriptor, f func(protoreflect.Descriptor)) {
	f(md)
	for i := 0; i < md.Enums().Len(); i++ {
		f(md.Enums().Get(i))
	}
	for i := 0; i < md.Messages().Len(); i++ {
		if nested := md.Messages().Get(i); !nested.IsMapEntry() {
			walkMessage(nested, f)
		}
	}
}

// walkFile calls f for every message and enum of fd in declaration order,
// top-level enums first.
func walkFile(fd protoreflect.FileDescriptor, f func(protoreflect.Descriptor)) {
	for i := 0; i < fd.Enums().Len(); i++ {
		f(fd.Enums().Get(i))
	}
	for i := 0; i < fd.Messages().Len(); i++ {
		walkMessage(fd.Messages().Get(i), f)
	}
}

func (g *gen) p(format string, args ...any) {
	fmt.Fprintf(&g.buf, format, args...)
	g.buf.WriteByte('\n')
}

func (g *gen) comment(d protoreflect.Descriptor) string {
	return g.comments[string(d.FullName())]
}

func (g *gen) valueComment(v protoreflect.EnumValueDescriptor) string {
	return g.comments[string(v.Parent().FullName())+"."+string(v.Name())]
}

func (g *gen) write() {
	g.intro()
	g.validation()
	g.services()
	g.standardMethods()
	g.resources()
	g.otherTypes()
	// One trailing newline.
	b := bytes.TrimRight(g.buf.Bytes(), "\n")
	g.buf.Truncate(len(b))
	g.buf.WriteByte('\n')
}

// authentication says who may call what, and how to send a token: the
// policy is auth.DefaultPolicy's, the header auth.AuthorizationKey.
func (g *gen) authentication() {
	p := g.p
	p("## Authentication")
	p("")
	p("Every call needs a bearer token, except the gRPC health service, server reflection, `NodeService.GetCaller` (who am I, what may I call) and, over HTTP, `GET /healthz` and `GET /openapi.json`. Send the token as the `%s` metadata of a gRPC call and as the `Authorization` header of an HTTP request, in both cases `Bearer <token>`.", auth.AuthorizationKey)
	p("")
	p("**A token is good on the node that made it, and only there.** Tokens are made on the node's own machine with `provex token create --data DIR --role ROLE [--label L] [--expires 720h]` (it prints the token once; the node keeps only its SHA-256), listed with `provex token list` and revoked with `provex token revoke ID`. To ask the ministry's node for national figures, use a token of the ministry's node; a province's token is refused there with `UNAUTHENTICATED`. The data a node answers with is what its member may read: its own records, and what the other members shared with it.")
	p("")
	p("| role | may call |")
	p("|---|---|")
	p("| anyone | health, reflection, `NodeService.GetCaller`, `GET /healthz`, `GET /openapi.json` |")
	p("| `viewer` | every Get, List, Search, Summarize (and the CSV summaries) and `NodeService` |")
	p("| `editor` | and Create, Update, Delete, Undelete of the records owned by the node's member (the ministry's are `provinces/mofa/...`) |")
	p("| `admin` | and the audit trail (`AuditService`), the node's sync state (`SyncService.GetSyncState`, `provex sync status`: its peers and how far behind each origin it is) and `GET /metrics` |")
	p("")
	p("Missing, malformed, unknown, expired or revoked tokens give `UNAUTHENTICATED` (HTTP 401); a call the token's role may not make gives `PERMISSION_DENIED` (403). Each message says what would be needed. Calls are rate-limited per token (`RESOURCE_EXHAUSTED`, 429). Over HTTP, the token, the rate and the role are checked from the request's headers before the body is read: a call they refuse is answered 401, 403 or 429 whatever its body holds, and only then is a body that the gateway cannot read into the method's message (not JSON, an unknown field, a value of the wrong type, text holding U+0000, a time outside the API's range) refused 400.")
	p("")
	p("Nodes do not use tokens with each other: a peer is a provex node that presents its certificate from the federation CA over mutual TLS, on the sync port, and may call only `SyncService.Pull` and `Announce`. A node started without `--dev` also serves its API over TLS with that certificate: clients trust the federation CA (`PROVEX_CA` for the provex command, `-cacert` for grpcurl, `--cacert` for curl) instead of `-plaintext` and `http://`.")
	p("")
	p("With the demo running (`provex demo`), each node's admin token is in `provex-demo/{member}/admin.token`; the examples below talk to Cao Bằng's node:")
	p("")
	p("```sh")
	p("export PROVEX_TOKEN=$(cat provex-demo/%s/admin.token)", exampleProvince)
	p("grpcurl -plaintext -H \"authorization: Bearer $PROVEX_TOKEN\" %s provex.node.v1.NodeService/GetCaller", grpcAddr)
	p("curl -s -H \"Authorization: Bearer $PROVEX_TOKEN\" %s/v1/provinces/%s/agreements", httpAddr, exampleProvince)
	p("provex token create --data provex-demo/%s --role viewer --label analyst", exampleProvince)
	p("```")
	p("")
}

func (g *gen) intro() {
	p := g.p
	p("<!-- Code generated by scripts/apidoc from proto/ and resource/. DO NOT EDIT. -->")
	p("")
	p("# provex API reference")
	p("")
	p("provex serves every API twice: as gRPC services (default `%s`, with server reflection) and as an HTTP/JSON gateway (default `%s`) whose routes come from the `google.api.http` annotations below. JSON uses the proto field names (`display_name`, not `displayName`). The OpenAPI v2 document of the gateway is served at `GET /openapi.json`.", grpcAddr, httpAddr)
	p("")
	p("## Contents")
	p("")
	p("- [Authentication](#authentication)")
	p("- [Conventions](#conventions)")
	p("- [Filtering](#filtering)")
	p("- [Validation](#validation)")
	p("- [Services](#services)")
	p("- [Standard methods](#standard-methods)")
	p("- [Resources](#resources)")
	for _, k := range g.kinds {
		p("  - [%s](#%s) (`%s`)", k.Message.Descriptor().Name(), anchor(k.Message.Descriptor().FullName()), k.Collection)
	}
	p("- [Other types](#other-types)")
	p("")
	g.authentication()

	p("## Conventions")
	p("")
	p("**Resource names.** Every record is named under the province that owns it: `provinces/{province}/{collection}/{id}`, e.g. `provinces/%s/agreements/lao-cai-yunnan-2024`. `{province}` is a province slug (`NodeService.ListProvinces`), or `mofa` for the records the ministry owns, `{collection}` one of the collections below, `{id}` a lower-case letter followed by at most 62 lower-case letters, digits or hyphens. Create takes the id in `{resource}_id`, or chooses one when it is empty.", exampleProvince)
	p("")
	p("**Listing.** List takes `parent` = `provinces/{province}`, or `provinces/-` for every province this node holds. `page_size` defaults to %d and is capped at %d (larger values are served as %d); pass `next_page_token` back as `page_token`, with the same `parent`, `filter`, `order_by` and `show_deleted`, until it comes back empty. `order_by` is a comma-separated list of the filterable, non-repeated fields of the kind, each optionally followed by `asc` or `desc`. Without order_by, records come in the order they arrived at this node (creation order for its own records, sync order for others), which also breaks ties.", collection.DefaultPageSize, collection.MaxPageSize, collection.MaxPageSize)
	p("")
	p("**Concurrency.** Every record has an `etag` that changes on every write. Update (the etag in the record), Delete and Undelete (the `etag` request field) take it optionally; when it is set and no longer matches the stored record, the call fails with `ABORTED` and changes nothing: read again and retry. Over HTTP it goes in the body (a PATCH's record, an Undelete's `etag`) or, for a Delete, in `?etag=`; HTTP's own preconditions are not honoured, so a write carrying `If-Match`, `If-None-Match` or `If-Unmodified-Since` is refused with `INVALID_ARGUMENT` naming the header rather than made unconditional.")
	p("")
	p("**Idempotent create.** Create takes an optional `request_id` ([AIP-155](https://google.aip.dev/155)): a retry of the same request (the same `parent`, `{resource}_id` and record, output-only fields aside) with the same `request_id` returns the record the first call created, as it is now, instead of creating another. Request ids are kept by the node that took them, outside its change log: a node restored (from a backup, or from its peers) knows none it took after that backup (from peers, none), so a retry there creates the record again if the server chose its id, and is refused with `ALREADY_EXISTS` if the client did: choose the id to tell a lost answer from a second record. The same `request_id` with a different request is refused with `INVALID_ARGUMENT` naming `request_id`: use a new id for each new request. Update, Delete and Undelete take no `request_id`: sending the same update again changes nothing, and with the etag a retry fails with `ABORTED` instead of overwriting a newer change. (The `x-request-id` header is separate: it tags a call in the logs and is echoed as `X-Request-Id`.)")
	p("")
	p("**Updates.** Update follows [AIP-134](https://google.aip.dev/134) in the same way over gRPC and HTTP, where `update_mask` (a `google.protobuf.FieldMask`) is a comma-separated query parameter of the PATCH:")
	p("")
	p("- Without `update_mask` (or with an empty one), the fields populated in the record change and every other field stays. A message field that is present is replaced whole: `\"signed_date\": {\"year\": 2025}` leaves no month or day. A field at its zero value (`\"\"`, `0`, `false`, an empty list, the `_UNSPECIFIED` enum value) is not populated, since proto3 cannot tell it from an absent one, and JSON is read the same way: to clear a field, name it in `update_mask`.")
	p("- With `update_mask`, exactly the named fields change: to their value in the record, or cleared where the record leaves them unset. A path may name a field inside a message (`signed_date.day`).")
	p("- `update_mask=*` replaces every writable field, clearing those the record leaves unset.")
	p("")
	p("Output-only fields (%s: the name and the fields the schema annotates `OUTPUT_ONLY`) may be sent back in the record as read (`name` says which record, `etag` is the concurrency check) and are otherwise ignored; a mask that names one is refused with `INVALID_ARGUMENT` naming `update_mask`. The record is validated after the mask is applied. An update that changes nothing writes nothing: it returns the record with its `etag` and `update_time` as they were.", outputOnly())
	p("")
	p("**Soft delete.** Delete sets `delete_time` and keeps the record as a tombstone, which syncs to other nodes and can be restored with Undelete. Get returns deleted records; List skips them unless `show_deleted` is true. Updating a deleted record fails with `FAILED_PRECONDITION`, deleting it again with `NOT_FOUND`; creating a record under the name of a deleted one fails with `ALREADY_EXISTS`.")
	p("")
	p("**Visibility.** `visibility` decides which other provinces see a record (see [provex.type.v1.Visibility](#%s)); `visible_to` lists the province slugs a `VISIBILITY_RESTRICTED` record is shared with.", anchor("provex.type.v1.Visibility"))
	p("")
	g.numbers()
	p("### Errors")
	p("")
	p("Failures are gRPC statuses. `INVALID_ARGUMENT` carries a `google.rpc.BadRequest` detail with one field violation per bad field, its `field` a path into the request such as `agreement.signed_date.month` or `filter`. Text that is not UTF-8 (in a gRPC message, a URL path or query parameter, or a JSON body) is `INVALID_ARGUMENT` naming the field; so are an unknown field and a value of the wrong type in a JSON body (the body of a POST or PATCH is the request's record field, so its paths start `agreement.`); a gRPC message that is not protobuf, and a JSON body that is not JSON, are `INVALID_ARGUMENT` too, as is a number in a gRPC message that its int32, enum or uint32 field cannot hold (protobuf would keep its low 32 bits alone), naming the field. Unexpected failures are `INTERNAL` with only a reference to the server log: the call's request id, in the message and as a `google.rpc.RequestInfo` detail, under which the node logs the full error. The gateway answers with the HTTP status below and a JSON `google.rpc.Status` body (`code`, `message`, `details`).")
	p("")
	p("| gRPC code | HTTP status | Typical cause |")
	p("|---|---|---|")
	for _, e := range []struct {
		code  codes.Code
		cause string
	}{
		{codes.InvalidArgument, "malformed name, filter, order_by, page_token or field values (with BadRequest field violations)"},
		{codes.NotFound, "no such record, or Delete of a record already deleted"},
		{codes.AlreadyExists, "Create with an id that is taken (also by a deleted record); Undelete of a record that is not deleted"},
		{codes.Aborted, "the `etag` sent no longer matches the record"},
		{codes.FailedPrecondition, "Update of a deleted record"},
		{codes.OutOfRange, "a summary whose group or total does not fit in int64 (the message names it)"},
		{codes.PermissionDenied, "a write to a record of another province than this node's"},
		{codes.ResourceExhausted, "too many calls from one identity or in flight; a gRPC message larger than the server accepts (an HTTP body over the limit is 413); a write when the node's disk is full (nothing of it stored)"},
		{codes.Unavailable, "the node is shutting down, its database file is damaged, or its PostgreSQL server cannot be reached, or its stored copy of a record waits for repair from peers; retry elsewhere or later (a Create with a `request_id` is made at most once, except across a restore of the node's data: see Idempotent create)"},
		{codes.DataLoss, "the node's row of a record disagrees with the change-log entry it names, which verifies: the row was changed outside the node, and no repair from peers mends it; the message says what the operator can do"},
		{codes.DeadlineExceeded, "the call's deadline passed"},
		{codes.Canceled, "the caller went away"},
		{codes.Internal, "a bug; quote the reference from the message"},
	} {
		p("| `%s` (%d) | %d | %s |", codeName(e.code), e.code, runtime.HTTPStatusFromCode(e.code), e.cause)
	}
	p("")
	p("A refusal the node answers itself that trying again later may not meet carries a `google.rpc.RetryInfo` detail, its `retry_delay` how long to wait first, and over HTTP also a `Retry-After` header (whole seconds, rounded up): for a rate limit, the time until the identity's bucket holds a call again (at most one call's share of `--rate-limit`, and at most an hour); too many calls in flight, or the audit trail behind in recording reads, 1 s; the node shutting down, or its PostgreSQL server out of reach, past its `statement_timeout`, or a read past its `lock_timeout` on a locked table, 5 s; a record's stored copy, or the node's own log, waiting for repair from peers, and a write refused by a PostgreSQL database that takes no writes (read-only, SQLSTATE 25006: a standby after a failover, or `default_transaction_read_only`), 10 s; a full disk, a minute, since room is made by an operator. A refusal without it says in its message what to do instead (a body or message over the size limit, a damaged database file, a peer with all its pulls open). gRPC calls reset over the in-flight cap, and calls grpc-go refuses while the node shuts down, are `UNAVAILABLE` with no detail: a client that retries `UNAVAILABLE` (a gRPC retry policy, its own loop) retries those too. grpc-go retries nothing by itself but a call that never reached the server, and provex's own client and CLI do not retry (`client.Dial` takes no service config from the name resolver, so a DNS TXT record `_grpc_config.HOST` cannot add a retry policy): give a Create a `request_id` to run it again safely.")
	p("")
	p("Over HTTP, a path that names no method is 404 (`NOT_FOUND`), a method the path does not take 405 (`UNIMPLEMENTED`, with an `Allow` header naming the methods it takes; a POST is a POST whatever its content type: the `X-HTTP-Method-Override` header is not read, and a form-encoded POST is not served as a GET), and a body over the size limit 413 (`RESOURCE_EXHAUSTED`), all with the same JSON body. Every response, errors included, carries `X-Request-Id` (gRPC: `x-request-id` in the headers): the caller's own if it is 1 to 64 printable ASCII characters other than space, else a new one. A gRPC method the node does not serve is `UNIMPLEMENTED` with an id like any call. The exceptions are answers written before the node sees a call: a unary gRPC request message over the size limit (grpc-go refuses it `RESOURCE_EXHAUSTED` before any interceptor), and HTTP requests that net/http refuses itself (431 for headers over 64 KiB, 400 for a request it cannot parse).")
	p("")

	p("## Filtering")
	p("")
	p("List's `filter` is the [AIP-160](https://google.aip.dev/160) subset documented in `internal/filter`: restrictions `field comparator value` on the filterable fields listed with each resource (and nothing else), combined with `AND`, `OR`, `NOT` / `-` and parentheses. There are no functions and no field-less (global) restrictions.")
	p("")
	p("```")
	p("filter      = [ expression ]")
	p("expression  = sequence { \"AND\" sequence }")
	p("sequence    = factor { factor }                   juxtaposition means AND")
	p("factor      = term { \"OR\" term }")
	p("term        = [ \"NOT\" | \"-\" ] simple")
	p("simple      = restriction | \"(\" expression \")\"")
	p("restriction = field comparator value")
	p("comparator  = \"=\" | \"!=\" | \"<\" | \"<=\" | \">\" | \">=\" | \":\"")
	p("value       = quoted | bare                       quoted: \"...\" or '...', escapes \\\" \\' \\\\ \\n \\t \\*")
	p("```")
	p("")
	p("- **OR binds tighter than AND**, as in AIP-160: `a AND b OR c` means `a AND (b OR c)`, and so does `a b OR c`. Keywords are upper case only.")
	p("- **string**: all six comparisons, bytewise. With `=` and `!=`, a value ending in an unescaped `*` is a prefix match: `display_name = \"Lao*\"`; a `*` elsewhere must be escaped (`\\*`) in a quoted string.")
	p("- **integer**: a decimal integer, quoted or not; all six comparisons.")
	p("- **boolean**: `true` or `false`; `=` and `!=` only.")
	p("- **enum**: the value name in full (`STATE_IN_FORCE`) or without the prefix of the enum's `UNSPECIFIED` value (`IN_FORCE`); `=` and `!=` only. The `UNSPECIFIED` value itself (`STATE_UNSPECIFIED` or `UNSPECIFIED`) matches the records that leave the field unset.")
	p("- **date**: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`; all six comparisons. A value names a period: that day, that whole month or that whole year. `= P` matches dates within P, `!= P` every record `= P` does not match, `< P` dates before P's first day, `<= P` dates up to P's last day, `> P` dates after P's last day and `>= P` dates from P's first day on. So `start_date = 2023-05` matches 2023-05-01, `start_date <= 2025` includes all of 2025 and `start_date > 2025` begins with 2026. A stored date may itself be a whole month or year (day or month 0); it matches only when every day of it would: a record dated `2025` matches `= 2025`, `>= 2025-01` and `<= 2025-12`, but neither `= 2025-05` nor `< 2025-06` nor `> 2025-04`, and it matches `!= 2025-05`. An unset date counts as earlier than every date (it matches `<`, `<=` and `!=`); `< 0001` matches the unset dates alone (`report_date < 0001`: no report yet). In `order_by`, unset dates come first and a whole month or year just before its first day.")
	p("- **timestamp**: RFC 3339, e.g. `2025-07-01T00:00:00+07:00`; all six comparisons. An unset timestamp compares and sorts as `1970-01-01T00:00:00Z` (the API refuses that instant itself, as `timestamp.epoch`; a record that held it before counts as unset), so it matches `< T` for every T after it: `resolve_time < 2025-01-01T00:00:00Z` includes the incidents never resolved, `resolve_time > 1970-01-01T00:00:00Z` only those resolved since 1970, and a time before 1970 is earlier than unset.")
	p("- **age** of a date or timestamp, in **days**: `field.age` with `<`, `<=`, `>` or `>=` and a whole number from 0 to 36500, relative to now (a summary's filter and its `.age` buckets use one clock). `occur_time.age > 30` means older than 30 days (more than 30×24 hours ago); a date's age is whole days from it to today in Vietnam (UTC+7), a stored month or year matching only when every day of it would, so `signed_date.age > 30` is `signed_date` before today minus 30 days. Unset values have no age and match no `.age` restriction; future values have negative ages. `.age` of any other field, a negative, fractional or larger number, or `=`, `!=`, `:` is `INVALID_ARGUMENT` on `filter`.")
	p("- **repeated** fields: only `field:value` (some element equals the value) and `field:*` (at least one element). A path through a list of messages takes one element from each message that sets the field: a party without a subdivision adds none, so `foreign_parties.subdivision:\"\"` matches no record, and `NOT foreign_parties.subdivision:*` matches the records none of whose parties has one.")
	p("- Limits: 4096 bytes, 32 levels of parentheses and 64 restrictions per filter.")
	p("")
	const example = "state = IN_FORCE AND signed_date >= 2024 AND (partner_countries:CN OR partner_countries:LA)"
	if _, err := filter.Parse(example, resource.Agreements.Schema); err != nil {
		fail(fmt.Errorf("filter example: %w", err))
	}
	p("Example on agreements: `%s`.", example)
	p("")
	const ageExample = "state != RESOLVED AND occur_time.age > 30"
	if _, err := filter.Parse(ageExample, resource.BorderIncidents.Schema); err != nil {
		fail(fmt.Errorf("filter example: %w", err))
	}
	p("Unresolved border incidents older than 30 days: `%s`.", ageExample)
	p("")
}

func codeName(c codes.Code) string {
	// codes.Code.String gives CamelCase; statuses are documented in
	// the canonical UPPER_SNAKE form.
	s := regexp.MustCompile(`([a-z])([A-Z])`).ReplaceAllString(c.String(), "${1}_${2}")
	return strings.ToUpper(s)
}

func (g *gen) services() {
	p := g.p
	p("## Services")
	p("")
	for _, fd := range g.files {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			p("### %s", sd.Name())
			p("")
			p("`%s`", sd.FullName())
			p("")
			if c := g.comment(sd); c != "" {
				p("%s", c)
				p("")
			}
			p("| Method | HTTP | Request → Response | Description |")
			p("|---|---|---|---|")
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				p("| `%s`<br>`/%s/%s` | %s | %s → %s | %s |", md.Name(), sd.FullName(), md.Name(),
					strings.Join(httpRules(md), "<br>"), g.typeRef(md.Input().FullName(), sd.ParentFile().Package()),
					g.typeRef(md.Output().FullName(), sd.ParentFile().Package()), cell(g.methodDoc(md)))
			}
			p("")
		}
	}
}

func (g *gen) methodDoc(md protoreflect.MethodDescriptor) string {
	if c := g.comment(md); c != "" {
		return c
	}
	if kv, ok := g.kindMethods[md.FullName()]; ok {
		name := kv.kind.Message.Descriptor().FullName()
		return fmt.Sprintf("Standard %s ([AIP-%s](https://google.aip.dev/%s)) of [%s](#%s).",
			kv.verb, aip[kv.verb], aip[kv.verb], name.Name(), anchor(name))
	}
	return ""
}

// httpRules renders the method's google.api.http bindings as "VERB path",
// with the body field when there is one.
func httpRules(md protoreflect.MethodDescriptor) []string {
	rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	if rule == nil {
		return []string{"—"}
	}
	var out []string
	for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
		verb, path := httpPattern(r)
		s := fmt.Sprintf("`%s %s`", verb, path)
		if b := r.GetBody(); b != "" {
			s += fmt.Sprintf(" (body: `%s`)", b)
		}
		out = append(out, s)
	}
	return out
}

func httpPattern(r *annotations.HttpRule) (verb, path string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return "GET", p.Get
	case *annotations.HttpRule_Put:
		return "PUT", p.Put
	case *annotations.HttpRule_Post:
		return "POST", p.Post
	case *annotations.HttpRule_Delete:
		return "DELETE", p.Delete
	case *annotations.HttpRule_Patch:
		return "PATCH", p.Patch
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "?", ""
}

// standardMethods documents the request messages of the standard methods
// once, from the first kind, and lists any kind whose requests differ.
func (g *gen) standardMethods() {
	p := g.p
	p("## Standard methods")
	p("")
	first := g.kinds[0]
	p("Every resource kind has the six standard methods, with the same request fields; `{resource}` stands for the kind's field name (`%s`, `border_gate` ...). Shown here with the descriptions of %s.", first.Field, first.Message.Descriptor().Name())
	p("")
	for _, v := range verbs {
		in := first.Method(v).Input()
		p("### %s", v)
		p("")
		p("<a id=\"standard-%s\"></a>", strings.ToLower(v))
		p("")
		sig := requestSignature(first, in)
		var differ []string
		for _, k := range g.kinds[1:] {
			if !slices.Equal(requestSignature(k, k.Method(v).Input()), sig) {
				differ = append(differ, string(k.Method(v).Input().FullName()))
			}
		}
		out := first.Method(v).Output()
		res := "the record"
		if out.FullName() != first.Message.Descriptor().FullName() {
			res = fmt.Sprintf("`%s` with `repeated {resource}` `{collection}` (e.g. `%s`) and `next_page_token`", strings.Replace(string(out.Name()), string(first.Message.Descriptor().Name()), "{Resource}", 1), first.ListField())
		}
		p("`%s` ([AIP-%s](https://google.aip.dev/%s)) returns %s.", strings.Replace(string(in.Name()), string(first.Message.Descriptor().Name()), "{Resource}", 1), aip[v], aip[v], res)
		p("")
		p("| Field | Type | Behaviour | Description |")
		p("|---|---|---|---|")
		for i := 0; i < in.Fields().Len(); i++ {
			f := in.Fields().Get(i)
			name := strings.Replace(string(f.Name()), first.Field, "{resource}", 1)
			typ := "`" + fieldType(f, in.ParentFile().Package()) + "`"
			if f.Message() != nil && f.Message().FullName() == first.Message.Descriptor().FullName() {
				typ = "`{Resource}`"
			}
			p("| `%s` | %s | %s | %s |", name, typ, behaviour(f, false), cell(g.comment(f)))
		}
		p("")
		if len(differ) > 0 {
			p("These requests have other fields: %s.", "`"+strings.Join(differ, "`, `")+"`")
			p("")
		}
	}
}

func requestSignature(k *resource.Kind, md protoreflect.MessageDescriptor) []string {
	var sig []string
	for i := 0; i < md.Fields().Len(); i++ {
		f := md.Fields().Get(i)
		sig = append(sig, fmt.Sprintf("%d %s %v", f.Number(), strings.Replace(string(f.Name()), k.Field, "{resource}", 1), f.Cardinality()))
	}
	return sig
}

func (g *gen) resources() {
	p := g.p
	p("## Resources")
	p("")
	for _, k := range g.kinds {
		md := k.Message.Descriptor()
		pkg := md.ParentFile().Package()
		svc := md.ParentFile().Services().Get(0)
		p("### %s", md.Name())
		p("")
		p("<a id=\"%s\"></a>", anchor(md.FullName()))
		p("")
		if c := dropFilterable(g.comment(md)); c != "" {
			p("%s", c)
			p("")
		}
		p("| | |")
		p("|---|---|")
		p("| Message | `%s` |", md.FullName())
		p("| Resource type | `%s` |", resource.Descriptor(md).GetType())
		p("| Collection | `%s` |", k.Collection)
		p("| Name | `%s` |", strings.Join(resource.Descriptor(md).GetPattern(), "`, `"))
		p("| Service | [%s](#%s) |", svc.Name(), strings.ToLower(string(svc.Name())))
		for _, v := range verbs {
			p("| %s | `%s`: %s |", v, k.Method(v).Name(), strings.Join(httpRules(k.Method(v)), "<br>"))
		}
		p("")
		p("#### Fields")
		p("")
		g.fieldTable(md, pkg, true)
		walkMessage(md, func(d protoreflect.Descriptor) {
			if d == md {
				return
			}
			p("#### %s", relName(d.FullName(), pkg))
			p("")
			p("<a id=\"%s\"></a>", anchor(d.FullName()))
			p("")
			if c := g.comment(d); c != "" {
				p("%s", c)
				p("")
			}
			switch d := d.(type) {
			case protoreflect.MessageDescriptor:
				g.fieldTable(d, pkg, false)
			case protoreflect.EnumDescriptor:
				g.enumTable(d)
			}
		})
		g.filterable(k, pkg)
		g.examples(k)
	}
}

// dropFilterable removes the hand-written "Filterable fields:" paragraph of
// a resource comment: the generated table replaces it.
func dropFilterable(c string) string {
	var keep []string
	for _, para := range strings.Split(c, "\n\n") {
		if !strings.HasPrefix(para, "Filterable fields:") {
			keep = append(keep, para)
		}
	}
	return strings.Join(keep, "\n\n")
}

func (g *gen) fieldTable(md protoreflect.MessageDescriptor, pkg protoreflect.FullName, resourceMsg bool) {
	p := g.p
	if md.Fields().Len() == 0 {
		p("(no fields)")
		p("")
		return
	}
	if resourceMsg {
		p("| Field | Type | Behaviour | Description |")
		p("|---|---|---|---|")
	} else {
		p("| Field | Type | Description |")
		p("|---|---|---|")
	}
	for i := 0; i < md.Fields().Len(); i++ {
		f := md.Fields().Get(i)
		c := g.comment(f)
		if c == "" && resourceMsg && slices.Contains(standardFields, f.Name()) {
			c = g.std[f.Name()]
		}
		if resourceMsg {
			p("| `%s` | %s | %s | %s |", f.Name(), g.fieldTypeRef(f, pkg), behaviour(f, true), cell(c))
			continue
		}
		p("| `%s` | %s | %s |", f.Name(), g.fieldTypeRef(f, pkg), cell(c))
	}
	p("")
}

func (g *gen) enumTable(ed protoreflect.EnumDescriptor) {
	p := g.p
	prefix := ""
	if v := ed.Values().ByNumber(0); v != nil {
		prefix, _ = strings.CutSuffix(string(v.Name()), "UNSPECIFIED")
		if prefix == string(v.Name()) {
			prefix = ""
		}
	}
	if !g.filterEnums[ed.FullName()] {
		p("| Value | Number | Description |")
		p("|---|---|---|")
		for i := 0; i < ed.Values().Len(); i++ {
			v := ed.Values().Get(i)
			p("| `%s` | %d | %s |", v.Name(), v.Number(), cell(g.valueComment(v)))
		}
		p("")
		return
	}
	p("| Value | Number | In filters | Description |")
	p("|---|---|---|---|")
	for i := 0; i < ed.Values().Len(); i++ {
		v := ed.Values().Get(i)
		short := "—"
		if s, ok := strings.CutPrefix(string(v.Name()), prefix); ok && prefix != "" {
			short = "`" + s + "`"
		}
		p("| `%s` | %d | %s | %s |", v.Name(), v.Number(), short, cell(g.valueComment(v)))
	}
	p("")
}

func (g *gen) filterable(k *resource.Kind, pkg protoreflect.FullName) {
	p := g.p
	p("#### Filtering and ordering")
	p("")
	p("`filter` and `order_by` of `%s` accept exactly these fields:", k.Method("List").Name())
	p("")
	p("| Field | Filter type | Operators | Values | order_by |")
	p("|---|---|---|---|---|")
	for _, f := range k.Schema.Fields() {
		ops, values, order := "`=` `!=` `<` `<=` `>` `>=`", "", "yes"
		switch f.Type {
		case filter.String:
			values = "text; `value*` is a prefix match with `=` / `!=`"
		case filter.Int:
			values = "decimal integer"
		case filter.Bool:
			ops, values = "`=` `!=`", "`true`, `false`"
		case filter.Enum:
			ops, values = "`=` `!=`", fmt.Sprintf("values of %s, full or short name", g.typeRef(f.Enum.FullName(), pkg))
		case filter.Date:
			values = "`YYYY`, `YYYY-MM`, `YYYY-MM-DD`; `.age` in days"
		case filter.Timestamp:
			values = "RFC 3339; `.age` in days"
		}
		typ := f.Type.String()
		if f.Repeated {
			typ = "repeated " + typ
			ops, order = "`:`", "no"
			if f.Type == filter.Enum {
				values = fmt.Sprintf("`field:VALUE` (an element is VALUE of %s), `field:*` (not empty)", g.typeRef(f.Enum.FullName(), pkg))
			} else {
				values = "`field:value` (an element equals value), `field:*` (not empty)"
			}
		}
		p("| `%s` | %s | %s | %s | %s |", f.Path, typ, ops, values, order)
	}
	p("")
}

// numbers documents the bounds of every integer and money field the
// summaries add up, read from the schema's protovalidate rules, so the table
// is the rule the server enforces.
func (g *gen) numbers() {
	p := g.p
	p("**Numbers.** Counts and amounts of money have the bounds below; a write outside them fails with `INVALID_ARGUMENT` naming the field. Every money field's `units` has the bound of [provex.type.v1.Money](#%s). These are the fields a summary's `sum` takes: a money field is summed as a whole, one total per currency; its `units` or `currency_code` alone is `INVALID_ARGUMENT` (amounts in different currencies do not add up). Summaries add with checked arithmetic: a group or total that leaves int64 fails with `OUT_OF_RANGE` naming the group, it never wraps. A node also refuses to apply another member's state with a number outside these bounds, or one over the size of a record it keeps (1 MiB encoded): it stays in the log but is not applied (README, \"Federation and sync\").", anchor("provex.type.v1.Money"))
	p("")
	p("| Collection | Field to sum | Minimum | Maximum |")
	p("|---|---|---|---|")
	for _, k := range resource.Kinds() {
		for _, f := range k.Schema.Fields() {
			if f.Type != filter.Int || f.Repeated {
				continue
			}
			fd := fieldByPath(k.New().ProtoReflect().Descriptor(), f.Path)
			if fd == nil {
				fail(fmt.Errorf("%s: no field %s", k.Collection, f.Path))
			}
			lo, hi := intBounds(fd)
			if hi == "" {
				fail(fmt.Errorf("%s.%s has no upper bound: give it one in the schema", k.Collection, f.Path))
			}
			field := "`" + f.Path + "`"
			if money, ok := k.InMoney(f.Path); ok {
				field = "`" + money + "` (money: its `units`, per currency)"
			}
			p("| %s | %s | %s | %s |", k.Collection, field, lo, hi)
		}
	}
	p("")
}

func fieldByPath(md protoreflect.MessageDescriptor, path string) protoreflect.FieldDescriptor {
	var fd protoreflect.FieldDescriptor
	for _, name := range strings.Split(path, ".") {
		if md == nil {
			return nil
		}
		if fd = md.Fields().ByName(protoreflect.Name(name)); fd == nil {
			return nil
		}
		md = fd.Message()
	}
	return fd
}

// intBounds returns the gte and lte of an int32 or int64 field's rules,
// with thousands separators, or "" where there is none.
func intBounds(fd protoreflect.FieldDescriptor) (lo, hi string) {
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	if r := rules.GetInt64(); r != nil {
		if r.HasGte() {
			lo = thousands(r.GetGte())
		}
		if r.HasLte() {
			hi = thousands(r.GetLte())
		}
	}
	if r := rules.GetInt32(); r != nil {
		if r.HasGte() {
			lo = thousands(int64(r.GetGte()))
		}
		if r.HasLte() {
			hi = thousands(int64(r.GetLte()))
		}
	}
	return lo, hi
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// examples prints a List call over gRPC and HTTP with a filter built from
// the kind's schema and checked by the filter parser.
func (g *gen) examples(k *resource.Kind) {
	p := g.p
	f := exampleFilter(k)
	if _, err := filter.Parse(f, k.Schema); err != nil {
		fail(fmt.Errorf("example filter %q for %s: %w", f, k.Collection, err))
	}
	list := k.Method("List")
	parent := "provinces/" + exampleProvince
	body, err := json.Marshal(struct {
		Parent string `json:"parent"`
		Filter string `json:"filter"`
	}{parent, f})
	if err != nil {
		fail(err)
	}
	rule, _ := proto.GetExtension(list.Options(), annotations.E_Http).(*annotations.HttpRule)
	_, path := httpPattern(rule)
	path = expandPath(path, map[string]string{"parent": parent})
	p("#### Example")
	p("")
	p("```sh")
	p("grpcurl -plaintext -H \"authorization: Bearer $PROVEX_TOKEN\" -d '%s' \\", body)
	p("  %s %s/%s", grpcAddr, list.Parent().FullName(), list.Name())
	p("curl -sG -H \"Authorization: Bearer $PROVEX_TOKEN\" %s%s --data-urlencode 'filter=%s'", httpAddr, path, f)
	p("```")
	p("")
}

// exampleFilter prefers state, then the first enum field, then a date, then
// a string.
func exampleFilter(k *resource.Kind) string {
	fields := k.Schema.Fields()
	slices.SortStableFunc(fields, func(a, b filter.Field) int {
		return cmpBool(a.Path != "state", b.Path != "state")
	})
	for _, f := range fields {
		if f.Type == filter.Enum && !f.Repeated {
			for i := 0; i < f.Enum.Values().Len(); i++ {
				if v := f.Enum.Values().Get(i); v.Number() != 0 {
					name := string(v.Name())
					if z := f.Enum.Values().ByNumber(0); z != nil {
						if prefix, ok := strings.CutSuffix(string(z.Name()), "UNSPECIFIED"); ok {
							name = strings.TrimPrefix(name, prefix)
						}
					}
					return fmt.Sprintf("%s = %s", f.Path, name)
				}
			}
		}
	}
	for _, f := range fields {
		if f.Type == filter.Date && !f.Repeated {
			return fmt.Sprintf("%s >= 2024", f.Path)
		}
	}
	for _, f := range fields {
		if f.Type == filter.String && !f.Repeated {
			return fmt.Sprintf("%s = \"%s\"", f.Path, examplePrefix(k, f.Path))
		}
	}
	return "create_time >= 2025-01-01T00:00:00Z"
}

// examplePrefix is a prefix match on a string field of k. A reference
// field holds a record's name, which "A*" never matched (an outside
// review): its prefix is the referenced collection of a record of the
// sample data, so that the example finds it in the demo.
func examplePrefix(k *resource.Kind, path string) string {
	fd := k.Message.Descriptor().Fields().ByName(protoreflect.Name(path))
	if fd == nil {
		return "A*"
	}
	ref, ok := resource.ReferenceTo(fd.FullName())
	if !ok {
		return "A*"
	}
	for _, r := range sampledata.For(exampleProvince) {
		if r.Collection != k.Collection {
			continue
		}
		if v := r.Message.ProtoReflect().Get(fd).String(); v != "" {
			return v[:strings.LastIndex(v, "/")+1] + "*"
		}
	}
	owner := exampleProvince
	if ref.MinistryOwned() {
		owner = resource.Ministry
	}
	return "provinces/" + owner + "/" + ref.Collection + "/*"
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

var templateVarRE = regexp.MustCompile(`\{([\w.]+)(=[^}]*)?\}`)

// expandPath substitutes the variables of an HTTP path template.
func expandPath(tmpl string, vars map[string]string) string {
	return templateVarRE.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := templateVarRE.FindStringSubmatch(m)[1]
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

// otherTypes documents every provex message and enum not shown with a
// resource kind or as a standard request or response.
func (g *gen) otherTypes() {
	p := g.p
	p("## Other types")
	p("")
	for _, fd := range g.files {
		walkFile(fd, func(d protoreflect.Descriptor) {
			if g.covered[d.FullName()] {
				return
			}
			p("### %s", d.FullName())
			p("")
			p("<a id=\"%s\"></a>", anchor(d.FullName()))
			p("")
			if c := g.comment(d); c != "" {
				p("%s", c)
				p("")
			}
			switch d := d.(type) {
			case protoreflect.MessageDescriptor:
				g.fieldTable(d, fd.Package(), false)
			case protoreflect.EnumDescriptor:
				g.enumTable(d)
			}
		})
	}
}

func fieldType(f protoreflect.FieldDescriptor, pkg protoreflect.FullName) string {
	if f.IsMap() {
		return fmt.Sprintf("map<%s, %s>", fieldType(f.MapKey(), pkg), fieldType(f.MapValue(), pkg))
	}
	var t string
	switch {
	case f.Enum() != nil:
		t = relName(f.Enum().FullName(), pkg)
	case f.Message() != nil:
		t = relName(f.Message().FullName(), pkg)
	default:
		t = f.Kind().String()
	}
	if f.IsList() {
		t = "repeated " + t
	}
	return t
}

func (g *gen) fieldTypeRef(f protoreflect.FieldDescriptor, pkg protoreflect.FullName) string {
	if f.IsMap() {
		return "`" + fieldType(f, pkg) + "`"
	}
	var target protoreflect.FullName
	switch {
	case f.Enum() != nil:
		target = f.Enum().FullName()
	case f.Message() != nil:
		target = f.Message().FullName()
	default:
		return "`" + fieldType(f, pkg) + "`"
	}
	ref := g.typeRef(target, pkg)
	if f.IsList() {
		ref = "repeated " + ref
	}
	return ref
}

// typeRef renders a type name relative to pkg, linked when documented here.
func (g *gen) typeRef(name, pkg protoreflect.FullName) string {
	s := "`" + relName(name, pkg) + "`"
	if a := g.anchors[name]; a != "" {
		s = fmt.Sprintf("[%s](#%s)", s, a)
	}
	return s
}

// relName drops pkg from name when name is declared in it.
func relName(name, pkg protoreflect.FullName) string {
	if rest, ok := strings.CutPrefix(string(name), string(pkg)+"."); ok {
		return rest
	}
	return string(name)
}

func anchor(name protoreflect.FullName) string {
	return strings.ToLower(strings.ReplaceAll(string(name), ".", "-"))
}

// cell makes a comment fit in one table cell: paragraphs become <br><br>,
// lines are joined and pipes escaped.
func cell(s string) string {
	paras := strings.Split(strings.TrimSpace(s), "\n\n")
	for i, para := range paras {
		paras[i] = strings.Join(strings.Fields(para), " ")
	}
	return strings.ReplaceAll(strings.Join(paras, "<br><br>"), "|", `\|`)
}

// outputOnly lists, as Markdown code, the fields no update sets: the same
// on every kind, and derived by resource.Kind from the schema.
func outputOnly() string {
	var out []string
	for _, f := range resource.Kinds()[0].OutputOnlyFields() {
		out = append(out, "`"+f+"`")
	}
	return strings.Join(out, ", ")
}

// behaviour is a field's google.api.field_behavior as the docs say it; a
// resource's name field, which has none, is its identifier.
func behaviour(f protoreflect.FieldDescriptor, resourceMsg bool) string {
	if resourceMsg && f.Name() == resource.NameField(f.ContainingMessage()) {
		return "identifier"
	}
	var out []string
	for _, b := range resource.Behaviors(f) {
		out = append(out, strings.ToLower(strings.ReplaceAll(b.String(), "_", " ")))
	}
	return strings.Join(out, ", ")
}
