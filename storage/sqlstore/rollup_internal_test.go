package sqlstore

import (
	"context"
	"crypto/ecdh"
	crand "crypto/rand"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/changelog"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/internal/filter"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/storage"
)

// randomProject draws a project over few enough values that groups repeat,
// with full, month-only, year-only and missing approval dates.
func randomProject(r *rand.Rand, name string) *investmentv1.Project {
	p := &investmentv1.Project{
		Name:            name,
		DisplayName:     "Project " + name,
		Kind:            investmentv1.Project_Kind(1 + r.IntN(4)),
		State:           investmentv1.Project_State(1 + r.IntN(5)),
		Sector:          investmentv1.Sector(1 + r.IntN(6)),
		InvestorCountry: []string{"KR", "JP", "SG", "CN"}[r.IntN(4)],
		Visibility:      typev1.Visibility_VISIBILITY_PUBLIC,
	}
	currency := []string{"USD", "VND"}[r.IntN(2)]
	p.RegisteredCapital = &typev1.Money{CurrencyCode: currency, Units: int64(1 + r.IntN(1_000_000))}
	if r.IntN(2) == 0 {
		p.DisbursedCapital = &typev1.Money{CurrencyCode: currency, Units: int64(r.IntN(500_000))}
	}
	year := int32(2018 + r.IntN(8))
	switch r.IntN(5) {
	case 0:
	case 1:
		p.ApprovedDate = &typev1.Date{Year: year}
	case 2:
		p.ApprovedDate = &typev1.Date{Year: year, Month: int32(1 + r.IntN(12))}
	default:
		p.ApprovedDate = &typev1.Date{Year: year, Month: int32(1 + r.IntN(12)), Day: int32(1 + r.IntN(28))}
	}
	return p
}

func projectField(t *testing.T, path string) *filter.Field {
	t.Helper()
	f, ok := resource.Projects.Schema.Lookup(path)
	if !ok {
		t.Fatalf("no field %s", path)
	}
	return &f
}

// TestRollupsMatchScans writes, updates, deletes and undeletes projects
// locally, applies another origin's entries (including one that takes a
// record away from this node), and checks that every summary a rollup
// answers equals the same summary computed from the records; then that a
// rollup rebuilt from the rows (a changed definition) does too.
func TestRollupsMatchScans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provex.db")
	db := openAt(t, path)
	r := rand.New(rand.NewPCG(7, 7))
	gen := func(name string) proto.Message { return randomProject(r, name) }
	churn(t, db, resource.Projects, r, gen, func(m proto.Message) { m.(*investmentv1.Project).RegisteredCapital.Units += 1000 })
	applyRemote(t, db, resource.Projects, gen)

	queries := []storage.SummaryQuery{
		{Dims: []storage.Dim{{}}},
		{Dims: []storage.Dim{{}, {Field: projectField(t, "kind")}, {Field: projectField(t, "state")}}},
		{Dims: []storage.Dim{{Field: projectField(t, "sector")}}, Currency: projectField(t, "registered_capital.currency_code"),
			Sums: []filter.Field{*projectField(t, "registered_capital.units")}},
		{Dims: []storage.Dim{{Field: projectField(t, "investor_country")}}, Currency: projectField(t, "disbursed_capital.currency_code"),
			Sums: []filter.Field{*projectField(t, "disbursed_capital.units")}, Filter: parse(t, resource.Projects, "kind = FDI")},
		{Dims: []storage.Dim{{}, {Field: projectField(t, "approved_date"), Bucket: "year"}}},
		{Dims: []storage.Dim{{Field: projectField(t, "approved_date"), Bucket: "month"}}, Filter: parse(t, resource.Projects, "approved_date >= 2021-03 AND approved_date < 2023")},
		{Dims: []storage.Dim{{Field: projectField(t, "approved_date"), Bucket: "quarter"}}, Filter: parse(t, resource.Projects, "approved_date > 2020 AND NOT state = COMPLETED")},
		{Dims: []storage.Dim{{Field: projectField(t, "state")}}, Filter: parse(t, resource.Projects, "approved_date <= 2022-06 OR approved_date = 2019")},
		{Filter: parse(t, resource.Projects, `sector = ENERGY OR investor_country = "KR"`)}, // no rollup has both
		{Dims: []storage.Dim{{Field: projectField(t, "state")}}, Filter: parse(t, resource.Projects, "approved_date >= 2021-03-15")},
		{Dims: []storage.Dim{{Field: projectField(t, "approved_date")}}},
		// Every date operator with year and month literals, over full, month-only and year-only dates.
		{Dims: []storage.Dim{{Field: projectField(t, "state")}}, Filter: parse(t, resource.Projects,
			"approved_date = 2022-05 OR approved_date = 2020 OR approved_date != 2021 approved_date <= 2024-06 approved_date > 2018-12 approved_date >= 2019-01 approved_date < 2025-12")},
	}
	covered := []bool{true, true, true, true, true, true, true, true, false, false, false, true}
	checkRollups(t, db, resource.Projects, queries, covered, "maintained")
	rebuildOrigin(t, db, "nghe-an")
	checkRollups(t, db, resource.Projects, queries, covered, "nghe-an's records rebuilt from its log")
	db.Close()

	forgetRollup(t, path, "rollup_projects_kind_state_sector")
	db = openAt(t, path)
	defer db.Close()
	checkRollups(t, db, resource.Projects, queries, covered, "rebuilt")
}

