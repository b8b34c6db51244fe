// Package collection implements the AIP standard methods (Get, List, Create,
// Update, Delete, Undelete) once, for every resource kind, on top of a
// storage.Store. The gRPC services are thin adapters over it, so names,
// ownership, etags, idempotency, soft deletion, update masks, filters and
// pagination behave the same for every kind.
package collection

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/internal/pagetoken"
	"github.com/provex/provex/internal/validation"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// Page sizes of List (AIP-158).
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// ReasonNotMinistry is the reason of the violation a Create of a kind only
// the ministry owns (resource.Kind.MinistryOwned) gets under another
// parent than provinces/mofa.
const ReasonNotMinistry = "parent.not_ministry"

// Node is what every collection of one node shares.
type Node struct {
	Store storage.Store
	// Member is this node's member id: the only province whose records it
	// may write.
	Member    string
	Validator *validation.Validator
}

// Collection serves the standard methods of one kind whose message type is T.
type Collection[T proto.Message] struct {
	node *Node
	kind *resource.Kind
}

func New[T proto.Message](node *Node, kind *resource.Kind) *Collection[T] {
	return &Collection[T]{node: node, kind: kind}
}

// Get returns a record, deleted or not.
// PageLimit is the number of records a page of a list holds for a
// request's page_size: DefaultPageSize for 0, at most MaxPageSize, and
// INVALID_ARGUMENT for a negative size. Every list and view pages by it.
func PageLimit(size int32) (int, error) {
	switch {
	case size < 0:
		return 0, apperr.Invalid("page_size", "must not be negative")
	case size == 0:
		return DefaultPageSize, nil
	}
	return min(int(size), MaxPageSize), nil
}

func (c *Collection[T]) Get(ctx context.Context, name string) (T, error) {
	var zero T
	if _, err := resource.ParseName(name, c.kind.Collection); err != nil {
		return zero, apperr.Invalid("name", "%v", err)
	}
	m, err := c.node.Store.Get(ctx, c.kind, name)
	if err != nil {
		return zero, err
	}
	return m.(T), nil
}

// ListRequest is what every List*Request has.
type ListRequest interface {
	GetParent() string
	GetPageSize() int32
	GetPageToken() string
	GetFilter() string
	GetOrderBy() string
	GetShowDeleted() bool
}

// List returns one page and the token of the next one ("" on the last page).
func (c *Collection[T]) List(ctx context.Context, req ListRequest) ([]T, string, error) {
	province, err := resource.ParseParent(req.GetParent(), true)
	if err != nil {
		return nil, "", apperr.Invalid("parent", "%v", err)
	}
	q := storage.Query{Kind: c.kind, Province: province, ShowDeleted: req.GetShowDeleted()}
	if q.Limit, err = PageLimit(req.GetPageSize()); err != nil {
		return nil, "", err
	}
	if q.Filter, err = filter.Parse(req.GetFilter(), c.kind.Schema); err != nil {
		return nil, "", apperr.Invalid("filter", "%v", err)
	}
	if q.OrderBy, err = filter.ParseOrderBy(req.GetOrderBy(), c.kind.Schema); err != nil {
		return nil, "", apperr.Invalid("order_by", "%v", err)
	}
	query := pagetoken.Fingerprint(c.kind.Collection, req.GetParent(), req.GetFilter(), req.GetOrderBy(), strconv.FormatBool(req.GetShowDeleted()))
	if q.After, err = pagetoken.Decode(req.GetPageToken(), query); err != nil {
		return nil, "", err
	}
	page, err := c.node.Store.List(ctx, q)
	if err != nil {
		return nil, "", err
	}
	out := make([]T, len(page.Records))
	for i, m := range page.Records {
		out[i] = m.(T)
	}
	return out, pagetoken.Encode(page.Next, query), nil
}

