// Package client is the Go client of a provex node: a connection with typed
// stubs for every service, and helpers that work on any resource by name,
// which the provex command line uses.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	// Linked so that callers' status.FromError(err).Details() decode the
	// details nodes send (google.rpc.BadRequest with the field violations,
	// RetryInfo, ErrorInfo): without the types in the registry they read
	// as "proto: not found" (an outside review).
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nodev1 "github.com/provex/provex/gen/go/provex/node/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/resource"
)

// Client talks to one node.
type Client struct {
	conn       *grpc.ClientConn
	Twinning   twinningv1.TwinningServiceClient
	Border     borderv1.BorderServiceClient
	Investment investmentv1.InvestmentServiceClient
	Node       nodev1.NodeServiceClient
}

// MaxMessageBytes matches the server's limit.
const MaxMessageBytes = 4 << 20

// KeepaliveTime is how long a connection with a call in flight may go
// without a frame from the node before the client pings it. A node sends
// GOAWAY to a client that pings more often than every 30 s (its
// keepalive.EnforcementPolicy, server/listeners.go), ending its calls.
const KeepaliveTime = time.Minute

// Dial connects to a node's gRPC address (host:port). Extra dial options
// come after the defaults (plaintext, 4 MiB messages, keepalive pings, no
// service config from the name resolver) and override them.
func Dial(target string, opts ...grpc.DialOption) (*Client, error) {
	all := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithChainUnaryInterceptor(refuseInvalidUTF8),
		// A service config tells gRPC to retry calls or to wait for a
		// connection: it is the program's to choose, not whoever answers
		// the DNS, whose TXT record _grpc_config.HOST the default resolver
		// reads (an outside review: a retry policy ran a Create five times).
		grpc.WithDisableServiceConfig(),
		// A node that stopped answering (its machine switched off, the
		// network cut) is noticed within KeepaliveTime+20 s, failing the
		// calls in flight UNAVAILABLE rather than holding them for ever.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: KeepaliveTime, Timeout: 20 * time.Second}),
	}, opts...)
	conn, err := grpc.NewClient(target, all...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	return New(conn), nil
}

// WithToken sends a bearer token with every call. It is sent over
// plaintext connections too, which only dev mode serves.
func WithToken(token string) grpc.DialOption {
	return grpc.WithPerRPCCredentials(bearer(token))
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// WithCA dials over TLS, trusting the certificates of the federation CA in
// caPEM (a node's API certificate is issued by it).
func WithCA(caPEM []byte) (grpc.DialOption, error) {
	cfg, err := TLSConfig(caPEM)
	if err != nil {
		return nil, err
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg)), nil
}

// TLSConfig is the TLS configuration WithCA dials with, for a caller that
// adds to it.
func TLSConfig(caPEM []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no PEM certificate in the CA file")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// New wraps an existing connection.
func New(conn *grpc.ClientConn) *Client {
	return &Client{
		conn:       conn,
		Twinning:   twinningv1.NewTwinningServiceClient(conn),
		Border:     borderv1.NewBorderServiceClient(conn),
		Investment: investmentv1.NewInvestmentServiceClient(conn),
		Node:       nodev1.NewNodeServiceClient(conn),
	}
}

func (c *Client) Close() error { return c.conn.Close() }

// Conn is the underlying connection, for stubs of other services.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// KindOfName finds the kind of a resource name, with an error that lists the
// collections when it is not one.
func KindOfName(name string) (*resource.Kind, error) {
	if k, ok := resource.KindOfName(name); ok {
		return k, nil
	}
	return nil, fmt.Errorf("%q is not a resource name of the form provinces/{province}/{collection}/{id} with a known collection", name)
}

// refuseInvalidUTF8 refuses a request holding text that is not UTF-8 as
// the node would, INVALID_ARGUMENT naming the field: gRPC cannot encode
// it, and said INTERNAL ("grpc: error while marshaling"), which reads as
// the node's fault.
func refuseInvalidUTF8(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if m, ok := req.(proto.Message); ok {
		if field := notUTF8(m.ProtoReflect(), ""); field != "" {
			return status.Errorf(codes.InvalidArgument, "%s is not valid UTF-8 text", field)
		}
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// notUTF8 is the path of the first text field of m that is not UTF-8, or "".
func notUTF8(m protoreflect.Message, prefix string) string {
	var bad string
	check := func(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) bool {
		switch {
		case fd.Kind() == protoreflect.StringKind && !utf8.ValidString(v.String()):
			bad = path
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			bad = notUTF8(v.Message(), path+".")
		}
		return bad == ""
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && bad == ""; i++ {
				check(fd, l.Get(i), fmt.Sprintf("%s[%d]", path, i))
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				if key := k.String(); fd.MapKey().Kind() == protoreflect.StringKind && !utf8.ValidString(key) {
					bad = path
					return false
				}
				return check(fd.MapValue(), v, path+"["+k.String()+"]")
			})
		default:
			check(fd, v, path)
		}
		return bad == ""
	})
	return bad
}

