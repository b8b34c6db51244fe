package filter

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/timestamppb" // registers google/protobuf/timestamp.proto
)

const testFile = `
name: "provex/type/v1/types_test.proto"
package: "provex.type.v1"
dependency: "google/protobuf/timestamp.proto"
syntax: "proto3"
message_type {
  name: "Date"
  field { name: "year" number: 1 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "month" number: 2 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "day" number: 3 label: LABEL_OPTIONAL type: TYPE_INT32 }
}
message_type {
  name: "Party"
  field { name: "country_code" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
}
message_type {
  name: "Resource"
  field { name: "display_name" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "state" number: 2 label: LABEL_OPTIONAL type: TYPE_ENUM type_name: ".provex.type.v1.State" }
  field { name: "member_count" number: 3 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "active" number: 4 label: LABEL_OPTIONAL type: TYPE_BOOL }
  field { name: "signed_date" number: 5 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".provex.type.v1.Date" }
  field { name: "update_time" number: 6 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Timestamp" }
  field { name: "partner" number: 7 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".provex.type.v1.Party" }
  field { name: "countries" number: 8 label: LABEL_REPEATED type: TYPE_STRING }
  field { name: "tags" number: 9 label: LABEL_REPEATED type: TYPE_ENUM type_name: ".provex.type.v1.Tag" }
  field { name: "parties" number: 10 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".provex.type.v1.Party" }
  field { name: "blob" number: 11 label: LABEL_OPTIONAL type: TYPE_BYTES }
  field { name: "score" number: 12 label: LABEL_OPTIONAL type: TYPE_DOUBLE }
  field { name: "numbers" number: 13 label: LABEL_REPEATED type: TYPE_INT64 }
  field { name: "partner_country_code" number: 14 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "big" number: 15 label: LABEL_OPTIONAL type: TYPE_UINT64 }
}
enum_type {
  name: "State"
  value { name: "STATE_UNSPECIFIED" number: 0 }
  value { name: "STATE_DRAFT" number: 1 }
  value { name: "STATE_IN_FORCE" number: 2 }
  value { name: "STATE_EXPIRED" number: 3 }
}
enum_type {
  name: "Tag"
  value { name: "TAG_UNSPECIFIED" number: 0 }
  value { name: "TAG_CAPITAL" number: 1 }
  value { name: "TAG_COASTAL" number: 2 }
  value { name: "TAG_UNIVERSITY" number: 3 }
}
`

var testPaths = []string{
	"display_name", "state", "member_count", "active", "signed_date",
	"update_time", "partner.country_code", "countries", "tags",
}

const testKind = "provex.type.v1.Resource"

var resourceDesc = func() protoreflect.MessageDescriptor {
	fdp := &descriptorpb.FileDescriptorProto{}
	if err := prototext.Unmarshal([]byte(testFile), fdp); err != nil {
		panic(err)
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		panic(err)
	}
	return fd.Messages().ByName("Resource")
}()

var testSchema = MustSchema(resourceDesc, testPaths...)

// rec holds a resource's values as plain Go so that expected results are
// computed without the package's encoding.
type rec struct {
	id        int64
	name      string
	state     int32 // State number
	members   int32
	active    bool
	date      [3]int32 // year, month, day; all zero when unset
	update    time.Time
	hasUpdate bool
	partner   *string
	countries []string
	tags      []string // full Tag names
}

func (r rec) hasDate() bool { return r.date != [3]int32{} }

// updateNanos is 0 for an unset update_time, like the stored encoding; the
// predicates compare times through it so that "unset" sorts where it is stored.
func (r rec) updateNanos() int64 {
	if !r.hasUpdate {
		return 0
	}
	return r.update.UnixNano()
}

func testRecords() []rec {
	names := []string{
		"Berlin", "Bern", "Bergen", "Paris", "", "Ber", "Zürich", "berlin", "Bernau", "Athens",
		"Rome", "Berlin-Mitte", "O'Hare", `Quote"d`, "Ber*", "Lisbon", "Bonn", "Ber\xff", "a\tb", "Zürichsee",
	}
	countryCodes := []string{"DE", "FR", "PL", ""}
	countrySets := [][]string{{"DE"}, {"FR", "IT"}, nil, {"DE", "FR"}, {"Zürich"}, {"IT"}}
	tagSets := [][]string{{"TAG_CAPITAL"}, nil, {"TAG_COASTAL", "TAG_UNIVERSITY"}, {"TAG_UNIVERSITY"}, {"TAG_CAPITAL", "TAG_COASTAL"}}
	base := time.Date(2024, 5, 27, 10, 0, 0, 0, time.UTC)
	var recs []rec
	for i, name := range names {
		r := rec{
			id:        int64(i + 1),
			name:      name,
			state:     int32(i % 4),
			members:   int32((i*37)%50 - 10),
			active:    i%3 == 0,
			countries: countrySets[i%len(countrySets)],
			tags:      tagSets[i%len(tagSets)],
		}
		if i%7 != 0 {
			r.date = [3]int32{int32(2019 + i%5), int32(1 + (i*5)%12), int32(1 + (i*11)%28)}
		}
		switch i {
		case 13:
			r.date = [3]int32{2021, 0, 0} // partial dates, valid in provex.type.v1.Date
		case 16:
			r.date = [3]int32{2021, 7, 0}
		}
		if i%6 != 5 {
			r.update, r.hasUpdate = base.Add(time.Duration(i*7)*time.Hour+time.Duration(i)*time.Millisecond), true
		}
		if i == 2 {
			r.update = time.Date(1965, 3, 1, 0, 0, 0, 500, time.UTC)
		}
		if i%5 != 4 {
			cc := countryCodes[i%len(countryCodes)]
			r.partner = &cc
		}
		recs = append(recs, r)
	}
	return recs
}

