package collection

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
)

// ReasonFormerNotMerged is the reason of the violation checkFormer reports.
const ReasonFormerNotMerged = "former_province.not_merged"

// checkFormer refuses a former_province that was not merged into the
// record's owner: a bac-giang record belongs to bac-ninh, so bac-giang on a
// cao-bang record would put it in the wrong province's history. Like
// checkAudience it needs the owner, which the schema's rules cannot see.
func (c *Collection[T]) checkFormer(owner string, m proto.Message) error {
	if err := resource.CheckFormerProvince(owner, c.kind.FormerProvince(m)); err != nil {
		return apperr.InvalidFields(&errdetails.BadRequest_FieldViolation{
			Field: c.kind.Field + ".former_province", Reason: ReasonFormerNotMerged, Description: err.Error()})
	}
	return nil
}