// randomDelegation draws a delegation to one to four countries, some of
// them twice.
func randomDelegation(r *rand.Rand, name string) *twinningv1.Delegation {
	d := &twinningv1.Delegation{
		Name:           name,
		DisplayName:    "Delegation " + name,
		Direction:      twinningv1.Delegation_Direction(1 + r.IntN(2)),
		Level:          twinningv1.Delegation_Level(1 + r.IntN(3)),
		MemberCount:    int32(1 + r.IntN(30)),
		ForeignerCount: int32(r.IntN(50)),
		StartDate:      &typev1.Date{Year: int32(2019 + r.IntN(6)), Month: int32(1 + r.IntN(12)), Day: int32(1 + r.IntN(28))},
		Visibility:     typev1.Visibility_VISIBILITY_PUBLIC,
	}
	for range 1 + r.IntN(4) {
		d.Countries = append(d.Countries, []string{"CN", "LA", "KH", "KR", "JP"}[r.IntN(5)])
	}
	return d
}

// TestRepeatedRollupsMatchScans does the same for a rollup of a repeated
// field's elements (delegations by country): element lists change, records
// are deleted, undeleted and taken away, and the rollup keeps the join of
// records and elements; queries not grouped by the field never use it.
func TestRepeatedRollupsMatchScans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provex.db")
	db := openAt(t, path)
	r := rand.New(rand.NewPCG(9, 9))
	gen := func(name string) proto.Message { return randomDelegation(r, name) }
	churn(t, db, resource.Delegations, r, gen, func(m proto.Message) {
		d := m.(*twinningv1.Delegation)
		d.MemberCount++
		d.Countries = d.Countries[1:] // the figures stay, the elements change
		if len(d.Countries) == 0 {
			d.Countries = []string{"TH"}
		}
	})
	applyRemote(t, db, resource.Delegations, gen)

	field := func(path string) *filter.Field {
		f, ok := resource.Delegations.Schema.Lookup(path)
		if !ok {
			t.Fatalf("no field %s", path)
		}
		return &f
	}
	counts := []filter.Field{*field("member_count"), *field("foreigner_count")}
	queries := []storage.SummaryQuery{
		{Dims: []storage.Dim{{Field: field("countries")}}, Sums: counts},
		{Dims: []storage.Dim{{}, {Field: field("countries")}, {Field: field("direction")}}, Sums: counts},
		{Dims: []storage.Dim{{Field: field("level")}, {Field: field("countries")}}, Filter: parse(t, resource.Delegations, "direction = OUTGOING")},
		{Dims: []storage.Dim{{Field: field("countries")}}, Filter: parse(t, resource.Delegations, `countries:"KR"`)}, // ':' reads record_values
		{Dims: []storage.Dim{{Field: field("direction")}}, Sums: counts},                                             // counted once each
		{Dims: []storage.Dim{{Field: field("countries")}, {Field: field("start_date"), Bucket: "year"}}},             // no such rollup
	}
	covered := []bool{true, true, true, false, true, false}
	checkRollups(t, db, resource.Delegations, queries, covered, "maintained")
	if ru := rollupFor(storage.SummaryQuery{Kind: resource.Delegations, Dims: queries[4].Dims, Sums: counts}); ru.repeated != nil {
		t.Fatalf("a summary by direction reads %s, which counts a delegation once per country", ru.table)
	}
	rebuildOrigin(t, db, "nghe-an")
	checkRollups(t, db, resource.Delegations, queries, covered, "nghe-an's records rebuilt from its log")
	db.Close()

	forgetRollup(t, path, "rollup_delegations_countries_direction_level")
	db = openAt(t, path)
	defer db.Close()
	checkRollups(t, db, resource.Delegations, queries, covered, "rebuilt")
}

