// Package cli holds the client-side commands of the provex command line:
// get, list, create, update, delete, undelete and seed. Each talks to a node
// over gRPC through package client and prints JSON; errors become one line
// with the status code.
package cli

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/client"
	"github.com/provex/provex/resource"
)

// DefaultAddr is the gRPC address commands talk to unless told otherwise
// (flag --addr or PROVEX_ADDR).
const DefaultAddr = "localhost:7400"

// Command is one subcommand.
type Command struct {
	Name    string
	Usage   string // argument synopsis
	Summary string
	Run     func(ctx context.Context, env *Env, args []string) error
}

// Env is what commands print to.
type Env struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader
}

// UsageError marks a mistake in the command line itself (exit status 2),
// or a request for help (Err is flag.ErrHelp: the usage goes to stdout and
// the exit status is 0). The dispatcher prints the command's usage line and,
// when Flags is set, its flags with their defaults.
type UsageError struct {
	Msg   string
	Flags *flag.FlagSet // the flags of the (sub)command that failed to parse
	Err   error
}

func (e *UsageError) Error() string { return e.Msg }

func (e *UsageError) Unwrap() error { return e.Err }

// FlagError is the error of fs.Parse failing: a usage error that carries fs,
// so that the dispatcher can print its flags, and so that -h and --help
// (flag.ErrHelp) are answered once, by the dispatcher, for every command.
func FlagError(fs *flag.FlagSet, err error) error {
	return &UsageError{Msg: fs.Name() + ": " + err.Error(), Flags: fs, Err: err}
}

// IsHelp reports whether a command group's first argument asks for help.
func IsHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// Help is what a command group returns for IsHelp: its usage, exit 0.
func Help(group string) error {
	return &UsageError{Msg: group + ": help requested", Err: flag.ErrHelp}
}

// Commands returns the client-side commands.
func Commands() []Command {
	return []Command{
		{"get", "NAME", "print one record", runGet},
		{"list", "PARENT/COLLECTION [--filter F] [--order-by O] [--page-size N] [--page-token T] [--all] [--show-deleted]", "list records, e.g. provinces/cao-bang/agreements or provinces/-/projects", runList},
		{"create", "PARENT/COLLECTION -f FILE [--id ID] [--request-id R]", "create a record from JSON or YAML (FILE - reads stdin)", runCreate},
		{"update", "NAME -f FILE [--mask a,b.c]", "update fields of a record from JSON or YAML", runUpdate},
		{"delete", "NAME [--etag E]", "soft-delete a record", runDelete},
		{"undelete", "NAME [--etag E]", "restore a deleted record", runUndelete},
		{"seed", "[--province P]", "load the sample dataset of the node's province", runSeed},
		{"sync", "status [--addr A] | status --all --manifest FILE --nodes FILE", "show a node's sync state, or check that the whole federation converged", runSync},
		{"national", "summary COLLECTION [--parent provinces/P] [--group-by a,b] [--sum f] [--count-distinct f] [--filter F] [--csv] | search [--text T] [--collection c] [--filter F] [--parent provinces/P] [--page-size N] [--page-token T] [--all] | freshness", "national views: totals across provinces, search, freshness", runNational},
	}
}

// FormatError renders an error as one line: the status code, the message,
// and each bad field.
func FormatError(err error) string {
	var ue *UsageError
	if errors.As(err, &ue) {
		return terminalSafe(ue.Msg)
	}
	st, ok := status.FromError(err)
	if !ok {
		return terminalSafe(strings.ReplaceAll(err.Error(), "\n", " "))
	}
	line := CodeName(st.Code()) + ": " + statusMessage(err, st) + transportHint(st)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			var fields []string
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField()+": "+v.GetDescription())
			}
			line += " [" + strings.Join(fields, "; ") + "]"
		}
	}
	return terminalSafe(strings.ReplaceAll(line, "\n", " "))
}

// terminalSafe escapes what in text a terminal would act on rather than
// show (control characters such as ESC and CR, bidirectional overrides,
// bytes that are not UTF-8) as Go spells them in a quoted string (\x1b,
// \r, \u202e), leaving every printable character as it is. Text a node
// sends is printed through it wherever the CLI prints it other than as
// JSON: a node could otherwise rewrite the lines above (an error ending in
// "\r\x1b[2KOK: record created", an outside review).
func terminalSafe(text string) string {
	if utf8.ValidString(text) && strings.IndexFunc(text, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return text
	}
	var b strings.Builder
	for len(text) > 0 {
		r, size := utf8.DecodeRuneInString(text)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, text[0])
		case unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		text = text[size:]
	}
	return b.String()
}

