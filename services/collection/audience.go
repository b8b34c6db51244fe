package collection

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
)

// Reasons of the violations checkAudience reports.
const (
	ReasonReadersNotRestricted = "visible_to.not_restricted"
	ReasonReaderIsOwner        = "visible_to.owner"
	ReasonListsOwner           = "province_list.owner"
	ReasonListedCannotRead     = "province_list.cannot_read"
	ReasonAnsweredCannotRead   = "visibility.answered_cannot_read"
	ReasonAnsweredChanged      = "answered.immutable"
	ReasonWiderThanAnswered    = "visibility.wider_than_answered"
)

// checkAudience refuses a reader list that would mean nothing, so nobody
// believes a record shared or kept back by it: visible_to on a record that
// is not restricted (public records go to everyone and national ones to the
// ministry only, whatever the list says), or naming the owning province,
// which always reads its own records; and provinces it tells (an
// incident's notify_provinces), or the owner of the record it answers (an
// acknowledgement's incident), that may not read it. The schema's rules cannot see the
// owner (it is in the record's name, set by the server on Create), so this
// runs beside them on the record as it will be stored.
func (c *Collection[T]) checkAudience(owner string, m proto.Message) error {
	// So is a list of provinces to tell that names the owner: a border
	// incident notifying its own province waited for an acknowledgement
	// the owner may not make, counted as awaited for good.
	var vs []*errdetails.BadRequest_FieldViolation
	listed := c.kind.ListedProvinces(m)
	for name, provinces := range listed {
		for i, p := range provinces {
			if p == owner {
				vs = append(vs, &errdetails.BadRequest_FieldViolation{Field: fmt.Sprintf("%s.%s[%d]", c.kind.Field, name, i), Reason: ReasonListsOwner,
					Description: fmt.Sprintf("%s owns the record; list only other provinces", owner)})
			}
		}
	}
	if len(vs) > 0 {
		return apperr.InvalidFields(vs...)
	}
	visibility, visibleTo := c.kind.Audience(m)
	if len(visibleTo) > 0 {
		if err := c.checkReaders(owner, visibility, visibleTo); err != nil {
			return err
		}
	}
	// Provinces told of a record, and the owner of a record it answers,
	// must read it: an incident notifying a province its visibility
	// keeps it from was awaited for good on the ministry's national list,
	// and a national acknowledgement showed as given on the ministry's
	// node, as awaited on the incident owner's (an outside review).
	for name, provinces := range listed {
		for i, p := range provinces {
			if !resource.MayRead(p, owner, visibility, visibleTo) {
				vs = append(vs, &errdetails.BadRequest_FieldViolation{Field: fmt.Sprintf("%s.%s[%d]", c.kind.Field, name, i), Reason: ReasonListedCannotRead,
					Description: fmt.Sprintf("%s may not read this record (%s): list only its readers, or make it public, or restricted with %s in visible_to", p, audienceOf(visibility), p)})
			}
		}
	}
	if field, answered := c.kind.Answered(m); answered != "" && answered != owner && !resource.MayRead(answered, owner, visibility, visibleTo) {
		vs = append(vs, &errdetails.BadRequest_FieldViolation{Field: c.kind.Field + ".visibility", Reason: ReasonAnsweredCannotRead,
			Description: fmt.Sprintf("%s, which owns the record %s names, may not read this one (%s): make it public, or restricted with %s in visible_to", answered, field, audienceOf(visibility), answered)})
	}
	if len(vs) > 0 {
		return apperr.InvalidFields(vs...)
	}
	return nil
}

// checkReaders refuses a visible_to that would mean nothing.
func (c *Collection[T]) checkReaders(owner string, visibility int32, visibleTo []string) error {
	var vs []*errdetails.BadRequest_FieldViolation
	field := c.kind.Field + ".visible_to"
	if typev1.Visibility(visibility) != typev1.Visibility_VISIBILITY_RESTRICTED {
		is := typev1.Visibility(visibility).String()
		if typev1.Visibility(visibility) == typev1.Visibility_VISIBILITY_UNSPECIFIED {
			is = "public: its visibility is unset"
		}
		return apperr.InvalidFields(&errdetails.BadRequest_FieldViolation{Field: field, Reason: ReasonReadersNotRestricted,
			Description: fmt.Sprintf("only a restricted record has readers: set visibility to VISIBILITY_RESTRICTED or clear visible_to (this record is %s)", is)})
	}
	for i, p := range visibleTo {
		if p == owner {
			vs = append(vs, &errdetails.BadRequest_FieldViolation{Field: fmt.Sprintf("%s[%d]", field, i), Reason: ReasonReaderIsOwner,
				Description: fmt.Sprintf("%s owns the record and always reads its records; list only other provinces", owner)})
		}
	}
	if len(vs) > 0 {
		return apperr.InvalidFields(vs...)
	}
	return nil
}

// audienceOf says who reads a record of this visibility besides its owner.
func audienceOf(visibility int32) string {
	switch typev1.Visibility(visibility) {
	case typev1.Visibility_VISIBILITY_NATIONAL:
		return "national: its owner and the ministry read it"
	case typev1.Visibility_VISIBILITY_RESTRICTED:
		return "restricted: its owner, the ministry and the provinces in visible_to read it"
	}
	return typev1.Visibility(visibility).String()
}

