package national_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/provex/provex/auth"
	"github.com/provex/provex/client"
	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/federation"
	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/freeport"
	"github.com/provex/provex/internal/pgtest"
	"github.com/provex/provex/pki"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/sampledata"
	"github.com/provex/provex/server"
)

type fed struct {
	clients map[string]*client.Client
	http    map[string]string
	tokens  map[string]string
}

// startFederation runs the sample provinces and the ministry's node, each on
// its own SQLite file, provinces syncing through the ministry, and loads the
// sample data of every province over gRPC. The ministry's store is
// ministryStore when it is set (a PostgreSQL database).
func startFederation(t *testing.T, ministryStore string) *fed {
	t.Helper()
	provinces := sampledata.Provinces()
	members := append(append([]string(nil), provinces...), resource.Ministry)
	addrs, err := freeport.Addrs(len(members))
	if err != nil {
		t.Fatal(err)
	}
	m, keys, err := federation.DevFederation(members, addrs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.InitCA(t.TempDir(), pki.DefaultCAName, pki.DefaultCAValidity, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.CA = ca.CertPEM()
	f := &fed{clients: map[string]*client.Client{}, http: map[string]string{}, tokens: map[string]string{}}
	for _, id := range members {
		peers := []string{resource.Ministry}
		if id == resource.Ministry {
			peers = provinces
		}
		cert, err := ca.IssueTLS(id, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		store := ""
		if id == resource.Ministry {
			store = ministryStore
		}
		n, err := server.New(context.Background(), server.Config{Member: id, DataDir: t.TempDir(), Store: store, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			Keys: keys[id], Manifest: m, Peers: peers, SyncInterval: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Cert: &cert, PlaintextAPI: true, Limits: server.Limits{RatePerSecond: 1e6, Burst: 1e6}})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Listen(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Serve(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		token, err := n.IssueToken(ctx, auth.RoleAdmin, "test", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.Dial(n.GRPCAddr(), client.WithToken(token))
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[id] = token
		t.Cleanup(func() { c.Close() })
		f.clients[id], f.http[id] = c, n.HTTPAddr()
	}
	for _, p := range sampledata.Members() {
		if _, err := cli.Seed(context.Background(), f.clients[p], p); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// waitSynced waits until the ministry holds every province's log up to the
// province's own head.
func (f *fed) waitSynced(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		ministry := f.state(t, resource.Ministry)
		for _, p := range sampledata.Provinces() {
			own := f.state(t, p)[p]
			if own == 0 || ministry[p] != own {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ministry did not catch up: %v", ministry)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *fed) state(t *testing.T, member string) map[string]uint64 {
	t.Helper()
	st, err := syncv1.NewSyncServiceClient(f.clients[member].Conn()).GetSyncState(context.Background(), &syncv1.GetSyncStateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, o := range st.GetOrigins() {
		out[o.GetOrigin()] = o.GetSeq()
	}
	return out
}

func summarize(t *testing.T, c *client.Client, req *nationalv1.SummarizeRequest) map[string]*nationalv1.Group {
	t.Helper()
	resp, err := nationalv1.NewNationalServiceClient(c.Conn()).Summarize(context.Background(), req)
	if err != nil {
		t.Fatalf("summarize %v: %v", req, err)
	}
	out := map[string]*nationalv1.Group{"total": resp.GetTotal()}
	for _, g := range resp.GetGroups() {
		out[strings.Join(g.GetKeys(), "/")] = g
	}
	if len(resp.GetFreshness()) == 0 {
		t.Fatal("summary without freshness")
	}
	return out
}

func sum(g *nationalv1.Group, field, currency string) int64 {
	for _, s := range g.GetSums() {
		if s.GetField() == field && s.GetCurrencyCode() == currency {
			return s.GetValue()
		}
	}
	return -1
}

func TestNationalFiguresFromTheReports(t *testing.T) {
	if testing.Short() {
		t.Skip("the reports' figures over six seeded nodes: CI's race step runs -short, the tests' step runs it")
	}
	nationalFigures(t, startFederation(t, ""))
}

// TestNationalFiguresOnPostgres is the same with the ministry's store on
// PostgreSQL, syncing with provinces on SQLite (issue 15).
func TestNationalFiguresOnPostgres(t *testing.T) {
	nationalFigures(t, startFederation(t, pgtest.NewDatabase(t)))
}

func nationalFigures(t *testing.T, f *fed) {
	f.waitSynced(t)
	mofa := f.clients[resource.Ministry]

	// Cao Bằng 2020-2025: 120 delegations out, about 190 in; Tuyên Quang 138
	// out with 904 officials, 543 in with 3,349 foreigners.
	d := summarize(t, mofa, &nationalv1.SummarizeRequest{Collection: "delegations", GroupBy: []string{"province", "direction"},
		Sum: []string{"member_count", "foreigner_count"}, Filter: "start_date >= 2020 AND start_date < 2026"})
	if d["cao-bang/DIRECTION_OUTGOING"].GetCount() != 120 || d["cao-bang/DIRECTION_INCOMING"].GetCount() != 190 {
		t.Errorf("Cao Bằng delegations: out %d, in %d; want 120 and 190", d["cao-bang/DIRECTION_OUTGOING"].GetCount(), d["cao-bang/DIRECTION_INCOMING"].GetCount())
	}
	if g := d["tuyen-quang/DIRECTION_OUTGOING"]; g.GetCount() != 138 || sum(g, "member_count", "") != 904 {
		t.Errorf("Tuyên Quang outgoing: %d delegations, %d officials; want 138 and 904", g.GetCount(), sum(g, "member_count", ""))
	}
	if g := d["tuyen-quang/DIRECTION_INCOMING"]; g.GetCount() != 543 || sum(g, "foreigner_count", "") != 3349 {
		t.Errorf("Tuyên Quang incoming: %d delegations, %d foreigners; want 543 and 3,349", g.GetCount(), sum(g, "foreigner_count", ""))
	}

	// Cao Bằng: 9 ODA / concessional projects of 1,576,566 million VND, 7
	// completed for 1,451,355 million.
	oda := summarize(t, mofa, &nationalv1.SummarizeRequest{Collection: "projects", Parent: "provinces/cao-bang", GroupBy: []string{"state"},
		Sum: []string{"registered_capital"}, Filter: "kind = ODA OR kind = CONCESSIONAL_LOAN"})
	if oda["total"].GetCount() != 9 || sum(oda["total"], "registered_capital", "VND") != 1_576_566_000_000 {
		t.Errorf("Cao Bằng ODA: %d projects, %d VND", oda["total"].GetCount(), sum(oda["total"], "registered_capital", "VND"))
	}
	if g := oda["STATE_COMPLETED"]; g.GetCount() != 7 || sum(g, "registered_capital", "VND") != 1_451_355_000_000 {
		t.Errorf("Cao Bằng completed ODA: %d projects, %d VND", g.GetCount(), sum(g, "registered_capital", "VND"))
	}

	// Bắc Giang (now Bắc Ninh): 551 FDI projects from more than 30 countries,
	// USD 10.8 billion; money never mixed across currencies.
	fdi := summarize(t, mofa, &nationalv1.SummarizeRequest{Collection: "projects", Parent: "provinces/bac-ninh", GroupBy: []string{"investor_country"},
		Sum: []string{"registered_capital"}, Filter: "kind = FDI"})
	if fdi["total"].GetCount() != 551 || len(fdi)-1 <= 30 || sum(fdi["total"], "registered_capital", "USD") != 10_800_000_000 {
		t.Errorf("Bắc Giang FDI: %d projects from %d countries, USD %d", fdi["total"].GetCount(), len(fdi)-1, sum(fdi["total"], "registered_capital", "USD"))
	}

	// Cao Bằng: more than 40 foreign NGOs and donors, USD 52 million of
	// aid: one call counts the projects and, once each, the organisations
	// funding them (issue 13 point 6); the ADB once for its three projects.
	ngo, err := nationalv1.NewNationalServiceClient(mofa.Conn()).Summarize(context.Background(), &nationalv1.SummarizeRequest{Collection: "projects",
		Parent: "provinces/cao-bang", GroupBy: []string{"kind"}, Sum: []string{"registered_capital"}, CountDistinct: []string{"organizations"}})
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]int64{}
	for _, g := range ngo.GetGroups() {
		distinct[g.GetKeys()[0]] = g.GetDistinctCounts()[0].GetCount()
		if g.GetKeys()[0] == "KIND_NGO_AID" && (g.GetCount() != sampledata.CaoBangNGODonors || sum(g, "registered_capital", "USD") != sampledata.CaoBangNGOAidUSD) {
			t.Errorf("Cao Bằng NGO aid: %d projects, USD %d", g.GetCount(), sum(g, "registered_capital", "USD"))
		}
	}
	// ODA: ADB, World Bank, IFAD; loans: JICA, KfW, EDCF.
	if distinct["KIND_NGO_AID"] != sampledata.CaoBangNGODonors || distinct["KIND_ODA"] != 3 || distinct["KIND_CONCESSIONAL_LOAN"] != 3 ||
		ngo.GetTotal().GetDistinctCounts()[0].GetCount() != sampledata.CaoBangNGODonors+6 {
		t.Errorf("Cao Bằng organisations by project kind: %v, total %v", distinct, ngo.GetTotal().GetDistinctCounts())
	}

	// The national figures equal the sums of what each province holds.
	for _, p := range sampledata.Provinces() {
		own := summarize(t, f.clients[p], &nationalv1.SummarizeRequest{Collection: "projects", Parent: "provinces/" + p, Sum: []string{"registered_capital"}})
		national := summarize(t, mofa, &nationalv1.SummarizeRequest{Collection: "projects", Parent: "provinces/" + p, Sum: []string{"registered_capital"}})
		if own["total"].GetCount() != national["total"].GetCount() || sum(own["total"], "registered_capital", "USD") != sum(national["total"], "registered_capital", "USD") {
			t.Errorf("%s: ministry has %v, province has %v", p, national["total"], own["total"])
		}
	}

	// Updates and deletes after the first sync change the national figures.
	cb := f.clients["cao-bang"]
	ctx := context.Background()
	_, err = cb.Twinning.DeleteDelegation(ctx, &twinningv1.DeleteDelegationRequest{Name: "provinces/cao-bang/delegations/out-001"})
	if err != nil {
		t.Fatal(err)
	}
	proj, err := cb.Investment.GetProject(ctx, &investmentv1.GetProjectRequest{Name: "provinces/cao-bang/projects/oda-grassroots-health"})
	if err != nil {
		t.Fatal(err)
	}
	before := proj.GetRegisteredCapital().GetUnits()
	proj.RegisteredCapital.Units = before + 1_000_000
	if _, err := cb.Investment.UpdateProject(ctx, &investmentv1.UpdateProjectRequest{Project: proj}); err != nil {
		t.Fatal(err)
	}

	f.waitSynced(t)
	d = summarize(t, mofa, &nationalv1.SummarizeRequest{Collection: "delegations", Parent: "provinces/cao-bang", GroupBy: []string{"direction"}})
	if d["DIRECTION_OUTGOING"].GetCount() != 119 {
		t.Errorf("after a delete, Cao Bằng has %d outgoing delegations nationally, want 119", d["DIRECTION_OUTGOING"].GetCount())
	}
	oda = summarize(t, mofa, &nationalv1.SummarizeRequest{Collection: "projects", Parent: "provinces/cao-bang", Sum: []string{"registered_capital"}, Filter: "kind = ODA OR kind = CONCESSIONAL_LOAN"})
	if got := sum(oda["total"], "registered_capital", "VND"); got != 1_576_566_000_000+1_000_000 {
		t.Errorf("after an update, ODA capital is %d nationally", got)
	}

	// CSV over HTTP carries the same numbers.
	csvReq, _ := http.NewRequest("GET", "http://"+f.http[resource.Ministry]+"/v1/national/delegations/summary.csv?group_by=province,direction&filter=start_date%20%3E%3D%202020", nil)
	csvReq.Header.Set("Authorization", "Bearer "+f.tokens[resource.Ministry])
	resp, err := http.DefaultClient.Do(csvReq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), `"province","direction","count",,`+"\n") || !strings.Contains(string(body), `"tuyen-quang","DIRECTION_INCOMING",543,,`+"\n") {
		t.Errorf("CSV: %d\n%s", resp.StatusCode, body)
	}
	// ... and how current each province's part is, none of them stale.
	if !strings.Contains(string(body), "\n\n"+`"freshness of","seq","last_change_time","last_contact_time","stale"`+"\n") { // rows padded to its width
		t.Errorf("CSV without freshness:\n%s", body)
	}
	for _, p := range sampledata.Provinces() {
		if !strings.Contains(string(body), "\n\""+p+"\",") || !strings.Contains(string(body), ",\"false\"\n") || strings.Contains(string(body), "\"true\"") {
			t.Errorf("CSV freshness of %s missing or stale:\n%s", p, body)
		}
	}

	// Search and freshness.
	nc := nationalv1.NewNationalServiceClient(mofa.Conn())
	found, err := nc.SearchRecords(ctx, &nationalv1.SearchRecordsRequest{Text: "nanning", Collections: []string{"agreements"}})
	if err != nil || len(found.GetRecords()) == 0 {
		t.Fatalf("search: %v, %d records", err, len(found.GetRecords()))
	}
	for _, r := range found.GetRecords() {
		// In the title, or the other names searched: a foreign party, the
		// place of signing.
		m, err := r.GetResource().UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		if text := strings.Join(resource.Agreements.SearchText(m), " | "); !strings.Contains(strings.ToLower(text), "nanning") {
			t.Errorf("search result %s has no Nanning in %q", r.GetName(), text)
		}
	}
	// Search ignores case, diacritics and normal form, and finds a gate by
	// its counterpart's name (issue 13, point 8).
	for _, text := range []string{"Ta Lung", "TÀ LÙNG", "tà lùng", norm.NFD.String("Tà Lùng"), "shuikou", "Nam On"} {
		found, err := nc.SearchRecords(ctx, &nationalv1.SearchRecordsRequest{Text: text, Collections: []string{"border-gates"}})
		if err != nil {
			t.Fatalf("search %q: %v", text, err)
		}
		var names []string
		for _, r := range found.GetRecords() {
			names = append(names, r.GetName())
		}
		want := "provinces/cao-bang/border-gates/"
		if text == "Nam On" {
			want = "provinces/nghe-an/border-gates/"
		}
		if len(names) != 1 || !strings.HasPrefix(names[0], want) {
			t.Errorf("search %q found %q, want one gate under %s", text, names, want)
		}
	}
	if _, err := nc.SearchRecords(ctx, &nationalv1.SearchRecordsRequest{Text: "?!"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("search for punctuation only: %v, want INVALID_ARGUMENT", err)
	}
	// A collection unknown or named twice (its records would come twice)
	// is refused, naming its place in the list.
	for _, c := range []struct {
		collections []string
		field       string
	}{{[]string{"agreements", "nosuch"}, "collections[1]"}, {[]string{"agreements", "delegations", "agreements"}, "collections[2]"}} {
		_, err := nc.SearchRecords(ctx, &nationalv1.SearchRecordsRequest{Text: "nanning", Collections: c.collections})
		if field, _ := violation(t, err); field != c.field {
			t.Errorf("search of %q: violation of %q, want %q", c.collections, field, c.field)
		}
	}
	// Paging across two collections serves every live record once; a token
	// is bound to its query.
	seen := map[string]bool{}
	req := &nationalv1.SearchRecordsRequest{Collections: []string{"agreements", "delegations"}, PageSize: 37}
	for pages := 0; ; pages++ {
		page, err := nc.SearchRecords(ctx, req)
		if err != nil || pages > 1000 {
			t.Fatalf("search page %d: %v", pages, err)
		}
		for _, r := range page.GetRecords() {
			if seen[r.GetName()] {
				t.Fatalf("%s served twice", r.GetName())
			}
			seen[r.GetName()] = true
		}
		if page.GetNextPageToken() == "" {
			break
		}
		if pages == 0 {
			other := &nationalv1.SearchRecordsRequest{Collections: []string{"agreements", "delegations"}, Text: "nanning", PageToken: page.GetNextPageToken()}
			if _, err := nc.SearchRecords(ctx, other); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "another query") {
				t.Errorf("a token reused with another text: %v", err)
			}
		}
		req.PageToken = page.GetNextPageToken()
	}
	var live int64
	for _, c := range req.GetCollections() {
		sum, err := nc.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: c})
		if err != nil {
			t.Fatal(err)
		}
		live += sum.GetTotal().GetCount()
	}
	if int64(len(seen)) != live || live < 100 {
		t.Errorf("search paged through %d records; %d are live", len(seen), live)
	}
	fr, err := nc.GetFreshness(ctx, &nationalv1.GetFreshnessRequest{})
	if err != nil || len(fr.GetProvinces()) != len(sampledata.Members()) {
		t.Fatalf("freshness: %v, %v", err, fr)
	}
	for _, p := range fr.GetProvinces() {
		// The ministry's own records (its sample request) have no contact
		// time on its own node: it never pulls from itself.
		if p.GetSeq() == 0 || (p.GetLastContactTime() == nil && p.GetProvince() != resource.Ministry) || p.GetLastChangeTime() == nil || p.GetStale() {
			t.Errorf("freshness of %s: %v", p.GetProvince(), p)
		}
	}
	// Bad requests say which field is wrong.
	_, err = nc.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "projects", GroupBy: []string{"approved_date"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), ".year") {
		t.Errorf("grouping by a bare date: %v", err)
	}

	// Acknowledgements of the sample incidents, as the ministry sees them:
	// who of the notified provinces has acknowledged, who is waiting.
	statuses, err := borderv1.NewBorderServiceClient(mofa.Conn()).ListIncidentAcknowledgementStatuses(ctx,
		&borderv1.ListIncidentAcknowledgementStatusesRequest{Parent: "provinces/-", WaitingOnly: true, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, st := range statuses.GetStatuses() {
		for _, p := range st.GetProvinces() {
			state := "waiting"
			if p.GetAcknowledgement() != "" {
				state = "acknowledged"
			}
			got[st.GetIncident()+" "+p.GetProvince()] = state
		}
	}
	for key, want := range map[string]string{
		"provinces/cao-bang/border-incidents/tra-linh-closure-2021 tuyen-quang":  "acknowledged",
		"provinces/cao-bang/border-incidents/tra-linh-closure-2021 lang-son":     "waiting",
		"provinces/tuyen-quang/border-incidents/xin-man-landslide-2025 cao-bang": "acknowledged",
		"provinces/tuyen-quang/border-incidents/xin-man-landslide-2025 lao-cai":  "waiting",
		"provinces/nghe-an/border-incidents/iuu-vessel-2023-07 ha-tinh":          "waiting",
	} {
		if got[key] != want {
			t.Errorf("%s: %q, want %s", key, got[key], want)
		}
	}

	// The ministry's sample request, half answered: Cao Bằng has, Tuyên
	// Quang has not and is overdue.
	overdue, err := nationalv1.NewNationalServiceClient(mofa.Conn()).ListInformationRequestStatuses(ctx,
		&nationalv1.ListInformationRequestStatusesRequest{Parent: "provinces/-", OverdueOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(overdue.GetStatuses()) != 1 {
		t.Fatalf("overdue requests on the ministry: %v", overdue.GetStatuses())
	}
	answered := map[string]string{}
	for _, p := range overdue.GetStatuses()[0].GetProvinces() {
		answered[p.GetProvince()] = fmt.Sprintf("%s %v", p.GetResponse(), p.GetOverdue())
	}
	if want := map[string]string{
		"cao-bang":    "provinces/cao-bang/information-responses/border-economy-2020-2025 false",
		"tuyen-quang": " true",
	}; !maps.Equal(answered, want) {
		t.Errorf("sample request: %v, want %v", answered, want)
	}

	// The agreement procedure in the sample: the ministry answered Tuyên
	// Quang's request by its own record, so only Tuyên Quang's unreported
	// programme with Anseong is overdue.
	late, err := twinningv1.NewTwinningServiceClient(mofa.Conn()).ListOverdueAgreementDeadlines(ctx,
		&twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: "provinces/-"})
	if err != nil {
		t.Fatal(err)
	}
	if d := late.GetOverdueDeadlines(); len(d) != 1 || d[0].GetAgreement() != "provinces/tuyen-quang/agreements/anseong-2026" || d[0].GetDeadline() != twinningv1.Deadline_DEADLINE_REPORT {
		t.Errorf("sample overdue deadlines on the ministry: %v", d)
	}
}