// Create stores a new record under parent with the given id (or one the
// server chooses). A retry with the same request_id returns the record the
// first call created; the same request_id with a different request is
// refused (AIP-155), so a client that reuses ids by mistake learns of it
// instead of getting an answer to a request it did not make.
func (c *Collection[T]) Create(ctx context.Context, parent, id, requestID string, res T) (T, error) {
	var zero T
	province, err := resource.ParseParent(parent, false)
	if err != nil {
		return zero, apperr.Invalid("parent", "%v", err)
	}
	if c.kind.MinistryOwned() && province != resource.Ministry {
		// The node of a province would otherwise write one under its own
		// name, which no node accepts from its log (resource.CheckOwned).
		return zero, apperr.InvalidFields(&errdetails.BadRequest_FieldViolation{
			Field:       "parent",
			Reason:      ReasonNotMinistry,
			Description: fmt.Sprintf("%s are the ministry's records: parent must be provinces/%s, got %q", c.kind.Collection, resource.Ministry, parent),
		})
	}
	if err := resource.MayWrite(c.node.Member, province, parent); err != nil {
		return zero, err
	}
	if id != "" {
		if err := resource.CheckID(id); err != nil {
			return zero, apperr.Invalid(c.kind.Field+"_id", "%v", err)
		}
	}
	if !res.ProtoReflect().IsValid() {
		return zero, apperr.Invalid(c.kind.Field, "is required")
	}
	fresh := proto.Clone(res)
	c.kind.ClearOutputOnly(fresh)
	if err := c.checkAudience(province, fresh); err != nil {
		return zero, err
	}
	if err := c.checkFormer(province, fresh); err != nil {
		return zero, err
	}
	// Checked in the write, so that a retry of a create that was stored
	// returns its record though the answered record arrived, or was
	// narrowed, since.
	to, err := c.answeredOf(ctx, fresh)
	if err != nil {
		return zero, err
	}
	var fp []byte
	if requestID != "" {
		// Before the id is chosen and the name set: a retry of a request
		// that left the id to the server is the same request. A name sent
		// in the record is ignored like the other output-only fields.
		c.kind.SetName(fresh, "")
		if fp, err = fingerprint(parent, id, fresh); err != nil {
			return zero, err
		}
	}
	if id == "" {
		id = newID()
	}
	name := resource.Name{Province: province, Collection: c.kind.Collection, ID: id}.String()
	c.kind.SetName(fresh, name)
	return c.write(ctx, name, requestID, fp, func(current proto.Message, now *timestamppb.Timestamp) (proto.Message, error) {
		if current != nil {
			if c.kind.Deleted(current) {
				return nil, apperr.AlreadyExists("%s exists and is deleted; undelete it or choose another id", name)
			}
			return nil, apperr.AlreadyExists("%s already exists", name)
		}
		if err := c.checkWithinAnswered(province, fresh, to); err != nil {
			return nil, err
		}
		c.kind.SetCreateTime(fresh, now)
		return fresh, nil
	})
}

// Update changes the fields the mask names, or with no mask the fields
// populated in res (see updatePaths). The result is validated as a whole.
// An update that changes nothing writes nothing: the record comes back with
// its etag and update_time as they were.
func (c *Collection[T]) Update(ctx context.Context, res T, mask *fieldmaskpb.FieldMask) (T, error) {
	var zero T
	if !res.ProtoReflect().IsValid() {
		return zero, apperr.Invalid(c.kind.Field, "is required")
	}
	name := c.kind.Name(res)
	n, err := resource.ParseName(name, c.kind.Collection)
	if err != nil {
		return zero, apperr.Invalid(c.kind.Field+".name", "%v", err)
	}
	if err := resource.MayWrite(c.node.Member, n.Province, name); err != nil {
		return zero, err
	}
	paths, err := updatePaths(c.kind, res.ProtoReflect(), mask)
	if err != nil {
		return zero, err
	}
	wantEtag := c.kind.Etag(res)
	to, err := c.answeredAfter(ctx, name, res, paths)
	if err != nil {
		return zero, err
	}
	return c.write(ctx, name, "", nil, func(current proto.Message, _ *timestamppb.Timestamp) (proto.Message, error) {
		if err := c.checkCurrent(current, name, wantEtag); err != nil {
			return nil, err
		}
		if c.kind.Deleted(current) {
			return nil, apperr.FailedPrecondition("%s is deleted; undelete it before updating", name)
		}
		next := proto.Clone(current)
		applyMask(next.ProtoReflect(), res.ProtoReflect(), paths)
		if proto.Equal(next, current) {
			return nil, storage.ErrUnchanged
		}
		if err := c.node.Validator.Check(next, c.kind.Field+"."); err != nil {
			return nil, c.storedValuesSaySo(err, paths, current)
		}
		if err := c.checkAudience(n.Province, next); err != nil {
			return nil, err
		}
		if err := c.checkAnsweredKept(current, next); err != nil {
			return nil, err
		}
		if err := c.checkWithinAnswered(n.Province, next, to); err != nil {
			return nil, err
		}
		if err := c.checkFormer(n.Province, next); err != nil {
			return nil, err
		}
		return next, nil
	})
}