// statusMessage is st's message in words: a status wrapped in context
// ("seed NAME: %w") has for its message the whole error's text, which
// spells the inner status as Go does ("rpc error: code = ... desc = ...");
// the context is kept and the inner status given by its message alone.
func statusMessage(err error, st *status.Status) string {
	var inner interface {
		error
		GRPCStatus() *status.Status
	}
	if !errors.As(err, &inner) || error(inner) == err {
		return st.Message()
	}
	if !strings.Contains(err.Error(), inner.Error()) {
		return st.Message()
	}
	return strings.Replace(err.Error(), inner.Error(), inner.GRPCStatus().Message(), 1)
}

// transportHint says what to change when the connection failed because
// one side spoke TLS and the other did not, or the address is not a gRPC
// server: gRPC's own words ("error reading server preface: EOF") name
// neither TLS nor PROVEX_CA.
func transportHint(st *status.Status) string {
	if st.Code() == codes.Unimplemented && strings.HasPrefix(st.Message(), "unexpected HTTP status code received from server") {
		// An HTTP/2 server that is not gRPC's answered with its own status:
		// a node's HTTP listener over TLS answers 404 (over plaintext it
		// speaks HTTP/1.1, the case below). A gRPC server answers 200 with
		// a grpc-status, even for a method it does not know.
		return " (that address answers HTTP, not gRPC: give the node's gRPC address, not its HTTP one)"
	}
	if st.Code() != codes.Unavailable {
		return ""
	}
	// A TLS server closes a plaintext client's connection at once (EOF);
	// a node at its connection cap resets it instead.
	switch msg := st.Message(); {
	case strings.Contains(msg, "error reading server preface: EOF"), strings.HasSuffix(msg, answersTLS):
		return " (if the node serves TLS, set PROVEX_CA to the federation CA's certificate file)"
	case strings.Contains(msg, "looked like an HTTP/1.1 header"):
		return " (that address answers HTTP/1.1: give the node's gRPC address, not its HTTP one)"
	case strings.Contains(msg, "error reading server preface") && strings.Contains(msg, "use of closed network connection"):
		// gRPC gave up waiting (20 s) for the server's first frame.
		return " (the address took the connection and answered nothing: give the node's gRPC address, and check that the node is up)"
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return " (the node serves plaintext, as in --dev mode: unset PROVEX_CA)"
	}
	return ""
}

// answersTLS ends the error of a plaintext call whose connection was
// reset by a server that speaks TLS (probeTLSOnReset).
const answersTLS = "; the address answers TLS"

// probeTLSOnReset tells apart the two servers that reset a plaintext
// client's connection before a frame: a TLS server does when its alert
// finds the client's preface unread (else the client reads EOF), and so
// does a node at its connection cap. A TLS handshake to the address, which
// sends nothing else, says which; only the first gets the PROVEX_CA hint.
func probeTLSOnReset(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	st, _ := status.FromError(err)
	if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "error reading server preface") || !strings.Contains(st.Message(), "connection reset by peer") {
		return err
	}
	// Only whether it speaks TLS is asked, so its certificate is not checked.
	conn, terr := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", strings.TrimPrefix(cc.Target(), "dns:///"), &tls.Config{InsecureSkipVerify: true})
	if terr != nil {
		return err
	}
	conn.Close()
	return status.Error(codes.Unavailable, st.Message()+answersTLS)
}

// CodeName is the canonical upper-case name of a gRPC code, as in the
// google.rpc.Code enum: NOT_FOUND, INVALID_ARGUMENT ...
func CodeName(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// ParseFlags parses args with positional arguments allowed before or
// after flags, returning the positional ones.
func ParseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, FlagError(fs, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// ParseFlagsOnly parses args of a command that takes no positional
// arguments, and refuses one: a word given without its flag was ignored
// (`national search nanning` listed every record).
func ParseFlagsOnly(fs *flag.FlagSet, args []string) error {
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &UsageError{Msg: fmt.Sprintf("%s: unexpected argument %q: it takes flags only", fs.Name(), pos[0]), Flags: fs}
	}
	return nil
}

// pageSizeFlag is a page_size flag: a whole number from 0 to the largest
// int32, refused beyond it (a plain int was cut to 32 bits, and
// 4294967297 asked for a page of 1).
type pageSizeFlag int32

func (p *pageSizeFlag) String() string { return strconv.Itoa(int(*p)) }

func (p *pageSizeFlag) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return fmt.Errorf("want a whole number from 0 to %d (the node serves at most 1000 a page)", math.MaxInt32)
	}
	*p = pageSizeFlag(n)
	return nil
}

