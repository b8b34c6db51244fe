package resource

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/filter"
)

// Kind describes one resource type: its collection in names and URLs, its
// message, and the fields List can filter and order on. Every resource
// message carries the same standard fields (name, etag, create_time,
// update_time, delete_time, visibility, visible_to, former_province), which Kind reads and
// writes through reflection so one engine serves every kind.
type Kind struct {
	// Collection is the name segment, e.g. "border-gates".
	Collection string
	// Field is the request field holding the resource, e.g. "border_gate".
	Field   string
	Message protoreflect.MessageType
	// Schema lists the filterable fields; each has an indexed column in the
	// kind's table.
	Schema *filter.Schema

	name, etag, createTime, updateTime, deleteTime protoreflect.FieldDescriptor
	// outputOnly are the fields annotated OUTPUT_ONLY in the schema.
	outputOnly                            []protoreflect.FieldDescriptor
	visibility, visibleTo, formerProvince protoreflect.FieldDescriptor
	// search holds the fields of searchPaths, each as its path of fields.
	searchPaths []string
	search      [][]protoreflect.FieldDescriptor
}

// Method returns the descriptor of a standard method of the kind: verb is
// Get, List, Create, Update, Delete or Undelete. Methods follow AIP naming
// (GetAgreement, ListAgreements ...) in the service of the message's file.
func (k *Kind) Method(verb string) protoreflect.MethodDescriptor {
	md := k.Message.Descriptor()
	name := verb + string(md.Name())
	if verb == "List" {
		name += "s"
	}
	m := md.ParentFile().Services().Get(0).Methods().ByName(protoreflect.Name(name))
	if m == nil {
		panic(fmt.Sprintf("resource: no method %s for %s", name, md.FullName()))
	}
	return m
}

// ListField is the field of the List response that holds the page, e.g.
// "border_gates".
func (k *Kind) ListField() string { return strings.ReplaceAll(k.Collection, "-", "_") }

// TitleField is the filterable string field that names a record for
// people: display_name, or investor, or number.
func (k *Kind) TitleField() (filter.Field, bool) {
	for _, p := range []string{"display_name", "investor", "number", "border_gate"} {
		if f, ok := k.Schema.Lookup(p); ok {
			return f, true
		}
	}
	return filter.Field{}, false
}

// SearchPaths are the fields text search looks in: the title and the other
// names a person looks a record up by, such as the counterpart gate across
// the border or the foreign locality of a partnership.
func (k *Kind) SearchPaths() []string { return append([]string(nil), k.searchPaths...) }

// SearchText returns the values of m's SearchPaths, each element of
// repeated ones, leaving out empty ones.
func (k *Kind) SearchText(m protoreflect.ProtoMessage) []string {
	var out []string
	var walk func(r protoreflect.Message, path []protoreflect.FieldDescriptor)
	walk = func(r protoreflect.Message, path []protoreflect.FieldDescriptor) {
		fd := path[0]
		if !r.Has(fd) {
			return
		}
		v := r.Get(fd)
		vs := []protoreflect.Value{v}
		if fd.IsList() {
			vs = vs[:0]
			for i := 0; i < v.List().Len(); i++ {
				vs = append(vs, v.List().Get(i))
			}
		}
		for _, v := range vs {
			if len(path) > 1 {
				walk(v.Message(), path[1:])
			} else if s := v.String(); s != "" {
				out = append(out, s)
			}
		}
	}
	for _, path := range k.search {
		walk(m.ProtoReflect(), path)
	}
	return out
}

// searching sets the kind's SearchPaths: string fields, or string fields of
// (repeated) message fields ("foreign_parties.name").
func (k *Kind) searching(paths ...string) *Kind {
	for _, p := range paths {
		md := k.Message.Descriptor()
		var fds []protoreflect.FieldDescriptor
		for _, seg := range strings.Split(p, ".") {
			var fd protoreflect.FieldDescriptor
			if md != nil {
				fd = md.Fields().ByName(protoreflect.Name(seg))
			}
			if fd == nil {
				panic(fmt.Sprintf("resource: %s has no field %s to search", k.Message.Descriptor().FullName(), p))
			}
			fds = append(fds, fd)
			md = fd.Message()
		}
		if fds[len(fds)-1].Kind() != protoreflect.StringKind {
			panic(fmt.Sprintf("resource: %s.%s is not a string to search", k.Message.Descriptor().FullName(), p))
		}
		k.searchPaths = append(k.searchPaths, p)
		k.search = append(k.search, fds)
	}
	return k
}