// storedValuesSaySo adds, to each violation of err on a field the update
// (its paths) leaves as stored, that it is the stored value: a record
// stored before a rule was (an incident dated 2262) cannot be updated
// until the update corrects it too, and its caller did not send it. A
// field inside a message current lacks is not stored: the update made the
// message to set another field in it (end_date.day with no end_date), so
// the violation says that instead.
func (c *Collection[T]) storedValuesSaySo(err error, paths [][]protoreflect.FieldDescriptor, current proto.Message) error {
	invalid, ok := apperr.As(err)
	if !ok || len(invalid.Violations) == 0 {
		return err
	}
	sent := make([]string, len(paths))
	for i, chain := range paths {
		names := make([]string, len(chain))
		for j, f := range chain {
			names[j] = string(f.Name())
		}
		sent[i] = c.kind.Field + "." + strings.Join(names, ".")
	}
	for _, v := range invalid.Violations {
		// A rule of a message (a date that exists) holds the fields in it
		// the update sets (signed_date.day): a violation on the message
		// is of the update too.
		if !slices.ContainsFunc(sent, func(p string) bool {
			return v.Field == p || strings.HasPrefix(v.Field, p+".") || strings.HasPrefix(v.Field, p+"[") || strings.HasPrefix(p, v.Field+".")
		}) {
			// A mask names a list whole, not one of its items.
			maskPath, _, _ := strings.Cut(strings.TrimPrefix(v.Field, c.kind.Field+"."), "[")
			if absent := absentParent(current.ProtoReflect(), maskPath); absent != "" {
				v.Description += "; the record holds no " + absent + ", so this update makes one holding only the fields it names: name " + maskPath + " in update_mask too, or " + absent + " whole"
				continue
			}
			v.Description += "; it is the stored value, which this update leaves as it is: name " + maskPath + " in update_mask, with a value that keeps the rule"
		}
	}
	return apperr.InvalidFields(invalid.Violations...)
}

// absentParent returns the first message on path (dotted field names) that
// m lacks, as a path, or "" when m holds every message above path's leaf.
func absentParent(m protoreflect.Message, path string) string {
	names := strings.Split(path, ".")
	for i, name := range names[:len(names)-1] {
		f := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if f == nil || f.Message() == nil || f.IsList() || f.IsMap() {
			return ""
		}
		if !m.Has(f) {
			return strings.Join(names[:i+1], ".")
		}
		m = m.Get(f).Message()
	}
	return ""
}

// Delete marks a record deleted. The tombstone keeps the record's state, so
// it syncs to other nodes and can be undeleted.
func (c *Collection[T]) Delete(ctx context.Context, name, wantEtag string) (T, error) {
	return c.setDeleted(ctx, name, wantEtag, true)
}

// Undelete restores a deleted record.
func (c *Collection[T]) Undelete(ctx context.Context, name, wantEtag string) (T, error) {
	return c.setDeleted(ctx, name, wantEtag, false)
}

