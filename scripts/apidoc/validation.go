package main

import (
	"slices"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
)

// validation writes the Validation section: the rules beyond a single
// field's shape, listed from the schema (message rules and the predefined
// rules of provex/type/v1) and from resource.FieldRules.
func (g *gen) validation() {
	p := g.p
	p("## Validation")
	p("")
	p("Every request is validated before it is served, and an Update's record again after its mask is applied. A bad request is refused as a whole with `INVALID_ARGUMENT` and one field violation per bad field (the first rule it breaks), whose `field` is the path into the request and whose `reason` names the rule. Besides the lengths, patterns and enum values of each field, records must make sense:")
	p("")
	p("- **Dates.** A `provex.type.v1.Date` is a real calendar date: a day needs a month (`reason` `date.day_without_month`), and the day must exist in that month, 29 February only in leap years (`date.no_such_day`). Month 0 means the whole year, day 0 the whole month.")
	p("- **Ranges.** An end is never before its start (rules below). Partial dates stand for the interval they cover: an end is before a start only when the whole end interval is, so `2024` may end a range that starts `2024-05`, and `2024-05` one that starts `2024-05-06`.")
	p("- **Counts** fit together (rules below).")
	p("- **Names** (`reason` `string.name`): display names and the other names and titles listed below have no white space (any Unicode space) or invisible character at either end, and no control characters (NUL, tabs, line breaks), line or paragraph separators (U+2028, U+2029), private-use characters or invisible format characters (zero-width space U+200B, bidi overrides such as U+202E, the byte order mark U+FEFF, soft hyphens); zero-width joiner and non-joiner (U+200D, U+200C) are allowed inside a name, for the scripts that need them, and combining marks (Vietnamese tones, Lao and Khmer vowel signs) are always allowed; characters that show nothing cannot start or end a name either (the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, the braille blank U+2800, the combining grapheme joiner U+034F, the Khmer inherent vowels U+17B4 and U+17B5); a name does not start with a combining mark or a variation selector, and a variation selector (U+FE0F, the Mongolian ones) may end it only after the character it shapes; a required name cannot be blank.")
	p("- **Codes.** Country fields take a current ISO 3166-1 alpha-2 code (`string.iso3166_alpha2`: `GB`, not `UK`; not `ZZ`) and money a current ISO 4217 currency (`string.iso4217`: not `XYZ`, nor the test, no-currency, precious-metal and bond-unit codes). The lists are generated from Debian's iso-codes by `scripts/isogen` into `proto/provex/type/v1/iso.proto`. Fields about the land border keep their narrower list (`CN`, `LA`, `KH`).")
	p("- **Provinces** (`reason` `field_rule`): `visible_to` and `notify_provinces` name current provinces (`NodeService.ListProvinces`); a province merged away on 1 July 2025 is refused with the one it was merged into.")
	p("- **Readers** (`reason` `visible_to.not_restricted`, `visible_to.owner`): only a `VISIBILITY_RESTRICTED` record has a `visible_to` list (on a public or national one it would mean nothing; clear it when a record stops being restricted), and the list does not name the owning province, which always reads its records. Checked on the record as stored, after an update mask is applied.")
	p("- **Provinces to tell** (`reason` `province_list.owner`): a border incident's `notify_provinces` does not name the owning province, which cannot acknowledge its own incident (it would wait for good). Checked on the record as stored.")
	p("- **References** (`reason` `field_rule`): a field that points to another record holds a well-formed resource name of the right kind (its province current, its id valid), or is empty. The record need not be held by this node.")
	p("- **Text and times** every field must hold: text is UTF-8 (`reason` `string.utf8`) without U+0000 (`string.nul`), in every string field, path and query parameters included; a timestamp lies between 1677-09-21T00:12:44Z and 2262-04-11T23:47:16Z, the whole seconds a filter column holds as nanoseconds, with nanos from 0 to 999,999,999 (`timestamp.range`), and is not 1970-01-01T00:00:00Z itself (`timestamp.epoch`: a filter column keeps that instant as a time not set, so filters, sorting and summaries would count it unset; leave the field unset, or give a time even a nanosecond from it). A node also refuses to apply another member's state that breaks these, but for the epoch, which it applies as unset (records stored before the API refused it hold it, and their owner's deletes carry it): such a state stays in the log but is not applied (README, \"Federation and sync\").")
	p("")
	p("| Message | Field | Rule | Reason |")
	p("|---|---|---|---|")
	type row struct{ msg, field, rule, reason string }
	var rows []row
	seen := map[protoreflect.FullName]bool{}
	var visit func(md protoreflect.MessageDescriptor)
	visit = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] || !strings.HasPrefix(string(md.FullName()), "provex.") {
			return
		}
		seen[md.FullName()] = true
		if rules, err := protovalidate.ResolveMessageRules(md); err == nil {
			for _, r := range rules.GetCel() {
				field, _, _ := strings.Cut(r.GetId(), ".")
				if md.Fields().ByName(protoreflect.Name(field)) == nil {
					field = "—"
				} else {
					field = "`" + field + "`"
				}
				msg := r.GetMessage()
				if msg == "" {
					msg = "(the message names what is wrong)"
				}
				rows = append(rows, row{string(md.FullName()), field, msg, r.GetId()})
			}
		}
		fields := md.Fields()
		var nested []protoreflect.MessageDescriptor
		for i := range fields.Len() {
			fd := fields.Get(i)
			if fd.Message() != nil {
				nested = append(nested, fd.Message())
				continue
			}
			if fd.Kind() != protoreflect.StringKind {
				continue
			}
			for _, rule := range stringRules(fd) {
				rows = append(rows, row{string(md.FullName()), "`" + string(fd.Name()) + "`", rule[0], rule[1]})
			}
		}
		for _, n := range nested {
			visit(n)
		}
	}
	for _, k := range g.kinds {
		visit(k.Message.Descriptor())
	}
	for _, r := range rows {
		p("| `%s` | %s | %s | `%s` |", r.msg, r.field, cell(r.rule), r.reason)
	}
	p("")
}

// stringRules describes the rules of a string field that are more than its
// shape: predefined rules of provex/type/v1 and resource's field rules.
func stringRules(fd protoreflect.FieldDescriptor) [][2]string {
	var out [][2]string
	if rules, err := protovalidate.ResolveFieldRules(fd); err == nil {
		var sr *validate.StringRules
		if fd.IsList() {
			sr = rules.GetRepeated().GetItems().GetString()
		} else {
			sr = rules.GetString()
		}
		for _, x := range []struct {
			ext  protoreflect.ExtensionType
			what string
		}{
			{typev1.E_Name, "a name: trimmed, no control or invisible characters"},
			{typev1.E_Iso3166Alpha2, "a current ISO 3166-1 alpha-2 code"},
			{typev1.E_Iso4217, "a current ISO 4217 code"},
		} {
			if sr != nil && proto.GetExtension(sr, x.ext) == true {
				out = append(out, [2]string{x.what, "string." + string(x.ext.TypeDescriptor().Name())})
			}
		}
	}
	if what, ok := resource.RuleDescription(fd.FullName()); ok {
		out = append(out, [2]string{what, "field_rule"})
	}
	return slices.Clip(out)
}