// rebuildOrigin rebuilds origin's records from the stored log, as a repair
// that replaced a rewritten range does: rows and rollup groups go at once,
// and come back entry by entry.
func rebuildOrigin(t *testing.T, db *DB, origin string) {
	t.Helper()
	if err := db.runInWriter(context.Background(), func(tx *writeTx) error { return db.rebuildOrigin(tx, origin) }); err != nil {
		t.Fatal(err)
	}
}

func openAt(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, "cao-bang", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// forgetRollup empties a rollup and marks every definition stale, as a
// binary with other rollups would find them, so the next Open rebuilds all.
func forgetRollup(t *testing.T, path, table string) {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE rollups SET definition = 'old'; DELETE FROM ` + table); err != nil {
		t.Fatal(err)
	}
}

// churn writes 400 records of kind drawn by gen, then makes 300 random
// changes: a new state for every field, a delete, an undelete, or bump
// (a change of figures that keeps the keys).
func churn(t *testing.T, db *DB, kind *resource.Kind, r *rand.Rand, gen func(name string) proto.Message, bump func(proto.Message)) {
	t.Helper()
	const n = 400
	name := func(i int) string { return fmt.Sprintf("provinces/cao-bang/%s/r%03d", kind.Collection, i) }
	write := func(i int, change func(cur proto.Message, st storage.Stamp) proto.Message) {
		t.Helper()
		_, err := db.Write(context.Background(), storage.Write{Kind: kind, Name: name(i), Mutate: func(cur proto.Message, st storage.Stamp) (proto.Message, error) {
			return change(cur, st), nil
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	deleteTime := func(m proto.Message) protoreflect.FieldDescriptor {
		return m.ProtoReflect().Descriptor().Fields().ByName("delete_time")
	}
	for i := range n {
		write(i, func(proto.Message, storage.Stamp) proto.Message { return gen(name(i)) })
	}
	for range 300 {
		i := r.IntN(n)
		switch r.IntN(4) {
		case 0:
			write(i, func(cur proto.Message, _ storage.Stamp) proto.Message {
				m := gen(name(i))
				fd := deleteTime(m)
				if cur.ProtoReflect().Has(fd) {
					m.ProtoReflect().Set(fd, cur.ProtoReflect().Get(fd))
				}
				return m
			})
		case 1:
			write(i, func(cur proto.Message, st storage.Stamp) proto.Message {
				cur.ProtoReflect().Set(deleteTime(cur), protoreflect.ValueOfMessage(timestamppb.New(st.Time).ProtoReflect()))
				return cur
			})
		case 2:
			write(i, func(cur proto.Message, _ storage.Stamp) proto.Message {
				cur.ProtoReflect().Clear(deleteTime(cur))
				return cur
			})
		case 3:
			write(i, func(cur proto.Message, _ storage.Stamp) proto.Message {
				bump(cur)
				return cur
			})
		}
	}
}

// checkRollups checks that each query's rollup is used exactly when
// covered says, and gives the scan's answer, for all provinces and each.
func checkRollups(t *testing.T, db *DB, kind *resource.Kind, queries []storage.SummaryQuery, covered []bool, stage string) {
	t.Helper()
	ctx := context.Background()
	for i, q := range queries {
		q.Kind, q.Province = kind, resource.AllProvinces
		ru := rollupFor(q)
		if (ru != nil) != covered[i] {
			t.Fatalf("%s: query %d: rollup %v, want covered=%v", stage, i, ru != nil, covered[i])
		}
		if ru == nil {
			continue
		}
		for _, p := range []string{resource.AllProvinces, "cao-bang", "nghe-an"} {
			q.Province = p
			got, err := db.summarize(ctx, q, ru)
			if err != nil {
				t.Fatalf("%s: query %d: %v", stage, i, err)
			}
			want, err := db.summarize(ctx, q, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: query %d in %q over %s:\n rollup %v\n scan   %v", stage, i, p, ru.table, got, want)
			}
		}
	}
}

// applyRemote applies nghe-an's log, written by a store of its own: 60
// public records drawn by gen, then a change of the first to restricted
// (for lao-cai only), which is sealed to others and withdraws the record
// from this node.
func applyRemote(t *testing.T, db *DB, kind *resource.Kind, gen func(name string) proto.Message) {
	t.Helper()
	ctx := context.Background()
	originKey, _ := ecdh.X25519().GenerateKey(crand.Reader)
	laoCai, _ := ecdh.X25519().GenerateKey(crand.Reader)
	sealer, _ := changelog.NewSealer(originKey)
	origin, err := Open(ctx, filepath.Join(t.TempDir(), "nghe-an.db"), "nghe-an", Options{Sealer: sealer,
		Directory: changelog.Keys{"nghe-an": originKey.PublicKey(), db.origin: db.sealer.Load().PublicKey(), "lao-cai": laoCai.PublicKey()}})
	if err != nil {
		t.Fatal(err)
	}
	defer origin.Close()
	write := func(m proto.Message) {
		if _, err := origin.Write(ctx, storage.Write{Kind: kind, Name: kind.Name(m), Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) {
			return m, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	var first proto.Message
	for i := range 60 {
		m := gen(fmt.Sprintf("provinces/nghe-an/%s/q%02d", kind.Collection, i))
		if i == 0 {
			first = m
		}
		write(m)
	}
	gone := proto.Clone(first)
	fields := gone.ProtoReflect().Descriptor().Fields()
	gone.ProtoReflect().Set(fields.ByName("visibility"), protoreflect.ValueOfEnum(protoreflect.EnumNumber(typev1.Visibility_VISIBILITY_RESTRICTED)))
	gone.ProtoReflect().Mutable(fields.ByName("visible_to")).List().Append(protoreflect.ValueOfString("lao-cai"))
	write(gone)
	entries, err := origin.Changes(ctx, "nghe-an", 0, 100)
	if err != nil || len(entries) != 61 || !entries[60].Sealed {
		t.Fatalf("origin's log: %d entries, %v", len(entries), err)
	}
	last := entries[len(entries)-1]
	if _, err := db.ApplyRemote(ctx, entries, changelog.Checkpoint{Origin: "nghe-an", Seq: last.Seq, Hash: last.Hash, Signature: []byte("unchecked by storage")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, kind, kind.Name(first)); err == nil {
		t.Fatal("a record restricted away from this node is still here")
	}
}

func parse(t *testing.T, kind *resource.Kind, src string) filter.Expr {
	t.Helper()
	e, err := filter.Parse(src, kind.Schema)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEmptiedGroupsLeaveTheRollups: a group no record is in any more is
// deleted, not kept at n = 0, after an update and a deletion (and a run of
// another origin's log that withdraws one of its records, whose groups'
// changes net out in the run): its keys are values of records, such as a
// partnership's field of cooperation, and a rollup answers as a scan of the
// records does.
func TestEmptiedGroupsLeaveTheRollups(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db := openAt(t, path)
	defer db.Close()
	const secret = "Zqfieldsecret cooperation"
	// Two fields: an update that drops both empties two groups of one
	// rollup in one flush.
	p := &twinningv1.Partnership{Name: "provinces/cao-bang/partnerships/p1", DisplayName: "Kết nghĩa", Fields: []string{secret, "Zqsecond field"},
		Kind: twinningv1.Partnership_KIND_TWINNING, State: twinningv1.Partnership_STATE_ACTIVE}
	writeRecord(t, db, p)
	held := func() (emptyGroups, withSecret int) {
		t.Helper()
		for _, k := range resource.Kinds() {
			for _, r := range rollups[k] {
				var n int
				if err := db.reader.QueryRowContext(ctx, "SELECT count(*) FROM "+r.table+" WHERE n = 0").Scan(&n); err != nil {
					t.Fatal(err)
				}
				emptyGroups += n
			}
		}
		if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM rollup_partnerships_fields_kind_state WHERE "fields" = ?`, secret).Scan(&withSecret); err != nil {
			t.Fatal(err)
		}
		return emptyGroups, withSecret
	}
	if _, with := held(); with != 1 {
		t.Fatalf("the field's group is not in the rollup (%d rows), so its absence below would prove nothing", with)
	}
	// An update moves the record to other groups.
	p.Fields, p.State = []string{"Trade"}, twinningv1.Partnership_STATE_SUSPENDED
	writeRecord(t, db, p)
	if empty, with := held(); empty != 0 || with != 0 {
		t.Errorf("after an update: %d empty groups, %d rows of the old field", empty, with)
	}
	// A deletion takes it out of every group.
	p.DeleteTime = timestamppb.Now()
	writeRecord(t, db, p)
	if empty, _ := held(); empty != 0 {
		t.Errorf("after a deletion: %d empty groups", empty)
	}
	// A record of another origin withdrawn from the node.
	applyRemote(t, db, resource.Partnerships, func(name string) proto.Message {
		return &twinningv1.Partnership{Name: name, DisplayName: "Hợp tác " + name[len(name)-3:], Fields: []string{"Remote " + name[len(name)-3:]}}
	})
	var left int
	if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM rollup_partnerships_fields_kind_state WHERE "fields" = 'Remote q00'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if empty, _ := held(); empty != 0 || left != 0 {
		t.Errorf("after a withdrawal: %d empty groups, %d rows of the withdrawn record's field", empty, left)
	}
	if c, err := db.CheckRollups(ctx, false); err != nil || c.Groups != 0 {
		t.Errorf("the rollups against a recount: %d groups disagree (%v), %v", c.Groups, c.Listed, err)
	}
}

// TestEmptyGroupsOfAnOlderFileGoAtOpen: a file of a release that kept
// groups left with no record at n = 0 (their keys values of records, one
// withdrawn from the node among them) loses them when the node opens it.
func TestEmptyGroupsOfAnOlderFileGoAtOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provex.db")
	db := openAt(t, path)
	writeRecord(t, db, &twinningv1.Partnership{Name: "provinces/cao-bang/partnerships/p1", Fields: []string{"Trade"}})
	db.Close()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO rollup_partnerships_fields_kind_state (province, "fields", "kind", "state", n) VALUES ('cao-bang', 'Zqleftover field', 1, 1, 0)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db = openAt(t, path)
	defer db.Close()
	var left, kept int
	if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM rollup_partnerships_fields_kind_state WHERE "fields" = 'Zqleftover field'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM rollup_partnerships_fields_kind_state WHERE "fields" = 'Trade' AND n = 1`).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if left != 0 || kept != 1 {
		t.Errorf("after opening: %d rows of the empty group (want 0), %d of the record's (want 1)", left, kept)
	}
}
