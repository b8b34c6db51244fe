package resource

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
)

// references are the string fields of records that hold the name of another
// record, with the kind they must name. An empty reference means none.
var references = map[protoreflect.FullName]*Kind{
	field(Agreements, "partnership"):                   Partnerships,
	field(Delegations, "agreements"):                   Agreements,
	field(BorderMarkers, "border_gate"):                BorderGates,
	field(BorderIncidents, "border_gate"):              BorderGates,
	field(BorderIncidents, "border_marker"):            BorderMarkers,
	field(TradeReports, "border_gate"):                 BorderGates,
	field(IncidentAcknowledgements, "border_incident"): BorderIncidents,
	field(Projects, "investor_lead"):                   InvestorLeads,
	field(InvestorLeads, "promotion_event"):            PromotionEvents,
	field(InvestorLeads, "project"):                    Projects,
}

// provinceLists are the string fields that list province slugs besides every
// record's visible_to.
var provinceLists = []protoreflect.FullName{
	(&borderv1.BorderIncident{}).ProtoReflect().Descriptor().Fields().ByName("notify_provinces").FullName(),
}

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
		collection := k.Collection
		rules[f] = func(s string) error {
			_, err := ParseName(s, collection)
			return err
		}
	}
	return rules
}

// ReferenceTo tells which kind of record a reference field must name.
func ReferenceTo(field protoreflect.FullName) (*Kind, bool) {
	k, ok := references[field]
	return k, ok
}