// MoneyField reports whether path names a provex.type.v1.Money field of
// the kind ("export_value") whose units and currency_code are filterable,
// and returns those two.
func (k *Kind) MoneyField(path string) (units, currency filter.Field, ok bool) {
	if !k.isMoney(path) {
		return filter.Field{}, filter.Field{}, false
	}
	units, ok1 := k.Schema.Lookup(path + ".units")
	currency, ok2 := k.Schema.Lookup(path + ".currency_code")
	return units, currency, ok1 && ok2
}

// InMoney reports whether path names a part of a Money field (its units or
// currency_code, "export_value.units"), and returns that field's path.
// Amounts are totalled per currency by naming the Money field itself: its
// units alone would add amounts in different currencies together.
func (k *Kind) InMoney(path string) (money string, ok bool) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 || !k.isMoney(path[:i]) {
		return "", false
	}
	return path[:i], true
}

var moneyName = (&typev1.Money{}).ProtoReflect().Descriptor().FullName()

func (k *Kind) isMoney(path string) bool {
	md := k.Message.Descriptor()
	var fd protoreflect.FieldDescriptor
	for _, seg := range strings.Split(path, ".") {
		if md == nil {
			return false
		}
		if fd = md.Fields().ByName(protoreflect.Name(seg)); fd == nil {
			return false
		}
		md = fd.Message()
	}
	return md != nil && md.FullName() == moneyName && !fd.IsList()
}

// Table is the kind's SQL table.
func (k *Kind) Table() string { return strings.ReplaceAll(k.Collection, "-", "_") }

// standardPaths are filterable on every kind. former_province is one too,
// so a pre-merger province's records are a filter and a summary dimension
// of every kind.
var standardPaths = []string{"create_time", "update_time", "delete_time", "former_province"}

func newKind(collection, field string, msg protoreflect.ProtoMessage, paths ...string) *Kind {
	mt := msg.ProtoReflect().Type()
	md := mt.Descriptor()
	k := &Kind{
		Collection: collection,
		Field:      field,
		Message:    mt,
		Schema:     filter.MustSchema(md, append(paths, standardPaths...)...),
	}
	fd := func(n protoreflect.Name) protoreflect.FieldDescriptor {
		f := md.Fields().ByName(n)
		if f == nil {
			panic(fmt.Sprintf("resource: %s has no standard field %s", md.FullName(), n))
		}
		return f
	}
	// The schema names the kind: its google.api.resource pattern must be the
	// one names and URLs use, and it says which field holds the name (the
	// identifier, which no update changes).
	rd := Descriptor(md)
	pattern := "provinces/{province}/" + collection + "/{" + field + "}"
	if rd == nil || !slices.Contains(rd.GetPattern(), pattern) {
		panic(fmt.Sprintf("resource: %s has no google.api.resource with pattern %q", md.FullName(), pattern))
	}
	k.name, k.etag = fd(NameField(md)), fd("etag")
	k.outputOnly = withBehavior(md, annotations.FieldBehavior_OUTPUT_ONLY)
	k.createTime, k.updateTime, k.deleteTime = fd("create_time"), fd("update_time"), fd("delete_time")
	k.visibility, k.visibleTo = fd("visibility"), fd("visible_to")
	k.formerProvince = fd("former_province")
	return k
}

