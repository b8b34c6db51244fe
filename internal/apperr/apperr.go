// Package apperr holds provex's application errors and the one mapping from
// them to gRPC statuses. Storage and services return *Error for anything a
// caller should see; every other error is internal, logged in full and masked
// before it leaves the server.
package apperr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Error is an error meant for the caller: a gRPC code, a message, for
// INVALID_ARGUMENT one violation per bad field, and for a refusal that a
// later try may not meet (a rate limit, a full disk, a server away) how
// long to wait before it.
type Error struct {
	Code       codes.Code
	Message    string
	Violations []*errdetails.BadRequest_FieldViolation
	// RetryDelay, when positive, goes to the caller as a google.rpc.RetryInfo
	// detail, as AIP-194 asks of a retryable error; over HTTP also as
	// Retry-After.
	RetryDelay time.Duration
}

func (e *Error) Error() string { return e.Code.String() + ": " + e.Message }

// GRPCStatus lets status.FromError and the gRPC server see the code and the
// details (BadRequest, RetryInfo) without going through Status first.
func (e *Error) GRPCStatus() *status.Status {
	st := status.New(e.Code, e.Message)
	var details []protoadapt.MessageV1
	if len(e.Violations) > 0 {
		details = append(details, &errdetails.BadRequest{FieldViolations: e.Violations})
	}
	if e.RetryDelay > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryDelay)})
	}
	if len(details) == 0 {
		return st
	}
	withDetails, err := st.WithDetails(details...)
	if err != nil {
		return st
	}
	return withDetails
}

// RetryAfter returns a copy of e that tells the caller to wait d before
// trying again (a copy, as errors are often package variables).
func (e *Error) RetryAfter(d time.Duration) *Error {
	c := *e
	c.RetryDelay = d
	return &c
}

// RetryDelay is the wait a status's RetryInfo asks for, or 0.
func RetryDelay(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().IsValid() {
			return max(ri.GetRetryDelay().AsDuration(), 0)
		}
	}
	return 0
}

func newf(code codes.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func NotFound(format string, args ...any) *Error { return newf(codes.NotFound, format, args...) }
func AlreadyExists(format string, args ...any) *Error {
	return newf(codes.AlreadyExists, format, args...)
}
func Aborted(format string, args ...any) *Error { return newf(codes.Aborted, format, args...) }
func Unauthenticated(format string, args ...any) *Error {
	return newf(codes.Unauthenticated, format, args...)
}
func PermissionDenied(format string, args ...any) *Error {
	return newf(codes.PermissionDenied, format, args...)
}
func FailedPrecondition(format string, args ...any) *Error {
	return newf(codes.FailedPrecondition, format, args...)
}
func Unavailable(format string, args ...any) *Error { return newf(codes.Unavailable, format, args...) }
func ResourceExhausted(format string, args ...any) *Error {
	return newf(codes.ResourceExhausted, format, args...)
}

// DeadlineExceeded is a call whose deadline came before the node could
// serve it.
func DeadlineExceeded(format string, args ...any) *Error {
	return newf(codes.DeadlineExceeded, format, args...)
}

// DataLoss is a record whose stored copy on this node is damaged beyond
// what the node mends itself.
func DataLoss(format string, args ...any) *Error { return newf(codes.DataLoss, format, args...) }

// Unimplemented is a method or an HTTP method the node does not serve.
func Unimplemented(format string, args ...any) *Error {
	return newf(codes.Unimplemented, format, args...)
}

// OutOfRange is a request the current data cannot answer within the API's
// ranges (a summary total past int64), as AIP-193 reads OUT_OF_RANGE.
func OutOfRange(format string, args ...any) *Error {
	return newf(codes.OutOfRange, format, args...)
}

// Invalid reports one bad field: INVALID_ARGUMENT with a BadRequest field
// violation whose path is field (e.g. "agreement.signed_date.month"). A
// description that starts with the field's name (a parser's error, "filter:
// at position 7: ...") drops it, which the violation and the message
// ("invalid filter: ...") already say.
func Invalid(field, format string, args ...any) *Error {
	description := strings.TrimPrefix(fmt.Sprintf(format, args...), field+": ")
	return InvalidFields(&errdetails.BadRequest_FieldViolation{Field: field, Description: description})
}

// InvalidFields reports several bad fields at once, the first
// MaxViolations of them as field violations (the message counts them all):
// an answer's details must fit its trailers. A field named in text that
// is not UTF-8 (a query parameter's name) is written with U+FFFD in its
// place, since details that are not UTF-8 do not marshal and would be
// dropped; one with no name at all is the request's.
func InvalidFields(violations ...*errdetails.BadRequest_FieldViolation) *Error {
	return InvalidFieldsAndMore(0, violations...)
}

// InvalidFieldsAndMore is InvalidFields of violations and more violations
// only counted, which a caller that finds them by the thousand (in a
// request's bytes) does not build past the MaxViolations it can report:
// the message counts them with the rest.
func InvalidFieldsAndMore(more int, violations ...*errdetails.BadRequest_FieldViolation) *Error {
	msg := "invalid request"
	for _, v := range violations {
		v.Field = strings.ToValidUTF8(v.Field, "\uFFFD")
		v.Description = strings.ToValidUTF8(v.Description, "\uFFFD")
	}
	if len(violations) > 0 {
		field := violations[0].GetField()
		if field == "" {
			field = "request"
		}
		msg = "invalid " + field + ": " + violations[0].GetDescription()
		if others := len(violations) - 1 + more; others > 0 {
			msg += fmt.Sprintf(" (and %d more)", others)
		}
	}
	return &Error{Code: codes.InvalidArgument, Message: msg, Violations: violations[:min(len(violations), MaxViolations)]}
}

// MaxViolations bounds the field violations of one answer.
const MaxViolations = 100

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Status maps any error to the status a client receives. Application errors
// keep their code, message and details; a status already made by gRPC
// (deadline, cancellation) passes through; anything else, an INTERNAL or
// UNKNOWN status included, becomes INTERNAL with only the reference that
// finds the full error in the server log, in the message and as a
// google.rpc.RequestInfo detail. An error this function masked passes
// through unchanged (see Masked).
func Status(err error, reference string) *status.Status {
	if err == nil {
		return nil
	}
	if e, ok := As(err); ok {
		return e.GRPCStatus()
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown && st.Code() != codes.Internal {
		return st
	}
	if Masked(err) {
		st, _ := status.FromError(err)
		return st
	}
	if errors.Is(err, context.Canceled) {
		return status.New(codes.Canceled, "request canceled")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.New(codes.DeadlineExceeded, "deadline exceeded")
	}
	st := status.Newf(codes.Internal, "internal error (reference %s)", reference)
	if withRef, err := st.WithDetails(&errdetails.RequestInfo{RequestId: reference}); err == nil {
		return withRef
	}
	return st
}

// Masked reports whether err is an internal error that Status already
// masked: whoever masked it logged the full error under the reference it
// carries, so it needs no second log line.
func Masked(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Internal {
		return false
	}
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.RequestInfo); ok {
			return true
		}
	}
	return false
}