// checkAnsweredKept refuses an update that moves an answer to another
// record (an acknowledgement to another incident, a response to another
// request): the answer counts from its creation, so one kept and moved to
// each new question showed as given on time, before the question was
// asked or its deadline passed (an outside review). A new answer is a new
// record.
func (c *Collection[T]) checkAnsweredKept(current, next proto.Message) error {
	field, _ := c.kind.Answered(current)
	if field == "" {
		return nil
	}
	fd := c.kind.Message.Descriptor().Fields().ByName(field)
	was, is := current.ProtoReflect().Get(fd).String(), next.ProtoReflect().Get(fd).String()
	if was == is || c.breaksARule(current, field) {
		// A stored value that breaks the schema's rules (kept from
		// before one) may be corrected, as the update's error asks.
		return nil
	}
	return apperr.InvalidFields(&errdetails.BadRequest_FieldViolation{Field: c.kind.Field + "." + string(field), Reason: ReasonAnsweredChanged,
		Description: fmt.Sprintf("%s cannot change (it names %s): an answer counts from when it was made; create a new one for %s", field, was, is)})
}

// breaksARule reports whether the schema's rules refuse field of m as it is.
func (c *Collection[T]) breaksARule(m proto.Message, field protoreflect.Name) bool {
	invalid, ok := apperr.As(c.node.Validator.Check(m, c.kind.Field+"."))
	if !ok {
		return false
	}
	name := c.kind.Field + "." + string(field)
	return slices.ContainsFunc(invalid.Violations, func(v *errdetails.BadRequest_FieldViolation) bool { return v.GetField() == name })
}

// answered is the audience of the record an answer names, as this node
// holds it.
type answered struct {
	name, owner string
	held        bool
	visibility  int32
	visibleTo   []string
}

// answeredOf looks up the record m answers (resource.Kind.Answered) in
// this node's store. It runs before the write, as a write's Mutate may not
// block; the answered field cannot change on update (checkAnsweredKept), so
// the write checks against the record looked up here.
func (c *Collection[T]) answeredOf(ctx context.Context, m proto.Message) (answered, error) {
	field, owner := c.kind.Answered(m)
	if field == "" || owner == "" {
		return answered{}, nil
	}
	a := answered{name: m.ProtoReflect().Get(c.kind.Message.Descriptor().Fields().ByName(field)).String(), owner: owner}
	kind, _ := resource.KindOfName(a.name)
	record, err := c.node.Store.Get(ctx, kind, a.name)
	switch {
	case status.Code(err) == codes.NotFound:
		return a, nil
	case err != nil:
		return a, err
	}
	a.held = true
	a.visibility, a.visibleTo = kind.Audience(record)
	return a, nil
}

// checkWithinAnswered refuses an answer that more members may read than
// the record it answers: an acknowledgement of an incident restricted to
// two provinces is public by default, and it named the incident, its
// owner and who was told to every node, with its note (an outside
// review). An answer to a record this node does not hold (not yet synced,
// or kept from it) is not checked: nothing here says who reads it.
func (c *Collection[T]) checkWithinAnswered(owner string, m proto.Message, to answered) error {
	field, answeredOwner := c.kind.Answered(m)
	if field == "" || answeredOwner == "" {
		return nil
	}
	if name := m.ProtoReflect().Get(c.kind.Message.Descriptor().Fields().ByName(field)).String(); name != to.name {
		return apperr.Aborted("%s names %s, not the %s looked up before the write: it changed meanwhile; try again", field, name, to.name)
	}
	if !to.held || resource.Public(to.visibility) {
		return nil
	}
	var wider []string
	visibility, visibleTo := c.kind.Audience(m)
	if !resource.Public(visibility) {
		for _, r := range resource.Readers(owner, visibility, visibleTo) {
			if !resource.MayRead(r, to.owner, to.visibility, to.visibleTo) {
				wider = append(wider, r)
			}
		}
		if len(wider) == 0 {
			return nil
		}
	}
	var may []string
	for _, r := range resource.Readers(to.owner, to.visibility, to.visibleTo) {
		if r != owner && r != resource.Ministry {
			may = append(may, r)
		}
	}
	who := "every member may read it"
	if len(wider) > 0 {
		who = strings.Join(wider, ", ") + " may read it"
	}
	fix := "make it restricted with visible_to among " + strings.Join(may, ", ")
	if len(may) == 0 {
		fix = "make it restricted with no visible_to (its owner and the ministry read it)"
	}
	return apperr.InvalidFields(&errdetails.BadRequest_FieldViolation{Field: c.kind.Field + ".visibility", Reason: ReasonWiderThanAnswered,
		Description: fmt.Sprintf("%s is not public, and an answer is at most as visible as what it answers, but %s: %s", to.name, who, fix)})
}

// answeredAfter looks up the record an update of name by res (its paths)
// leaves it answering, or with res nil the record the stored one answers.
// A change of a record not stored, or of a kind that answers none, looks
// up nothing: its write refuses or checks nothing.
func (c *Collection[T]) answeredAfter(ctx context.Context, name string, res proto.Message, paths [][]protoreflect.FieldDescriptor) (answered, error) {
	if field, _ := c.kind.Answered(c.kind.Message.New().Interface()); field == "" {
		return answered{}, nil
	}
	current, err := c.node.Store.Get(ctx, c.kind, name)
	if status.Code(err) == codes.NotFound {
		return answered{}, nil
	}
	if err != nil {
		return answered{}, err
	}
	next := proto.Clone(current)
	if res != nil {
		applyMask(next.ProtoReflect(), res.ProtoReflect(), paths)
	}
	return c.answeredOf(ctx, next)
}
