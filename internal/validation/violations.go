package validation

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/provex/provex/internal/apperr"
)

// violations collects the violations of one request found in its bytes:
// the first apperr.MaxViolations built, the rest only counted, since no
// answer reports more. A 4 MiB request holds a million bad numbers or
// unknown fields; building the text of each cost an anonymous reflection
// call 278 MB and more than a second (an outside review).
type violations struct {
	kept []*errdetails.BadRequest_FieldViolation
	more int
}

// full reports whether the next violation is only counted: its finder
// need not build its path.
func (vs *violations) full() bool {
	return len(vs.kept) >= apperr.MaxViolations
}

// add keeps the violation build makes, or counts it when vs is full.
func (vs *violations) add(build func() *errdetails.BadRequest_FieldViolation) {
	if vs.full() {
		vs.more++
		return
	}
	vs.kept = append(vs.kept, build())
}

// err is nil, or INVALID_ARGUMENT with the violations kept, counting the
// rest.
func (vs *violations) err() error {
	if len(vs.kept) == 0 {
		return nil
	}
	return apperr.InvalidFieldsAndMore(vs.more, vs.kept...)
}