func (r rec) message() protoreflect.Message {
	m := dynamicpb.NewMessage(resourceDesc)
	fields := resourceDesc.Fields()
	m.Set(fields.ByName("display_name"), protoreflect.ValueOfString(r.name))
	m.Set(fields.ByName("state"), protoreflect.ValueOfEnum(protoreflect.EnumNumber(r.state)))
	m.Set(fields.ByName("member_count"), protoreflect.ValueOfInt32(r.members))
	m.Set(fields.ByName("active"), protoreflect.ValueOfBool(r.active))
	if r.hasDate() {
		d := m.Mutable(fields.ByName("signed_date")).Message()
		df := d.Descriptor().Fields()
		d.Set(df.ByName("year"), protoreflect.ValueOfInt32(r.date[0]))
		d.Set(df.ByName("month"), protoreflect.ValueOfInt32(r.date[1]))
		d.Set(df.ByName("day"), protoreflect.ValueOfInt32(r.date[2]))
	}
	if r.hasUpdate {
		ts := m.Mutable(fields.ByName("update_time")).Message()
		tf := ts.Descriptor().Fields()
		ts.Set(tf.ByName("seconds"), protoreflect.ValueOfInt64(r.update.Unix()))
		ts.Set(tf.ByName("nanos"), protoreflect.ValueOfInt32(int32(r.update.Nanosecond())))
	}
	if r.partner != nil {
		p := m.Mutable(fields.ByName("partner")).Message()
		p.Set(p.Descriptor().Fields().ByName("country_code"), protoreflect.ValueOfString(*r.partner))
	}
	countries := m.Mutable(fields.ByName("countries")).List()
	for _, c := range r.countries {
		countries.Append(protoreflect.ValueOfString(c))
	}
	tagsField := fields.ByName("tags")
	tags := m.Mutable(tagsField).List()
	for _, t := range r.tags {
		tags.Append(protoreflect.ValueOfEnum(tagsField.Enum().Values().ByName(protoreflect.Name(t)).Number()))
	}
	return m
}

// openTestDB creates the resource table the way provex lays it out: one
// column per non-repeated schema field and a side table for repeated ones.
func openTestDB(tb testing.TB, dir string, s *Schema, recs []rec) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite3", filepath.Join(dir, "t.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	var cols, names, marks []string
	var scalar []Field
	for _, f := range s.Fields() {
		if f.Repeated {
			continue
		}
		typ := "INTEGER"
		if f.Type == String {
			typ = "TEXT"
		}
		cols = append(cols, fmt.Sprintf("%q %s NOT NULL", f.Column, typ))
		names = append(names, fmt.Sprintf("%q", f.Column))
		marks = append(marks, "?")
		scalar = append(scalar, f)
	}
	stmts := []string{
		"CREATE TABLE t (id INTEGER PRIMARY KEY, " + strings.Join(cols, ", ") + ")",
		"CREATE TABLE record_elements (list INTEGER NOT NULL, value TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY (list, value, record)) WITHOUT ROWID",
	}
	for _, f := range scalar {
		stmts = append(stmts, fmt.Sprintf(`CREATE INDEX "t_%s" ON t(%q)`, f.Column, f.Column))
	}
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			tb.Fatal(stmt, err)
		}
	}
	insert := "INSERT INTO t (id, " + strings.Join(names, ", ") + ") VALUES (?, " + strings.Join(marks, ", ") + ")"
	for _, r := range recs {
		m := r.message()
		args := []any{r.id}
		for _, f := range scalar {
			args = append(args, f.Values(m)[0])
		}
		if _, err := db.Exec(insert, args...); err != nil {
			tb.Fatal(err)
		}
		for _, f := range s.Fields() {
			if !f.Repeated {
				continue
			}
			for _, v := range f.Values(m) {
				if _, err := db.Exec("INSERT OR IGNORE INTO record_elements VALUES (?, ?, ?)", ListID(testKind, f.Path), v, r.id); err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
	return db
}

func queryIDs(tb testing.TB, db *sql.DB, where string, args []any) ([]int64, error) {
	rows, err := db.Query("SELECT id FROM t WHERE "+where+" ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func filterIDs(recs []rec, pred func(rec) bool) []int64 {
	var ids []int64
	for _, r := range recs {
		if pred(r) {
			ids = append(ids, r.id)
		}
	}
	return ids
}