func (c *Collection[T]) setDeleted(ctx context.Context, name, wantEtag string, deleted bool) (T, error) {
	var zero T
	n, err := resource.ParseName(name, c.kind.Collection)
	if err != nil {
		return zero, apperr.Invalid("name", "%v", err)
	}
	if err := resource.MayWrite(c.node.Member, n.Province, name); err != nil {
		return zero, err
	}
	var to answered
	if !deleted {
		// An answer deleted while the record it answers was narrowed
		// comes back only within that record's readers, as a new one.
		if to, err = c.answeredAfter(ctx, name, nil, nil); err != nil {
			return zero, err
		}
	}
	return c.write(ctx, name, "", nil, func(current proto.Message, now *timestamppb.Timestamp) (proto.Message, error) {
		if err := c.checkCurrent(current, name, wantEtag); err != nil {
			return nil, err
		}
		switch was := c.kind.Deleted(current); {
		case deleted && was:
			return nil, apperr.NotFound("%s is already deleted", name)
		case !deleted && !was:
			return nil, apperr.AlreadyExists("%s is not deleted", name)
		}
		if !deleted {
			if err := c.checkWithinAnswered(n.Province, current, to); err != nil {
				return nil, err
			}
		}
		next := proto.Clone(current)
		if deleted {
			c.kind.SetDeleteTime(next, now)
		} else {
			c.kind.SetDeleteTime(next, nil)
		}
		return next, nil
	})
}

// write applies one change through the store. change gets the stored record
// (nil if none) and the time of the write, and returns the new state; write
// then stamps it with update_time and a new etag, as every change must.
// change returns storage.ErrUnchanged to leave the record unchanged and unstamped.
func (c *Collection[T]) write(ctx context.Context, name, requestID string, fingerprint []byte, change func(current proto.Message, now *timestamppb.Timestamp) (proto.Message, error)) (T, error) {
	var zero T
	m, err := c.node.Store.Write(ctx, storage.Write{
		Kind:        c.kind,
		Name:        name,
		RequestID:   requestID,
		Fingerprint: fingerprint,
		Mutate: func(current proto.Message, st storage.Stamp) (proto.Message, error) {
			now := timestamppb.New(st.Time)
			next, err := change(current, now)
			if err != nil {
				return nil, err
			}
			c.kind.SetUpdateTime(next, now)
			c.kind.SetEtag(next, etag(st))
			return next, nil
		},
	})
	if err != nil {
		return zero, err
	}
	return m.(T), nil
}

// checkCurrent is the precondition of every change to an existing record.
func (c *Collection[T]) checkCurrent(current proto.Message, name, wantEtag string) error {
	if current == nil {
		return apperr.NotFound("%s not found", name)
	}
	if wantEtag != "" && wantEtag != c.kind.Etag(current) {
		return apperr.Aborted("%s has changed since it was read (etag %q, now %q); read it again", name, wantEtag, c.kind.Etag(current))
	}
	return nil
}

// fingerprint identifies a Create request for its request_id: the parent,
// the requested id ("" when the server chooses) and the record as sent,
// output-only fields cleared (they are ignored, so a retry may differ in
// them). Deterministic encoding makes equal records encode alike within
// one binary; length prefixes keep the parts from running together.
func fingerprint(parent, id string, res proto.Message) ([]byte, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("fingerprint of the request: %w", err)
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(parent), []byte(id), data} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(part))))
		h.Write(part)
	}
	return h.Sum(nil), nil
}

// etag derives a record's etag from the change-log position of its write:
// unique per write, opaque to clients.
func etag(st storage.Stamp) string { return strconv.FormatUint(st.Seq, 36) }

// newID returns a server-chosen id: "r" and 20 hex digits, a millisecond
// clock then random bits, so new records append to the end of the name index.
func newID() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return fmt.Sprintf("r%012x%08x", time.Now().UnixMilli(), binary.BigEndian.Uint32(b[:]))
}
