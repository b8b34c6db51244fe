package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"golang.org/x/text/unicode/norm"

	"github.com/provex/provex/client/cli"
)

// TestDashboardServedBesideTheAPI checks the page and its assets come with
// their types, the CSP and revalidation headers, and that "/" takes nothing
// from the API: other paths are still the gateway's JSON answers.
func TestDashboardServedBesideTheAPI(t *testing.T) {
	tn := startNode(t, "cao-bang")
	for path, ctype := range map[string]string{
		"/":                 "text/html; charset=utf-8",
		"/assets/app.js":    "text/javascript; charset=utf-8",
		"/assets/style.css": "text/css; charset=utf-8",
	} {
		resp, body := tn.httpDo(t, http.MethodGet, path, "", map[string]string{"Authorization": ""})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ctype || len(body) == 0 {
			t.Fatalf("GET %s: %d %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
		etag := resp.Header.Get("ETag")
		again, _ := tn.httpDo(t, http.MethodGet, path, "", map[string]string{"If-None-Match": etag})
		if etag == "" || again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %q: %d, want 304", path, etag, again.StatusCode)
		}
	}
	_, page := tn.httpDo(t, http.MethodGet, "/", "", nil)
	if !strings.Contains(string(page), `<meta charset="utf-8">`) || strings.Contains(string(page), "<script>") {
		t.Errorf("page must declare UTF-8 and hold no inline script:\n%s", page)
	}
	for path, want := range map[string]int{
		"/assets/other.js": http.StatusNotFound,
		"/index.html":      http.StatusNotFound,
		"/healthz":         http.StatusOK,
		"/openapi.json":    http.StatusOK,
		"/v1/node":         http.StatusOK,
	} {
		resp, body := tn.httpDo(t, http.MethodGet, path, "", nil)
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d: %s", path, resp.StatusCode, want, body)
		}
		if want == http.StatusNotFound && !strings.Contains(resp.Header.Get("Content-Type"), "json") {
			t.Errorf("GET %s: a 404 of the API's, JSON, got %q", path, resp.Header.Get("Content-Type"))
		}
	}
	if resp, _ := tn.httpDo(t, http.MethodPost, "/", "", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}

// chromium finds Debian's chromium. Without it the browser test skips,
// unless PROVEX_REQUIRE_CHROMIUM is set (CI sets it: there a missing
// browser is a failure, not a pass).
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("PROVEX_CHROMIUM")
	if path == "" {
		path, _ = exec.LookPath("chromium")
	}
	if path == "" {
		if os.Getenv("PROVEX_REQUIRE_CHROMIUM") != "" {
			t.Fatal("chromium not found and PROVEX_REQUIRE_CHROMIUM is set (apt-get install -y chromium)")
		}
		t.Skip("chromium not found: apt-get install -y chromium to run the dashboard in a browser")
	}
	return path
}

// artifacts is where screenshots go: $PROVEX_ARTIFACTS, kept after the
// run, or a temporary directory.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PROVEX_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// domView is what the page shows of one summary, read from its data-*
// attributes.
type domView struct {
	State  string            `json:"state"`
	Bars   int               `json:"bars"`
	Counts map[string]string `json:"counts"` // group key ("a|b") or "total" -> data-count
	Sums   map[string]string `json:"sums"`   // group key + " " + field + " " + currency -> data-value
	Cities []string          `json:"cities"` // the province cells' text
}