// DefaultTimeout is how long a command waits for each answer of the node
// unless --timeout says otherwise.
const DefaultTimeout = time.Minute

// SyncStatusTimeout is sync status's default --timeout: a node's state is
// quick to answer, and the convergence check asks every member in turn,
// reporting one that does not answer unreachable after it.
const SyncStatusTimeout = 5 * time.Second

// nodeFlags are the flags of every command that talks to a node: where it
// is, and how long each call may wait for its answer.
type nodeFlags struct {
	addr    string
	timeout timeoutFlag
}

func newFlagSet(name string) (*flag.FlagSet, *nodeFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	n := &nodeFlags{addr: os.Getenv("PROVEX_ADDR"), timeout: timeoutFlag(DefaultTimeout)}
	if n.addr == "" {
		n.addr = DefaultAddr
	}
	fs.StringVar(&n.addr, "addr", n.addr, "gRPC address of the node")
	fs.Var(&n.timeout, "timeout", "each call waits at most this `duration` for the node's answer (0: for ever)")
	return fs, n
}

// defaultTimeout makes d the default of --timeout, for a command whose
// calls should not wait as long as DefaultTimeout.
func (n *nodeFlags) defaultTimeout(fs *flag.FlagSet, d time.Duration) {
	n.timeout = timeoutFlag(d)
	fs.Lookup("timeout").DefValue = n.timeout.String()
}

// timeoutFlag is a --timeout: a duration of 0 or more.
type timeoutFlag time.Duration

func (t *timeoutFlag) String() string { return time.Duration(*t).String() }

func (t *timeoutFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("want a duration such as 30s or 5m, 0 for no limit")
	}
	*t = timeoutFlag(d)
	return nil
}

// Environment describes, a line each, the environment variables the client
// commands read, for their help.
const Environment = `  PROVEX_TOKEN  the bearer token the calls carry (sync status --all: each member's token_file):
                what provex token create printed on the node called (a token works only there)
  PROVEX_CA     the federation CA's certificate file (provex-ca/ca.pem), to reach a node over
                TLS; unset, the connection is plaintext, which only a node in --dev mode serves
  PROVEX_ADDR   the default of --addr: the node's gRPC address (its --grpc-addr), not its HTTP
                listener nor its peer endpoint`

// dial connects to the node at --addr with the credentials of the
// environment: PROVEX_TOKEN (a bearer token from provex token create) and
// PROVEX_CA (the federation CA certificate file, to reach a node over TLS;
// without it the connection is plaintext, which only dev mode serves).
func (n *nodeFlags) dial() (*client.Client, error) {
	return dialWith(n.addr, os.Getenv("PROVEX_TOKEN"), tokenFromEnvironment, os.Getenv("PROVEX_CA"), time.Duration(n.timeout))
}

// tokenSource is where a command's token came from: PROVEX_TOKEN
// (tokenFromEnvironment), or the token file of a member in sync status
// --all's nodes file. A refusal of the token says to change it there: the
// node's words ("send 'authorization: Bearer <token>'") are for any client,
// and the CLI's user sets no header.
type tokenSource string

const tokenFromEnvironment tokenSource = ""

// put says to give the command what, where the token comes from.
func (s tokenSource) put(what string) string {
	if s == tokenFromEnvironment {
		return "set PROVEX_TOKEN to " + what
	}
	return "put " + what + " in " + string(s)
}

// tokenHint adds to a refusal of the call's token what to change: any
// UNAUTHENTICATED (the CLI's one credential is its token), and the
// PERMISSION_DENIED of a token whose role may not make the call, whose
// message names the role needed.
func tokenHint(src tokenSource) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		st, _ := status.FromError(err)
		switch {
		case st.Code() == codes.Unauthenticated:
			return withHint(st, " ("+src.put("a token of this node")+": provex token create makes one there)")
		case st.Code() == codes.PermissionDenied && strings.HasSuffix(st.Message(), "needs an admin token"):
			return withHint(st, " ("+src.put("such a token of this node")+": provex token create --role admin makes one there)")
		case st.Code() == codes.PermissionDenied && strings.HasSuffix(st.Message(), "needs an editor or admin token"):
			return withHint(st, " ("+src.put("such a token of this node")+": provex token create --role editor makes one there)")
		}
		return err
	}
}