// The kinds, in the order services declare them.
var (
	Partnerships = newKind("partnerships", "partnership", &twinningv1.Partnership{},
		"display_name", "kind", "state", "partner.country_code", "partner.subdivision", "local_unit.level", "established_date", "fields").
		searching("display_name", "partner.name", "partner.locality", "local_unit.name")
	Agreements = newKind("agreements", "agreement", &twinningv1.Agreement{},
		"display_name", "kind", "state", "partner_countries", "foreign_parties.subdivision", "signed_date", "effective_date", "expiry_date",
		"consultation.state", "consultation.requested_date", "consultation.agency_opinions.agency", "report_date", "partnership").
		searching("display_name", "foreign_parties.name", "foreign_parties.locality", "signatory.name", "signed_place")
	// The ministry's opinions on provinces' draft agreements.
	AgreementOpinions = newKind("agreement-opinions", "agreement_opinion", &twinningv1.AgreementOpinion{},
		"agreement", "position", "opinion_date")
	Delegations = newKind("delegations", "delegation", &twinningv1.Delegation{},
		"display_name", "direction", "level", "countries", "foreign_parties.subdivision", "start_date", "end_date", "member_count", "foreigner_count").
		searching("display_name", "leader", "foreign_parties.name", "foreign_parties.locality")
	FriendshipAssociations = newKind("friendship-associations", "friendship_association", &twinningv1.FriendshipAssociation{},
		"display_name", "partner_country", "state", "founded_date", "member_count").
		searching("display_name")

	BorderGates = newKind("border-gates", "border_gate", &borderv1.BorderGate{},
		"display_name", "neighbour_country", "level", "counterpart_level", "transport", "state", "opened_date").
		searching("display_name", "counterpart_name")
	BorderMarkers = newKind("border-markers", "border_marker", &borderv1.BorderMarker{},
		"number", "neighbour_country", "type", "condition", "repair_state", "last_inspected_date", "border_gate").
		searching("number")
	BorderIncidents = newKind("border-incidents", "border_incident", &borderv1.BorderIncident{},
		"display_name", "category", "severity", "state", "occur_time", "resolve_time", "neighbour_country",
		"notify_provinces", "border_gate", "border_marker").
		searching("display_name")
	IncidentAcknowledgements = newKind("incident-acknowledgements", "incident_acknowledgement", &borderv1.IncidentAcknowledgement{},
		"border_incident", "acknowledge_time")
	TradeReports = newKind("trade-reports", "trade_report", &borderv1.TradeReport{},
		"border_gate", "period_kind", "period_start", "period_end",
		"export_value.currency_code", "export_value.units", "import_value.currency_code", "import_value.units",
		"budget_revenue.currency_code", "budget_revenue.units", "vehicle_count", "passenger_count").
		searching("border_gate")

	Projects = newKind("projects", "project", &investmentv1.Project{},
		"display_name", "kind", "state", "sector", "investor", "investor_country", "approved_date", "completed_date",
		"registered_capital.currency_code", "registered_capital.units", "investor_lead",
		"disbursed_capital.currency_code", "disbursed_capital.units", "organizations").
		searching("display_name", "investor", "location")
	PromotionEvents = newKind("promotion-events", "promotion_event", &investmentv1.PromotionEvent{},
		"display_name", "kind", "start_date", "host_country", "partner_countries",
		"attendee_count", "lead_count", "agreements_signed", "committed_capital.currency_code", "committed_capital.units").
		searching("display_name", "location")
	InvestorLeads = newKind("investor-leads", "investor_lead", &investmentv1.InvestorLead{},
		"investor", "state", "country", "sector", "promotion_event", "project", "first_contact_date",
		"expected_capital.currency_code", "expected_capital.units").
		searching("investor")
	// The donors, NGOs, lenders and investors projects name.
	Organizations = newKind("organizations", "organization", &investmentv1.Organization{},
		"display_name", "short_name", "kind", "country", "registration").
		searching("display_name", "short_name")

	// The ministry's requests for information and the provinces' answers.
	InformationRequests = newKind("information-requests", "information_request", &nationalv1.InformationRequest{},
		"display_name", "collection", "provinces", "due_time").
		searching("display_name")
	InformationResponses = newKind("information-responses", "information_response", &nationalv1.InformationResponse{},
		"request", "records")
)

var kinds = []*Kind{
	Partnerships, Agreements, AgreementOpinions, Delegations, FriendshipAssociations,
	BorderGates, BorderMarkers, BorderIncidents, IncidentAcknowledgements, TradeReports,
	Projects, PromotionEvents, InvestorLeads, Organizations,
	InformationRequests, InformationResponses,
}

var kindByCollection = func() map[string]*Kind {
	m := make(map[string]*Kind, len(kinds))
	for _, k := range kinds {
		m[k.Collection] = k
	}
	return m
}()

// Kinds returns every resource kind.
func Kinds() []*Kind { return append([]*Kind(nil), kinds...) }

// KindOf finds the kind of a collection segment.
func KindOf(collection string) (*Kind, bool) {
	k, ok := kindByCollection[collection]
	return k, ok
}

// KindOfMessage finds the kind whose message type is md.
func KindOfMessage(md protoreflect.MessageDescriptor) (*Kind, bool) {
	for _, k := range kinds {
		if k.Message.Descriptor().FullName() == md.FullName() {
			return k, true
		}
	}
	return nil, false
}

// KindOfName finds the kind of a full resource name.
func KindOfName(name string) (*Kind, bool) {
	c, ok := SplitCollection(name)
	if !ok {
		return nil, false
	}
	return KindOf(c)
}

// New returns an empty message of the kind.
func (k *Kind) New() protoreflect.ProtoMessage { return k.Message.New().Interface() }