const readViews = `(() => {
  const out = {};
  for (const s of document.querySelectorAll('#views section')) {
    const v = {state: s.dataset.state, bars: s.querySelectorAll('svg.chart rect.bar').length, counts: {}, sums: {}, cities: []};
    const svgBars = s.querySelector('svg.chart');
    if (svgBars && Number(svgBars.dataset.bars) !== v.bars) v.state = 'bars-mismatch';
    for (const tr of s.querySelectorAll('table.summary tbody tr')) {
      const key = tr.dataset.total ? 'total' : tr.dataset.key;
      v.counts[key] = tr.querySelector('td[data-count]').dataset.count;
      for (const td of tr.querySelectorAll('td[data-sum]')) v.sums[key + ' ' + td.dataset.sum + ' ' + td.dataset.currency] = td.dataset.value;
      for (const td of tr.querySelectorAll('td[data-dim="province"]')) v.cities.push(td.textContent);
    }
    out[s.dataset.collection + ':' + s.id] = v;
  }
  return out;
})()`

// browserPage is a headless Chromium tab and the test's ways to drive it.
type browserPage struct {
	t   *testing.T
	ctx context.Context
	out string // where screenshots go
}

// openBrowser starts headless Chromium for the test's duration.
func openBrowser(t *testing.T) *browserPage {
	t.Helper()
	exe := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1600),
		// Chromium makes its singleton socket's folder in TMPDIR and leaves
		// it behind: in the test's own folder it goes with the test.
		chromedp.Env("TMPDIR="+t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancel() })
	return &browserPage{t: t, ctx: bctx, out: artifacts(t)}
}

func (p *browserPage) shot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatal(err)
	}
	path := filepath.Join(p.out, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

func (p *browserPage) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatal(err)
	}
}

// settled waits for the page to finish loading, one way or the other.
func (p *browserPage) settled() string {
	p.t.Helper()
	state, err := chromedp.Run(p.ctx, chromedp.Poll[string](`(s => s !== 'loading' && s)(document.body.dataset.state)`, chromedp.WithPollingTimeout(90*time.Second)))
	if err != nil {
		p.t.Fatal(err)
	}
	return state
}

func (p *browserPage) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

func (p *browserPage) location() string {
	p.t.Helper()
	href, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		p.t.Fatal(err)
	}
	return href
}