// peerEndpointHint adds to a call that failed on a connection whose
// server asked for a client certificate (asked) that the address is a
// node's peer endpoint: a node's API never asks for one, its peer endpoint
// always does, and the CLI has none to give. gRPC's words were "tls:
// certificate required" or a broken pipe.
func peerEndpointHint(asked *atomic.Bool) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if st, _ := status.FromError(err); st.Code() == codes.Unavailable && asked.Load() {
			return withHint(st, " (the address asked for a client certificate: it is a node's peer endpoint, for sync between nodes: give the node's gRPC address)")
		}
		return err
	}
}

// withHint is st with hint added to its message, its details kept.
func withHint(st *status.Status, hint string) error {
	p := st.Proto()
	p.Message += hint
	return status.ErrorProto(p)
}

// dialWith connects to a node's API with a token (from src) and, when
// caFile is set, over TLS trusting the CA certificate in it; each call
// waits at most timeout for its answer (0: no limit but the caller's).
func dialWith(addr, token string, src tokenSource, caFile string, timeout time.Duration) (*client.Client, error) {
	var opts []grpc.DialOption
	if timeout > 0 {
		opts = append(opts, grpc.WithChainUnaryInterceptor(callTimeout(timeout)))
	}
	opts = append(opts, grpc.WithChainUnaryInterceptor(tokenHint(src)))
	if token = strings.TrimSpace(token); token != "" {
		// A header carries printable ASCII only; gRPC said INTERNAL.
		if i := strings.IndexFunc(token, func(r rune) bool { return r < 0x21 || r > 0x7e }); i >= 0 {
			return nil, fmt.Errorf("PROVEX_TOKEN holds %q at byte %d, which no token has: set it to the token alone (the one line provex token create printed)", token[i:i+1], i)
		}
		opts = append(opts, client.WithToken(token))
	}
	if caFile == "" {
		opts = append(opts, grpc.WithChainUnaryInterceptor(probeTLSOnReset))
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		cfg, err := client.TLSConfig(pem)
		if err != nil {
			return nil, fmt.Errorf("CA certificate %s: %w", caFile, err)
		}
		asked := new(atomic.Bool)
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			asked.Store(true)
			return &tls.Certificate{}, nil // none: the server decides
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)), grpc.WithChainUnaryInterceptor(peerEndpointHint(asked)))
	}
	return client.Dial(addr, opts...)
}

var jsonOut = protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}

