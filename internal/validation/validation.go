// Package validation checks messages against the rules written in the schema
// (protovalidate) and reports every broken rule as a field violation, so a
// caller learns about all bad fields in one answer.
package validation

import (
	"errors"
	"fmt"

	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/internal/apperr"
)

// Validator checks messages. It is safe for concurrent use; build one per
// process, since it compiles and caches the rules of each message type.
type Validator struct {
	v protovalidate.Validator
}

func New() (*Validator, error) {
	v, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("build validator: %w", err)
	}
	return &Validator{v: v}, nil
}

// Check returns nil when msg keeps every rule, or an INVALID_ARGUMENT
// *apperr.Error with one violation per broken rule. prefix is prepended to
// field paths (e.g. "agreement." when msg is the agreement of a request).
func (v *Validator) Check(msg proto.Message, prefix string) error {
	err := v.v.Validate(msg)
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("validate %s: %w", msg.ProtoReflect().Descriptor().FullName(), err)
	}
	violations := make([]*errdetails.BadRequest_FieldViolation, 0, len(verr.Violations))
	for _, viol := range verr.Violations {
		field := protovalidate.FieldPathString(viol.Proto.GetField())
		if field == "" {
			field = prefix
			if len(field) > 0 && field[len(field)-1] == '.' {
				field = field[:len(field)-1]
			}
		} else {
			field = prefix + field
		}
		violations = append(violations, &errdetails.BadRequest_FieldViolation{
			Field:       field,
			Description: viol.Proto.GetMessage(),
			Reason:      viol.Proto.GetRuleId(),
		})
	}
	return apperr.InvalidFields(violations...)
}