// invoke calls a standard method of k with a request built field by field.
// A request that cannot be built (no kind, a record of another kind, a nil
// record) is an error, never a panic.
func (c *Client) invoke(ctx context.Context, k *resource.Kind, verb string, fields map[string]any) (protoreflect.Message, error) {
	if k == nil {
		return nil, errors.New("client: no kind given (resource.KindOf returns nil for a collection it does not know)")
	}
	m := k.Method(verb)
	method := "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
	req := newMessage(m.Input())
	for name, v := range fields {
		f := m.Input().Fields().ByName(protoreflect.Name(name))
		if f == nil {
			return nil, fmt.Errorf("%s has no field %s", m.Input().FullName(), name)
		}
		switch v := v.(type) {
		case nil:
			return nil, fmt.Errorf("client: %s %s: no %s given (nil)", verb, k.Field, name)
		case string:
			req.Set(f, protoreflect.ValueOfString(v))
		case int32:
			req.Set(f, protoreflect.ValueOfInt32(v))
		case bool:
			req.Set(f, protoreflect.ValueOfBool(v))
		case proto.Message:
			if v == nil || !v.ProtoReflect().IsValid() {
				return nil, fmt.Errorf("client: %s %s: no %s given (nil)", verb, k.Field, f.Message().Name())
			}
			if got := v.ProtoReflect().Descriptor(); got != f.Message() {
				return nil, fmt.Errorf("client: %s %s takes a %s, not a %s", verb, k.Field, f.Message().Name(), got.Name())
			}
			req.Set(f, protoreflect.ValueOfMessage(v.ProtoReflect()))
		default:
			return nil, fmt.Errorf("field %s: unsupported value %T", name, v)
		}
	}
	resp := newMessage(m.Output())
	if err := c.conn.Invoke(ctx, method, req.Interface(), resp.Interface()); err != nil {
		return nil, err
	}
	return resp, nil
}

func newMessage(md protoreflect.MessageDescriptor) protoreflect.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		panic(fmt.Sprintf("client: message %s is not linked in: %v", md.FullName(), err))
	}
	return mt.New()
}

// Get reads any resource by name.
func (c *Client) Get(ctx context.Context, name string) (proto.Message, error) {
	k, err := KindOfName(name)
	if err != nil {
		return nil, err
	}
	resp, err := c.invoke(ctx, k, "Get", map[string]any{"name": name})
	if err != nil {
		return nil, err
	}
	return resp.Interface(), nil
}

// ListOptions are the optional parts of a List.
type ListOptions struct {
	PageSize    int32
	PageToken   string
	Filter      string
	OrderBy     string
	ShowDeleted bool
}

// List returns one page of a collection under parent ("provinces/cao-bang"
// or "provinces/-") and the next page token.
func (c *Client) List(ctx context.Context, parent string, k *resource.Kind, o ListOptions) ([]proto.Message, string, error) {
	resp, err := c.invoke(ctx, k, "List", map[string]any{
		"parent": parent, "page_size": o.PageSize, "page_token": o.PageToken,
		"filter": o.Filter, "order_by": o.OrderBy, "show_deleted": o.ShowDeleted,
	})
	if err != nil {
		return nil, "", err
	}
	fields := resp.Descriptor().Fields()
	list := resp.Get(fields.ByName(protoreflect.Name(k.ListField()))).List()
	out := make([]proto.Message, list.Len())
	for i := range out {
		out[i] = list.Get(i).Message().Interface()
	}
	return out, resp.Get(fields.ByName("next_page_token")).String(), nil
}

// Create makes a record of k under parent. id and requestID may be empty.
func (c *Client) Create(ctx context.Context, parent string, k *resource.Kind, id, requestID string, res proto.Message) (proto.Message, error) {
	resp, err := c.invoke(ctx, k, "Create", map[string]any{
		"parent": parent, k.Field + "_id": id, k.Field: res, "request_id": requestID,
	})
	if err != nil {
		return nil, err
	}
	return resp.Interface(), nil
}

// Update changes the fields of res named in paths ("*" for every writable
// field), or with no paths the fields set in res (AIP-134); res must carry
// its name, and its etag to guard against lost updates.
func (c *Client) Update(ctx context.Context, res proto.Message, paths []string) (proto.Message, error) {
	if res == nil || !res.ProtoReflect().IsValid() {
		return nil, errors.New("client: Update: no record given (nil)")
	}
	k, ok := resource.KindOfMessage(res.ProtoReflect().Descriptor())
	if !ok {
		return nil, fmt.Errorf("%s is not a provex resource", res.ProtoReflect().Descriptor().FullName())
	}
	resp, err := c.invoke(ctx, k, "Update", map[string]any{k.Field: res, "update_mask": &fieldmaskpb.FieldMask{Paths: paths}})
	if err != nil {
		return nil, err
	}
	return resp.Interface(), nil
}

// Delete soft-deletes a record; etag may be empty.
func (c *Client) Delete(ctx context.Context, name, etag string) (proto.Message, error) {
	return c.byName(ctx, "Delete", name, etag)
}

// Undelete restores a deleted record; etag may be empty.
func (c *Client) Undelete(ctx context.Context, name, etag string) (proto.Message, error) {
	return c.byName(ctx, "Undelete", name, etag)
}

func (c *Client) byName(ctx context.Context, verb, name, etag string) (proto.Message, error) {
	k, err := KindOfName(name)
	if err != nil {
		return nil, err
	}
	resp, err := c.invoke(ctx, k, verb, map[string]any{"name": name, "etag": etag})
	if err != nil {
		return nil, err
	}
	return resp.Interface(), nil
}