func printMessage(w io.Writer, m proto.Message) error {
	b, err := jsonOut.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func oneArg(cmd string, pos []string, what string) (string, error) {
	if len(pos) != 1 {
		return "", &UsageError{Msg: fmt.Sprintf("%s: want exactly one %s, got %d arguments", cmd, what, len(pos))}
	}
	return pos[0], nil
}

// nameArg is the one resource name a command takes, and its kind: a name
// of no known collection is a usage error, as an unknown collection is to
// list and create, found before the node is dialled.
func nameArg(cmd string, pos []string) (string, *resource.Kind, error) {
	name, err := oneArg(cmd, pos, "resource name")
	if err != nil {
		return "", nil, err
	}
	k, err := client.KindOfName(name)
	if err != nil {
		return "", nil, &UsageError{Msg: cmd + ": " + err.Error()}
	}
	return name, k, nil
}

func runGet(ctx context.Context, env *Env, args []string) error {
	fs, node := newFlagSet("get")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	name, _, err := nameArg("get", pos)
	if err != nil {
		return err
	}
	c, err := node.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	m, err := c.Get(ctx, name)
	if err != nil {
		return err
	}
	return printMessage(env.Stdout, m)
}

// splitCollection parses PARENT/COLLECTION, e.g. provinces/cao-bang/agreements.
func splitCollection(cmd, path string) (parent string, k *resource.Kind, err error) {
	i := strings.LastIndex(path, "/")
	if i < 0 {
		return "", nil, &UsageError{Msg: fmt.Sprintf("%s: %q is not PARENT/COLLECTION such as provinces/cao-bang/agreements", cmd, path)}
	}
	k, ok := resource.KindOf(path[i+1:])
	if !ok {
		var known []string
		for _, k := range resource.Kinds() {
			known = append(known, k.Collection)
		}
		return "", nil, &UsageError{Msg: fmt.Sprintf("%s: unknown collection %q; known: %s", cmd, path[i+1:], strings.Join(known, ", "))}
	}
	return path[:i], k, nil
}

func runList(ctx context.Context, env *Env, args []string) error {
	fs, node := newFlagSet("list")
	var o client.ListOptions
	fs.StringVar(&o.Filter, "filter", "", "AIP-160 filter")
	fs.StringVar(&o.OrderBy, "order-by", "", "order_by, e.g. \"signed_date desc\"")
	var pageSize pageSizeFlag
	fs.Var(&pageSize, "page-size", "records per page (default 50, max 1000)")
	fs.StringVar(&o.PageToken, "page-token", "", "continue from a next_page_token")
	fs.BoolVar(&o.ShowDeleted, "show-deleted", false, "include deleted records")
	all := fs.Bool("all", false, "follow next_page_token to the end")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	path, err := oneArg("list", pos, "PARENT/COLLECTION")
	if err != nil {
		return err
	}
	parent, k, err := splitCollection("list", path)
	if err != nil {
		return err
	}
	o.PageSize = int32(pageSize)
	c, err := node.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	pages := newPageTokens(o.PageToken)
	for {
		items, next, err := c.List(ctx, parent, k, o)
		if err != nil {
			return err
		}
		for _, m := range items {
			if err := printMessage(env.Stdout, m); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		if !*all {
			fmt.Fprintf(env.Stderr, "next_page_token: %s\n", terminalSafe(next))
			return nil
		}
		if err := pages.follow(next); err != nil {
			return err
		}
		o.PageToken = next
	}
}

// pageTokens are the page tokens a command following next_page_token has
// sent. A node that answers one of them again would have it read the same
// pages for ever: `list --all` never ended, and `national summary` held
// 987 MB after 26 s (an outside review). Only digests are kept, and at
// most maxPageTokens of them, so a node answering new tokens for ever
// does not grow the command either.
type pageTokens map[[sha256.Size]byte]bool

const maxPageTokens = 4096

func newPageTokens(first string) pageTokens {
	p := pageTokens{}
	p[sha256.Sum256([]byte(first))] = true
	return p
}

// follow records next as the token to send, or refuses it if it was sent.
func (p pageTokens) follow(next string) error {
	sum := sha256.Sum256([]byte(next))
	if p[sum] {
		return errors.New("the node repeats its page token: following it would read the same pages for ever; stopped")
	}
	if len(p) >= maxPageTokens {
		clear(p)
	}
	p[sum] = true
	return nil
}

// readResource reads a JSON or YAML document (YAML is a superset) into a
// new message of kind k.
func readResource(env *Env, file string, k *resource.Kind) (proto.Message, error) {
	var (
		raw []byte
		err error
	)
	if file == "-" {
		raw, err = io.ReadAll(env.Stdin)
	} else {
		raw, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	m := k.New()
	if err := decodeRecord(raw, m); err != nil {
		if file == "-" {
			file = "stdin"
		}
		return nil, fmt.Errorf("%s is not one %s: %w", file, k.Message.Descriptor().Name(), err)
	}
	return m, nil
}

func runCreate(ctx context.Context, env *Env, args []string) error {
	fs, node := newFlagSet("create")
	file := fs.String("f", "", "JSON or YAML file with the record (- for stdin)")
	id := fs.String("id", "", "id of the new record (default: chosen by the server)")
	requestID := fs.String("request-id", "", "idempotency key: retrying with it never creates twice (default: a new one, given in the error when the answer was lost)")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	path, err := oneArg("create", pos, "PARENT/COLLECTION")
	if err != nil {
		return err
	}
	if *file == "" {
		return &UsageError{Msg: "create: -f FILE is required"}
	}
	parent, k, err := splitCollection("create", path)
	if err != nil {
		return err
	}
	res, err := readResource(env, *file, k)
	if err != nil {
		return err
	}
	c, err := node.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	// Every create carries a request id, so that one whose answer was lost
	// (interrupted, timed out, the connection dropped) can be run again
	// without making a second record: the error gives the id to run it with.
	rid := *requestID
	if rid == "" {
		rid = "cli-" + rand.Text()
	}
	m, err := c.Create(ctx, parent, k, *id, rid, res)
	if err != nil {
		if mayHaveHappened(err) && *requestID == "" {
			return fmt.Errorf("%w; the record may have been created all the same: run the command again with --request-id %s to finish it without making a second", err, rid)
		}
		return err
	}
	return printMessage(env.Stdout, m)
}

// callTimeout bounds each call by timeout: without it a node that took the
// connection and never answered held the command for ever (an outside
// review). The error says which limit ran out: the node, which gets the
// deadline too, may end the call a moment before the client does, so a
// DEADLINE_EXCEEDED within a second of it is counted as its.
func callTimeout(timeout time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		callCtx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		deadline, _ := callCtx.Deadline()
		err := invoker(callCtx, method, req, reply, cc, opts...)
		if st, _ := status.FromError(err); st.Code() == codes.DeadlineExceeded && ctx.Err() == nil && time.Until(deadline) < time.Second {
			return status.Errorf(codes.DeadlineExceeded, "%s (no answer within --timeout %s)", st.Message(), timeout)
		}
		return err
	}
}

// mayHaveHappened reports whether a call that failed with err may have
// been carried out by the node all the same: its answer did not come back.
func mayHaveHappened(err error) bool {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.Unavailable:
		return !neverSent(st.Message())
	case codes.Canceled, codes.DeadlineExceeded, codes.Unknown, codes.Internal:
		return true
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// neverSent reports whether an UNAVAILABLE call's message is gRPC's words
// for a connection that never became ready, so that no call went out on
// it: the dial, the TLS handshake or the node's first frame failed, or the
// name had no address. Anything else may have reached the node: a call
// sent on a connection the node then closed reads "connection error"
// too ("closing transport due to: connection error: desc = \"error
// reading from server: EOF\", received prior goaway", an outside review).
func neverSent(msg string) bool {
	if strings.Contains(msg, "closing transport due to") {
		return false
	}
	for _, before := range []string{"Error while dialing", "authentication handshake failed", "error reading server preface", "produced zero addresses"} {
		if strings.Contains(msg, before) {
			return true
		}
	}
	return false
}

func runUpdate(ctx context.Context, env *Env, args []string) error {
	fs, node := newFlagSet("update")
	file := fs.String("f", "", "JSON or YAML file with the fields to change (- for stdin)")
	mask := fs.String("mask", "", "comma-separated fields to change, a field inside a message as signatory.name (default: the fields set in the file, a message field replaced whole; name a field here to clear it)")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	name, k, err := nameArg("update", pos)
	if err != nil {
		return err
	}
	if *file == "" {
		return &UsageError{Msg: "update: -f FILE is required"}
	}
	res, err := readResource(env, *file, k)
	if err != nil {
		return err
	}
	if in := k.Name(res); in != "" && in != name {
		// As the gateway refuses a body naming another record than its path.
		return fmt.Errorf("%s names %s, and the command %s: give one record's name, or leave name out of the file", *file, in, name)
	}
	k.SetName(res, name)
	// Without --mask the server changes the fields set in the file
	// (AIP-134), as for any client that sends no mask.
	var paths []string
	if *mask != "" {
		for _, p := range strings.Split(*mask, ",") {
			paths = append(paths, strings.TrimSpace(p))
		}
	}
	c, err := node.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	m, err := c.Update(ctx, res, paths)
	if err != nil {
		return err
	}
	return printMessage(env.Stdout, m)
}

func runDelete(ctx context.Context, env *Env, args []string) error {
	return runByName(ctx, env, "delete", args, (*client.Client).Delete)
}

func runUndelete(ctx context.Context, env *Env, args []string) error {
	return runByName(ctx, env, "undelete", args, (*client.Client).Undelete)
}

func runByName(ctx context.Context, env *Env, cmd string, args []string, call func(*client.Client, context.Context, string, string) (proto.Message, error)) error {
	fs, node := newFlagSet(cmd)
	etag := fs.String("etag", "", "act only if the record still has this etag")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return err
	}
	name, _, err := nameArg(cmd, pos)
	if err != nil {
		return err
	}
	c, err := node.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	m, err := call(c, ctx, name, *etag)
	if err != nil {
		return err
	}
	return printMessage(env.Stdout, m)
}