func (k *Kind) Name(m protoreflect.ProtoMessage) string {
	return m.ProtoReflect().Get(k.name).String()
}
func (k *Kind) SetName(m protoreflect.ProtoMessage, name string) {
	m.ProtoReflect().Set(k.name, protoreflect.ValueOfString(name))
}
func (k *Kind) Etag(m protoreflect.ProtoMessage) string {
	return m.ProtoReflect().Get(k.etag).String()
}
func (k *Kind) SetEtag(m protoreflect.ProtoMessage, etag string) {
	m.ProtoReflect().Set(k.etag, protoreflect.ValueOfString(etag))
}

// Audience returns who may read the record: its visibility (the number of
// a provex.type.v1.Visibility value) and, for restricted records, the
// provinces listed.
func (k *Kind) Audience(m protoreflect.ProtoMessage) (visibility int32, visibleTo []string) {
	r := m.ProtoReflect()
	list := r.Get(k.visibleTo).List()
	for i := 0; i < list.Len(); i++ {
		visibleTo = append(visibleTo, list.Get(i).String())
	}
	return int32(r.Get(k.visibility).Enum()), visibleTo
}

// ListedProvinces returns, for each field of k's records that lists
// provinces to tell or ask (a border incident's notify_provinces; not
// visible_to, which Audience returns), its name and the provinces m lists.
func (k *Kind) ListedProvinces(m protoreflect.ProtoMessage) map[protoreflect.Name][]string {
	r := m.ProtoReflect()
	out := map[protoreflect.Name][]string{}
	for _, name := range provinceLists {
		fd := k.Message.Descriptor().Fields().ByName(name.Name())
		if fd == nil || fd.FullName() != name {
			continue
		}
		list := r.Get(fd).List()
		for i := 0; i < list.Len(); i++ {
			out[name.Name()] = append(out[name.Name()], list.Get(i).String())
		}
	}
	return out
}

// FormerProvince returns the pre-merger province the record came from, or
// "" when it names none.
func (k *Kind) FormerProvince(m protoreflect.ProtoMessage) string {
	return m.ProtoReflect().Get(k.formerProvince).String()
}

// Deleted reports whether the record is soft-deleted.
func (k *Kind) Deleted(m protoreflect.ProtoMessage) bool {
	return m.ProtoReflect().Has(k.deleteTime)
}

func (k *Kind) CreateTime(m protoreflect.ProtoMessage) *timestamppb.Timestamp {
	return timestampOf(m, k.createTime)
}

func (k *Kind) UpdateTime(m protoreflect.ProtoMessage) *timestamppb.Timestamp {
	return timestampOf(m, k.updateTime)
}

func (k *Kind) SetCreateTime(m protoreflect.ProtoMessage, t *timestamppb.Timestamp) {
	setTimestamp(m, k.createTime, t)
}
func (k *Kind) SetUpdateTime(m protoreflect.ProtoMessage, t *timestamppb.Timestamp) {
	setTimestamp(m, k.updateTime, t)
}
func (k *Kind) SetDeleteTime(m protoreflect.ProtoMessage, t *timestamppb.Timestamp) {
	setTimestamp(m, k.deleteTime, t)
}

// ClearOutputOnly clears the fields the schema annotates OUTPUT_ONLY, so
// what a client sends in them never reaches storage.
func (k *Kind) ClearOutputOnly(m protoreflect.ProtoMessage) {
	r := m.ProtoReflect()
	for _, f := range k.outputOnly {
		r.Clear(f)
	}
}

// OutputOnly reports whether a top-level field is one no update can set:
// annotated OUTPUT_ONLY in the schema, or the name (the identifier of
// AIP-203, which says which record an update changes).
func (k *Kind) OutputOnly(field protoreflect.Name) bool {
	if field == k.name.Name() {
		return true
	}
	return slices.ContainsFunc(k.outputOnly, func(f protoreflect.FieldDescriptor) bool { return f.Name() == field })
}

// OutputOnlyFields names the fields OutputOnly reports, the name first.
func (k *Kind) OutputOnlyFields() []string {
	out := []string{string(k.name.Name())}
	for _, f := range k.outputOnly {
		out = append(out, string(f.Name()))
	}
	return out
}

func timestampOf(m protoreflect.ProtoMessage, f protoreflect.FieldDescriptor) *timestamppb.Timestamp {
	r := m.ProtoReflect()
	if !r.Has(f) {
		return nil
	}
	return r.Get(f).Message().Interface().(*timestamppb.Timestamp)
}

func setTimestamp(m protoreflect.ProtoMessage, f protoreflect.FieldDescriptor, t *timestamppb.Timestamp) {
	if t == nil {
		m.ProtoReflect().Clear(f)
		return
	}
	m.ProtoReflect().Set(f, protoreflect.ValueOfMessage(t.ProtoReflect()))
}
