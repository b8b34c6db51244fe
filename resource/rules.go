package resource

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/reflect/protoreflect"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	"github.com/provex/provex/internal/apperr"
)

// references are the string fields of records that hold the name of another
// record, with the kind they must name. An empty reference means none.
var references = map[protoreflect.FullName]*Kind{
	field(Agreements, "partnership"):                   Partnerships,
	field(Delegations, "agreements"):                   Agreements,
	field(AgreementOpinions, "agreement"):              Agreements,
	field(BorderMarkers, "border_gate"):                BorderGates,
	field(BorderIncidents, "border_gate"):              BorderGates,
	field(BorderIncidents, "border_marker"):            BorderMarkers,
	field(TradeReports, "border_gate"):                 BorderGates,
	field(IncidentAcknowledgements, "border_incident"): BorderIncidents,
	field(Projects, "investor_lead"):                   InvestorLeads,
	field(Projects, "organizations"):                   Organizations,
	field(InvestorLeads, "promotion_event"):            PromotionEvents,
	field(InvestorLeads, "project"):                    Projects,
	field(InformationResponses, "request"):             InformationRequests,
}

// ministryOwned are the kinds only the ministry writes: their records are
// named provinces/mofa/..., and a reference to one must name the ministry's.
var ministryOwned = map[*Kind]bool{InformationRequests: true, AgreementOpinions: true}

// MinistryOwned reports whether only the ministry owns records of k.
func (k *Kind) MinistryOwned() bool { return ministryOwned[k] }

// provincesOnly are the kinds the ministry does not write: responses to
// requests for information, which it asks and provinces answer.
var provincesOnly = map[*Kind]bool{InformationResponses: true}

// WrittenBy reports whether member's node writes records of k at all.
func (k *Kind) WrittenBy(member string) bool {
	if member == Ministry {
		return !provincesOnly[k]
	}
	return !ministryOwned[k]
}

// provinceLists are the string fields that list province slugs besides every
// record's visible_to.
var provinceLists = []protoreflect.FullName{
	(&borderv1.BorderIncident{}).ProtoReflect().Descriptor().Fields().ByName("notify_provinces").FullName(),
	field(InformationRequests, "provinces"),
}

// answerFields are the string fields that name the record a record
// answers: the incident acknowledged, the agreement the ministry gives its
// opinion on, the request answered. The answered record's owner must read
// the answer, or the views of its answers (acknowledgement status, overdue
// consultations, a request's responses) differ between its node and the
// ministry's.
var answerFields = []protoreflect.FullName{
	field(IncidentAcknowledgements, "border_incident"),
	field(AgreementOpinions, "agreement"),
	field(InformationResponses, "request"),
}

// Answered returns the field of k's records that names the record they
// answer, and the province owning the record m names there; "" when k's
// records answer none, or m names none well-formed (the schema's rules
// refuse that).
func (k *Kind) Answered(m protoreflect.ProtoMessage) (field protoreflect.Name, owner string) {
	for _, name := range answerFields {
		fd := k.Message.Descriptor().Fields().ByName(name.Name())
		if fd == nil || fd.FullName() != name {
			continue
		}
		answered := m.ProtoReflect().Get(fd).String()
		if kind, ok := KindOfName(answered); ok {
			if n, err := ParseName(answered, kind.Collection); err == nil {
				return fd.Name(), n.Province
			}
		}
		return fd.Name(), ""
	}
	return "", ""
}

// anyReferences are the string fields that hold the name of a record of
// any kind.
var anyReferences = []protoreflect.FullName{field(InformationResponses, "records")}

// collectionFields are the string fields that name a collection, or none
// when empty.
var collectionFields = []protoreflect.FullName{field(InformationRequests, "collection")}

func field(k *Kind, name protoreflect.Name) protoreflect.FullName {
	fd := k.Message.Descriptor().Fields().ByName(name)
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		panic(fmt.Sprintf("resource: %s has no string field %s", k.Message.Descriptor().FullName(), name))
	}
	return fd.FullName()
}

// FieldRules returns the checks of record fields that need what this
// package knows, for validation.New: province slugs (visible_to,
// notify_provinces) must name current provinces, and references to other
// records must be well-formed names of the right kind (they need not exist
// on this node: the record may belong to a province it does not hold).
func FieldRules() map[protoreflect.FullName]func(string) error {
	rules := map[protoreflect.FullName]func(string) error{}
	for _, k := range kinds {
		rules[k.visibleTo.FullName()] = CheckProvince
	}
	for _, f := range provinceLists {
		rules[f] = CheckProvince
	}
	for f, k := range references {
		rules[f] = func(s string) error {
			n, err := ParseName(s, k.Collection)
			if err == nil && k.MinistryOwned() && n.Province != Ministry {
				return fmt.Errorf("%s are the ministry's: must have the form provinces/%s/%s/{id}, got %s", k.Collection, Ministry, k.Collection, apperr.Quote(s))
			}
			return err
		}
	}
	for _, f := range anyReferences {
		rules[f] = func(s string) error {
			k, ok := KindOfName(s)
			if !ok {
				return fmt.Errorf("must name a record, provinces/{province}/{collection}/{id}, got %s", apperr.Quote(s))
			}
			_, err := ParseName(s, k.Collection)
			return err
		}
	}
	for _, f := range collectionFields {
		rules[f] = func(s string) error {
			if _, ok := KindOf(s); !ok && s != "" {
				return fmt.Errorf("unknown collection %s", apperr.Quote(s))
			}
			return nil
		}
	}
	return rules
}

// RuleDescription says, for the documentation, what the rule of
// FieldRules on field accepts; ok is false if it has none.
func RuleDescription(field protoreflect.FullName) (what string, ok bool) {
	if _, ok := FieldRules()[field]; !ok {
		return "", false
	}
	if k, ok := references[field]; ok {
		owner := "{province}"
		if k.MinistryOwned() {
			owner = Ministry
		}
		return fmt.Sprintf("names of `%s` records (`provinces/%s/%s/{id}`)", k.Message.Descriptor().Name(), owner, k.Collection), true
	}
	if slices.Contains(anyReferences, field) {
		return "names of records of any kind (`provinces/{province}/{collection}/{id}`)", true
	}
	if slices.Contains(collectionFields, field) {
		return "a collection of this API (`trade-reports`), or empty", true
	}
	return "current province slugs", true
}

// ReferenceTo tells which kind of record a reference field must name.
func ReferenceTo(field protoreflect.FullName) (*Kind, bool) {
	k, ok := references[field]
	return k, ok
}