// evalJS evaluates expr in the page.
func evalJS[T any](p *browserPage, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// dashboardViews are the summaries the page shows, by collection and
// section id, with the query each is.
var dashboardViews = map[string]url.Values{
	"delegations:view-delegations":    {"group_by": {"province", "start_date.year"}},
	"projects:view-fdi":               {"group_by": {"investor_country"}, "sum": {"registered_capital"}, "filter": {"kind = KIND_FDI"}},
	"agreements:view-agreements":      {"group_by": {"partner_countries"}},
	"border-incidents:view-incidents": {"group_by": {"occur_time.age"}, "filter": {"state != STATE_RESOLVED"}},
}

// checkSummaries compares every summary on the page with tn's API answer
// (bars, counts, sums) and returns what the page shows. A view in mayBeEmpty
// may have no groups; every other must have some.
func checkSummaries(t *testing.T, p *browserPage, tn *testNode, mayBeEmpty ...string) map[string]domView {
	t.Helper()
	views := evalJS[map[string]domView](p, readViews)
	if len(views) != len(dashboardViews) {
		t.Fatalf("the page shows %d summaries, want %d: %v", len(views), len(dashboardViews), views)
	}
	for id, q := range dashboardViews {
		got, ok := views[id]
		if !ok || got.State != "ready" {
			t.Errorf("%s: not shown or not ready: %+v", id, got)
			continue
		}
		var api summary
		getJSON(t, tn, "/v1/national/"+strings.Split(id, ":")[0]+":summarize?"+q.Encode(), &api)
		if len(api.Groups) == 0 && !slices.Contains(mayBeEmpty, id) {
			t.Errorf("%s: the API has no groups: the sample data should give some", id)
		}
		if got.Bars != len(api.Groups) {
			t.Errorf("%s: %d bars, the API has %d groups", id, got.Bars, len(api.Groups))
		}
		wantCounts := map[string]string{"total": api.Total.Count}
		wantSums := map[string]string{}
		for _, g := range append(api.Groups, group{Keys: []string{"total"}, Count: api.Total.Count, Sums: api.Total.Sums}) {
			key := strings.Join(g.Keys, "|")
			wantCounts[key] = orZero(g.Count)
			for _, s := range g.Sums {
				wantSums[key+" "+s.Field+" "+s.CurrencyCode] = orZero(s.Value)
			}
		}
		if !maps.Equal(got.Counts, wantCounts) || !maps.Equal(got.Sums, wantSums) {
			t.Errorf("%s: on screen counts %v sums %v\nAPI counts %v sums %v", id, got.Counts, got.Sums, wantCounts, wantSums)
		}
		if id == "projects:view-fdi" && len(wantSums) == 0 {
			t.Errorf("%s: no capital summed", id)
		}
	}
	return views
}

type freshness struct {
	Province string `json:"province"`
	Seq      string `json:"seq"`
	Stale    bool   `json:"stale"`
}

// checkFreshness compares the page's freshness rows with tn's API, stale
// marks included, and returns the API's rows and the names shown.
func checkFreshness(t *testing.T, p *browserPage, tn *testNode) ([]freshness, []string) {
	t.Helper()
	var fresh struct {
		Provinces []freshness `json:"provinces"`
	}
	getJSON(t, tn, "/v1/national/freshness", &fresh)
	domFresh := evalJS[[]map[string]string](p, `[...document.querySelectorAll('#freshness tbody tr')].map(tr => ({province: tr.dataset.province, seq: tr.dataset.seq, stale: tr.dataset.stale, name: tr.cells[0].textContent, cls: tr.className, badge: tr.querySelector('.badge').textContent}))`)
	if len(domFresh) != len(fresh.Provinces) || len(domFresh) == 0 {
		t.Fatalf("freshness rows %v, API %v", domFresh, fresh.Provinces)
	}
	names := make([]string, len(domFresh))
	for i, p := range fresh.Provinces {
		d := domFresh[i]
		names[i] = d["name"]
		stale, badge := "false", "current"
		if p.Stale {
			stale, badge = "true", "stale"
		}
		if d["province"] != p.Province || d["seq"] != orZero(p.Seq) || d["stale"] != stale || (d["cls"] == "stale") != p.Stale || d["badge"] != badge {
			t.Errorf("freshness row %d: %v, API %+v", i, d, p)
		}
	}
	return fresh.Provinces, names
}

// overdueCountMax is how far the page counts overdue information requests
// and incidents awaiting acknowledgement (app.js's overdueCountMax), in at
// most overdueCountCalls List calls each.
const (
	overdueCountMax   = 100
	overdueCountCalls = 3
)

// checkOverdue compares the page's overdue totals with tn's API and
// returns the API's. The page counts statuses up to overdueCountMax, and
// says "at least" it beyond.
func checkOverdue(t *testing.T, p *browserPage, tn *testNode) map[string]int {
	t.Helper()
	var overdue struct {
		Opinions int `json:"overdue_opinions"`
		Reports  int `json:"overdue_reports"`
	}
	getJSON(t, tn, "/v1/provinces/-/agreements/-/overdue-summary", &overdue)
	count := func(path string) int {
		var page struct {
			Statuses []json.RawMessage `json:"statuses"`
			Next     string            `json:"next_page_token"`
		}
		getJSON(t, tn, path+"&page_size=1000", &page)
		if page.Next != "" {
			t.Fatalf("GET %s: more than a page", path)
		}
		return len(page.Statuses)
	}
	want := map[string]int{
		"opinions":             overdue.Opinions,
		"reports":              overdue.Reports,
		"information-requests": count("/v1/provinces/-/information-requests/-/statuses?overdue_only=true"),
		"incidents-waiting":    count("/v1/provinces/-/border-incidents/-/acknowledgement-statuses?waiting_only=true"),
	}
	dom := evalJS[map[string][]string](p, `Object.fromEntries([...document.querySelectorAll('#overdue-totals td')].map(td => [td.dataset.overdue, [td.dataset.value, td.dataset.more || '', td.textContent]]))`)
	for k, n := range want {
		shown, more := itoa(n), ""
		if k == "information-requests" || k == "incidents-waiting" {
			more = "false"
			if n > overdueCountMax {
				shown, more = itoa(overdueCountMax), "true"
			}
		}
		if d := dom[k]; len(d) != 3 || d[0] != shown || d[1] != more || (more == "true") != strings.HasPrefix(d[2], "at least ") {
			t.Errorf("overdue %s on screen %q, API %d: want %s, more %q", k, dom[k], n, shown, more)
		}
	}
	return want
}

// answerWith makes the page's API calls whose path ends with suffix get
// their answers changed by edit (a JS function of the parsed JSON), as a
// node holding more records, or a faulty one, would answer, until
// window.fetch = window.realFetch. The page tokens edit makes up are the
// node's to refuse: those calls go to it without their page_token.
const answerWith = `((suffix, edit) => {
  const real = window.realFetch = window.fetch;
  window.fetch = async (url, opts) => {
    const u = new URL(url, location.href);
    if (!u.pathname.endsWith(suffix)) return real(url, opts);
    u.searchParams.delete('page_token');
    const resp = await real(u.href, opts);
    const v = edit(await resp.json());
    return { ok: resp.ok, status: resp.status, statusText: resp.statusText, json: async () => v };
  };
  return true;
})`

// holdCall makes the page's next call whose address holds part, once
// answered, wait until release (a JS function) holds; it sets
// window.heldCalled once the call is made, and window.heldDone once the
// page has taken the answer in: an answer that lands later than what the
// test does meanwhile.
const holdCall = `((part, release) => {
  const real = window.fetch;
  window.heldCalled = false;
  window.heldDone = false;
  window.fetch = async (url, opts) => {
    if (!String(url).includes(part)) return real(url, opts);
    window.fetch = real;
    window.heldCalled = true;
    const resp = await real(url, opts);
    while (!release()) await new Promise(r => setTimeout(r, 10));
    return { ok: resp.ok, status: resp.status, statusText: resp.statusText,
      json: async () => { const v = await resp.json(); setTimeout(() => { window.heldDone = true; }, 0); return v; } };
  };
  return true;
})`

// TestDashboardInChromium loads the page in headless Chromium against a
// node holding Bắc Ninh's sample data (with Bắc Giang's FDI), signs in through the form, waits for
// the charts, and compares every figure on screen with the API's answer;
// then drills down into a group and downloads a CSV. Screenshots are saved
// under $PROVEX_ARTIFACTS.
func TestDashboardInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser over a seeded node: CI's race step runs -short, the tests' step runs it")
	}
	p := openBrowser(t)
	tn := startNode(t, "bac-ninh")
	if _, err := cli.Seed(testCtx(t), tn.Client, "bac-ninh"); err != nil {
		t.Fatal(err)
	}
	// A record whose title is markup: the page must show it as text, and
	// run nothing of it (A23).
	const injected = `<img src=x onerror="document.body.dataset.pwned=1">Đoàn <b>thử</b>`
	body, _ := json.Marshal(map[string]any{"display_name": injected, "direction": "DIRECTION_INCOMING",
		"start_date": map[string]int{"year": 2023, "month": 5, "day": 4}, "countries": []string{"CN"}})
	if resp, b := tn.httpDo(t, http.MethodPost, "/v1/provinces/bac-ninh/delegations", string(body), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("create the delegation titled with markup: %d %s", resp.StatusCode, b)
	}
	// Open incidents aged just past each bound of the age buckets (7, 30,
	// 90, 365 days): a drill-down must list them as their group counts
	// them. And one FDI project in EUR, a currency sorted before USD: the
	// chart keeps drawing the currency most countries hold.
	now := time.Now()
	for i, age := range []time.Duration{time.Hour, 7*24*time.Hour + 12*time.Hour, 30*24*time.Hour + 12*time.Hour, 90*24*time.Hour + 12*time.Hour, 400 * 24 * time.Hour} {
		body, _ := json.Marshal(map[string]any{"display_name": fmt.Sprintf("Sự cố %d", i), "category": "CATEGORY_NATURAL_DISASTER",
			"occur_time": now.Add(-age).UTC().Format(time.RFC3339)})
		if resp, b := tn.httpDo(t, http.MethodPost, "/v1/provinces/bac-ninh/border-incidents", string(body), nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("create an incident %s old: %d %s", age, resp.StatusCode, b)
		}
	}
	// More incidents awaiting acknowledgement than the page counts.
	for i := range overdueCountMax + 1 {
		body := fmt.Sprintf(`{"display_name": "Chờ xác nhận %d", "category": "CATEGORY_NATURAL_DISASTER", "occur_time": %q, "notify_provinces": ["lang-son"]}`,
			i, now.Add(-2*time.Hour).UTC().Format(time.RFC3339))
		if resp, b := tn.httpDo(t, http.MethodPost, "/v1/provinces/bac-ninh/border-incidents", body, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("create an incident awaiting acknowledgement: %d %s", resp.StatusCode, b)
		}
	}
	if resp, b := tn.httpDo(t, http.MethodPost, "/v1/provinces/bac-ninh/projects", `{"display_name": "Dự án EUR", "kind": "KIND_FDI", "investor": "X", "investor_country": "NO", "registered_capital": {"currency_code": "EUR", "units": "1000000"}}`, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("create a project in EUR: %d %s", resp.StatusCode, b)
	}
	downloads := t.TempDir()
	bctx, do, settled, text, shot := p.ctx, p.do, p.settled, p.text, p.shot

	// Signed out first: the page asks for a token.
	do(chromedp.Navigate("http://" + tn.Srv.HTTPAddr() + "/"))
	if state := settled(); state != "signed-out" {
		t.Fatalf("page without a token: state %q, want signed-out", state)
	}
	do(chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token"), chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)))
	if state, msg := settled(), text("#signin-error"); state != "signed-out" || msg == "" {
		t.Fatalf("a bad token: state %q, message %q; want signed-out with a message", state, msg)
	}
	if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	// The API calls the page makes to load are counted from here.
	evalJS[bool](p, `performance.setResourceTimingBufferSize(10000); performance.clearResourceTimings(); true`)
	do(chromedp.SendKeys(chromedp.CSS("#token"), tn.Token), chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)))
	state := settled()
	shot("dashboard.png")
	if state != "ready" {
		t.Fatalf("signed in: state %q, error %q", state, text("#error"))
	}
	if href := p.location(); strings.Contains(href, tn.Token) {
		t.Errorf("the token is in the address: %s", href)
	}

	views := checkSummaries(t, p, tn)
	if label := evalJS[string](p, `document.querySelector('#view-fdi svg.chart').getAttribute('aria-label')`); !strings.HasSuffix(label, "(USD)") {
		t.Errorf("the FDI chart draws %q, want the currency most countries hold (USD)", label)
	}
	want := dashboardViews
	// Vietnamese names come through as the API gives them, in NFC.
	if c := views["delegations:view-delegations"].Cities; len(c) == 0 || c[0] != "Bắc Ninh" || !norm.NFC.IsNormalString(c[0]) {
		t.Errorf("province cells %q, want Bắc Ninh", c)
	}

	// Freshness and the overdue counts equal the API's.
	if _, names := checkFreshness(t, p, tn); names[0] != "Bắc Ninh" {
		t.Errorf("freshness shows %q, want Bắc Ninh", names[0])
	}
	// The overdue statuses are counted in a few calls of a page each, not
	// read whole on every load (an outside review: 985 records, 413 KB).
	if overdue := checkOverdue(t, p, tn); overdue["incidents-waiting"] <= overdueCountMax {
		t.Errorf("incidents awaiting acknowledgement: %d, want more than the page counts", overdue["incidents-waiting"])
	}
	calls := evalJS[map[string][]string](p, `performance.getEntriesByType('resource').map(e => new URL(e.name)).filter(u => u.pathname.endsWith('statuses')).reduce((m, u) => ((m[u.pathname] ||= []).push(u.searchParams.get('page_size')), m), {})`)
	if len(calls) != 2 {
		t.Errorf("calls of statuses on load: %v, want both lists'", calls)
	}
	for path, sizes := range calls {
		for _, size := range sizes {
			if n, _ := strconv.Atoi(size); len(sizes) > overdueCountCalls || n < 1 || n > overdueCountMax {
				t.Errorf("%s: %d calls, page sizes %v; want at most %d calls of at most %d", path, len(sizes), sizes, overdueCountCalls, overdueCountMax)
			}
		}
	}

	// drill clicks a view's drill-down of the group key ("": its first) and
	// returns the group's key and the number of records listed.
	drill := func(view, key string) (string, string) {
		t.Helper()
		button := chromedp.CSS("#view-" + view + " button[data-drill]")
		if key != "" {
			button = chromedp.CSS("#view-" + view + " button[data-drill=" + strconv.Quote(key) + "]")
		}
		first, err := chromedp.Run(bctx, chromedp.AttributeValue(button, "data-drill"))
		if err != nil {
			t.Fatal(err)
		}
		do(chromedp.Click(button))
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`(d => d.state === 'ready' && d.view === `+strconv.Quote(view)+` && d.key === `+strconv.Quote(first.Value)+`)(document.getElementById('drill').dataset)`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("drill-down of %s %q: %v (error %q)", view, first.Value, err, text("#error"))
		}
		n, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(`#drill-count`), "data-count"))
		if err != nil {
			t.Fatal(err)
		}
		return first.Value, n.Value
	}
	// The first delegations group, as many records as its count; among
	// them the one titled with markup.
	first, drillCount := drill("delegations", "")
	shot("drill-down.png")
	titles, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#records tbody tr td:nth-child(2)')].map(td => td.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(titles, injected) {
		t.Errorf("the title with markup is not shown as text among %d drilled records", len(titles))
	}
	if pwned, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`'pwned' in document.body.dataset || document.querySelector('#records img, #records b') !== null`)); err != nil || pwned {
		t.Errorf("markup in a record's title became part of the page (err %v)", err)
	}
	if want := views["delegations:view-delegations"].Counts[first]; drillCount != want || want == "" {
		t.Errorf("drill-down into %q lists %s records, the summary counts %s", first, drillCount, want)
	}
	// The other drill-downs' filters select what their groups count.
	for _, id := range []string{"projects:view-fdi", "agreements:view-agreements"} {
		key, n := drill(strings.TrimPrefix(id, strings.Split(id, ":")[0]+":view-"), "")
		if want := views[id].Counts[key]; n != want || want == "" {
			t.Errorf("%s: drill-down into %q lists %s records, the summary counts %s", id, key, n, want)
		}
	}
	// Every age bucket's, each holding an incident just past its lower bound.
	if got := len(views["border-incidents:view-incidents"].Counts); got != 6 {
		t.Errorf("incidents by age: groups %v, want the five buckets and the total", views["border-incidents:view-incidents"].Counts)
	}
	for key, want := range views["border-incidents:view-incidents"].Counts {
		if key == "total" {
			continue
		}
		if _, n := drill("incidents", key); n != want {
			t.Errorf("incidents aged %s: the drill-down lists %s records, the summary counts %s", key, n, want)
		}
	}

	// Two drill-downs clicked in quick succession, the earlier's answer
	// landing last: only the later's records are shown, under its title
	// and with its count (an outside review found both in one table).
	evalJS[bool](p, holdCall+`('/border-incidents?', () => document.getElementById('drill').dataset.state === 'ready')`)
	evalJS[bool](p, `document.querySelector('#view-incidents button[data-drill="0-7d"]').click(); document.querySelector('#view-incidents button[data-drill=">365d"]').click(); true`)
	heldDone := func() {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`window.heldDone`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("the held drill-down answer: %v", err)
		}
	}
	heldDone()
	shown := evalJS[[]string](p, `(d => [d.dataset.key, document.getElementById('drill-title').textContent, document.getElementById('drill-count').dataset.count, String(d.querySelectorAll('tbody tr').length)])(document.getElementById('drill'))`)
	if n := views["border-incidents:view-incidents"].Counts[">365d"]; !slices.Equal(shown, []string{">365d", "Open border incidents by age: >365d", n, n}) {
		t.Errorf("drill-downs of 0-7d then >365d, the first answered last: key, title, count, rows %q; want >365d's %s", shown, n)
	}

	// A group larger than a drill-down shows (its List call has a next
	// page): it asks for one page of 500, and says it shows the first of
	// them and the command that lists them all.
	evalJS[bool](p, answerWith+`('/border-incidents', v => ({...v, next_page_token: 'more'}))`)
	evalJS[bool](p, `performance.clearResourceTimings(); true`)
	drill("incidents", "0-7d")
	evalJS[bool](p, `window.fetch = window.realFetch; true`)
	sizes := evalJS[[]string](p, `performance.getEntriesByType('resource').map(e => new URL(e.name)).filter(u => u.pathname.endsWith('/border-incidents')).map(u => u.searchParams.get('page_size'))`)
	n := views["border-incidents:view-incidents"].Counts["0-7d"]
	more := evalJS[[]string](p, `(c => [c.dataset.more, c.textContent])(document.getElementById('drill-count'))`)
	if !slices.Equal(sizes, []string{"500"}) || more[0] != "true" || !strings.HasPrefix(more[1], "The first "+n+" of the "+n+" records") ||
		!strings.HasSuffix(more[1], "All of them: provex list provinces/-/border-incidents --filter 'state != STATE_RESOLVED AND occur_time.age <= 7' --all") {
		t.Errorf("a drill-down with more records than it shows: page sizes asked %v, more %q", sizes, more)
	}

	// The CSV button downloads the same summary as the CSV route.
	do(chromedp.Click(chromedp.CSS(`button[data-csv="delegations"]`)))
	var csv []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		matches, _ := filepath.Glob(filepath.Join(downloads, "*.csv"))
		if len(matches) == 1 {
			if csv, _ = os.ReadFile(matches[0]); len(csv) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no CSV downloaded in %s", downloads)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, apiCSV := tn.httpDo(t, http.MethodGet, "/v1/national/delegations/summary.csv?"+want["delegations:view-delegations"].Encode(), "", nil)
	if string(csv) != string(apiCSV) {
		t.Errorf("downloaded CSV differs from the API's:\n%s\nAPI:\n%s", csv, apiCSV)
	}

	// A link with a token followed in this tab (only the fragment
	// changes): the page loads again with it, keeping nothing of before
	// beside it (the drill-down open now, a second set of views).
	// Marked loading first: settled then waits for the load the link makes.
	evalJS[string](p, `document.body.dataset.state = 'loading'`)
	do(chromedp.Navigate("http://" + tn.Srv.HTTPAddr() + "/#token=" + tn.Token))
	if state := settled(); state != "ready" || strings.Contains(p.location(), tn.Token) {
		t.Fatalf("a token link followed in the open tab: state %q, address %s", state, p.location())
	}
	if got := evalJS[string](p, `document.querySelectorAll('#views section').length + ' ' + document.getElementById('drill').hidden`); got != fmt.Sprintf("%d true", len(dashboardViews)) {
		t.Errorf("after a token link in the open tab: views and drill hidden %q, want %d true", got, len(dashboardViews))
	}
	// Signing out leaves nothing the token read for the next user of the
	// tab: not the drill-down open now, nor freshness or overdue rows, nor
	// the records of a drill-down answered after it.
	evalJS[bool](p, holdCall+`('/border-incidents?', () => document.body.dataset.state === 'signed-out')`)
	evalJS[bool](p, `document.querySelector('#view-incidents button[data-drill]').click(); document.getElementById('signout').click(); true`)
	if state := settled(); state != "signed-out" {
		t.Fatalf("after sign-out: state %q", state)
	}
	heldDone()
	if left := evalJS[string](p, `[...document.querySelectorAll('#freshness tbody tr, #overdue tbody tr, #drill tbody tr, #views section')].length + ' ' + document.getElementById('drill').hidden + ' ' + document.querySelector('#overdue-totals td').textContent + document.getElementById('drill-count').textContent + (document.getElementById('drill').dataset.key || '')`); left != "0 true " {
		t.Errorf("after sign-out the page keeps rows, drill shown, overdue total, drill count or key: %q", left)
	}
	// Signing out while the page loads: its answers landing after are
	// dropped; they filled the freshness table again and set the page
	// ready.
	evalJS[bool](p, holdCall+`('/v1/national/freshness', () => document.body.dataset.state === 'signed-out')`)
	evalJS[string](p, `document.body.dataset.state = 'loading'`)
	do(chromedp.Navigate("http://" + tn.Srv.HTTPAddr() + "/#token=" + tn.Token))
	// Every other answer of the load in first: the freshness one is the
	// last to land.
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](fmt.Sprintf(`window.heldCalled && document.querySelectorAll('#views section[data-state="ready"]').length === %d && document.querySelectorAll('#overdue-totals td[data-value]').length === 4`, len(dashboardViews)), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the page's load but its freshness call: %v", err)
	}
	evalJS[bool](p, `document.getElementById('signout').click(); true`)
	heldDone()
	if left := evalJS[string](p, `document.querySelectorAll('#freshness tbody tr, #views section').length + ' ' + document.body.dataset.state`); left != "0 signed-out" {
		t.Errorf("signed out while the page loaded, its answers landing after: rows and views, state %q; want 0 signed-out", left)
	}
	// A node that repeats a page token would have the page count the
	// statuses for ever: it says so instead.
	evalJS[bool](p, answerWith+`('/statuses', v => ({...v, next_page_token: 'same'}))`)
	evalJS[string](p, `document.body.dataset.state = 'loading'`)
	do(chromedp.Navigate("http://" + tn.Srv.HTTPAddr() + "/#token=" + tn.Token))
	if state, msg := settled(), text("#error"); state != "error" || !strings.Contains(msg, "the node repeats its page token") {
		t.Errorf("statuses paged with one token over and over: state %q, error %q", state, msg)
	}
	evalJS[string](p, `window.fetch = window.realFetch; document.body.dataset.state = 'loading'`)
	// A link whose token does not decode (a stray '%') still loses its
	// fragment, and the page asks for a token.
	do(chromedp.Navigate("http://" + tn.Srv.HTTPAddr() + "/#token=" + tn.Token + "%"))
	if state := settled(); state != "signed-out" || strings.Contains(p.location(), tn.Token) {
		t.Errorf("a link with a token that does not decode: state %q, address %s", state, p.location())
	}
}

type group struct {
	Keys  []string `json:"keys"`
	Count string   `json:"count"`
	Sums  []struct {
		Field        string `json:"field"`
		CurrencyCode string `json:"currency_code"`
		Value        string `json:"value"`
	} `json:"sums"`
}

type summary struct {
	Groups []group `json:"groups"`
	Total  group   `json:"total"`
}

func getJSON(t *testing.T, tn *testNode, path string, v any) {
	t.Helper()
	resp, body := tn.httpDo(t, http.MethodGet, path, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
