// The national dashboard: reads the node's HTTP/JSON API with the token the
// user signed in with (kept in sessionStorage, sent only in the
// Authorization header) and draws tables and SVG bar charts. Every figure is
// put in the DOM as text and as a data-* attribute holding the API's own
// value, so what is shown can be checked against the API.
'use strict';

const TOKEN_KEY = 'provex-token';

// The summaries shown, each one Summarize call. drill turns a group's keys
// into the list call that shows its records (null: no drill-down).
const VIEWS = [
  {
    id: 'delegations', title: 'Delegations by province and year', collection: 'delegations',
    groupBy: ['province', 'start_date.year'],
    drill: ([province, year]) => year === 'unset' ? null :
      { province, filter: 'start_date = ' + year },
  },
  {
    id: 'fdi', title: 'FDI capital by investor country', collection: 'projects',
    groupBy: ['investor_country'], sum: ['registered_capital'], filter: 'kind = KIND_FDI',
    drill: ([country]) => country === 'unset' ? null :
      { province: '-', filter: 'kind = KIND_FDI AND investor_country = ' + quote(country) },
  },
  {
    id: 'agreements', title: 'Agreements by partner country', collection: 'agreements',
    groupBy: ['partner_countries'],
    drill: ([country]) => country === 'unset' ? null :
      { province: '-', filter: 'partner_countries:' + quote(country) },
  },
  {
    id: 'incidents', title: 'Open border incidents by age', collection: 'border-incidents',
    groupBy: ['occur_time.age'], filter: 'state != STATE_RESOLVED',
    // Ages are continuous: "8-30d" holds what is more than 7 days old and
    // at most 30, as the summary buckets them ("age >= 8" would miss an
    // incident 7.5 days old); "0-7d" also holds times ahead of the clock.
    drill: ([bucket]) => {
      const m = /^(\d+)-(\d+)d$/.exec(bucket);
      let age;
      if (m && m[1] === '0') age = 'occur_time.age <= ' + m[2];
      else if (m) age = 'occur_time.age > ' + (Number(m[1]) - 1) + ' AND occur_time.age <= ' + m[2];
      else if (/^>\d+d$/.test(bucket)) age = 'occur_time.age > ' + bucket.slice(1, -1);
      else return null;
      return { province: '-', filter: 'state != STATE_RESOLVED AND ' + age };
    },
  },
];

let provinceNames = {};

function quote(s) { return '"' + String(s).replace(/["\\]/g, '\\$&') + '"'; }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

// int64s arrive as JSON strings; BigInt keeps them exact for display.
function fmt(v) {
  try { return BigInt(v || 0).toLocaleString('vi-VN'); } catch (_) { return String(v); }
}

function fmtTime(t) {
  if (!t) return '—';
  return new Date(t).toLocaleString('vi-VN', { timeZone: 'Asia/Ho_Chi_Minh' });
}

function provinceLabel(slug) {
  return provinceNames[slug] || slug;
}

class SignedOut extends Error {}

async function api(path, params) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new SignedOut('no token');
  const q = params ? '?' + new URLSearchParams(params).toString() : '';
  const resp = await fetch(path + q, { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
  if (resp.status === 401) throw new SignedOut('the node refused the token');
  if (!resp.ok) {
    let msg = resp.status + ' ' + resp.statusText;
    try { msg = (await resp.json()).message || msg; } catch (_) { /* not JSON */ }
    throw new Error(path + ': ' + msg);
  }
  return path.endsWith('.csv') ? resp.blob() : resp.json();
}

// listUpTo reads a List call's pages (key names the repeated field) until it
// holds max items or the last page is read, in at most maxCalls calls:
// {items, more}, more when the node has pages left. Every list on the page
// is bounded so: read whole, the overdue statuses were 985 records (413 KB)
// on every load of a 36,000-record node, and a drill-down of a 72,000-record
// group would fill one table (an outside review). current says whether the
// answer is still wanted: when it is not, no further page is read and the
// answer is null. A node that repeats a page token would have the page read
// the same pages for ever: refused, as the CLI refuses it.
async function listUpTo(path, params, key, max, maxCalls, current) {
  const items = [];
  const sent = new Set();
  let token = '';
  for (let calls = 0; calls < maxCalls && items.length < max; calls++) {
    const p = Object.assign({}, params, { page_size: String(Math.min(1000, max - items.length)) });
    if (token) p.page_token = token;
    const r = await api(path, p);
    if (!current()) return null;
    items.push(...(r[key] || []));
    token = r.next_page_token || '';
    if (!token) return { items, more: false };
    if (sent.has(token)) throw new Error(path + ': the node repeats its page token: following it would read the same pages for ever; stopped');
    sent.add(token);
  }
  return { items, more: true };
}

function summaryParams(v) {
  const p = new URLSearchParams();
  for (const g of v.groupBy) p.append('group_by', g);
  for (const s of v.sum || []) p.append('sum', s);
  if (v.filter) p.append('filter', v.filter);
  return p;
}

// measure is what a view's chart draws: the count, or for a view of sums
// one currency of its money field, the one the most groups hold (the
// first in the total on a tie): money is never added across currencies,
// and the first alone (sorted by code) let one record in CHF draw every
// country of USD at zero. The table shows every currency.
function measureOf(v, groups, total) {
  const counts = { label: 'count', value: (g) => g.count || '0' };
  if (!v.sum) return counts;
  const sameSum = (a, b) => a.field === b.field && (a.currency_code || '') === (b.currency_code || '');
  let s = null, most = 0;
  for (const t of total.sums || []) {
    const held = groups.filter((g) => (g.sums || []).some((x) => sameSum(x, t) && x.value && x.value !== '0')).length;
    if (held > most) { s = t; most = held; }
  }
  if (!s) s = (total.sums || [])[0];
  if (!s) return counts;
  const pick = (g) => ((g.sums || []).find((x) => sameSum(x, s)) || {}).value || '0';
  return { label: s.field + (s.currency_code ? ' (' + s.currency_code + ')' : ''), value: pick };
}

function keyLabel(dim, key) {
  return dim === 'province' ? provinceLabel(key) : key;
}

function drawChart(v, groups, measure) {
  const rowH = 20, labelW = 220, barW = 420, pad = 4;
  const h = Math.max(1, groups.length) * rowH + pad * 2;
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${labelW + barW + 140} ${h}`, role: 'img',
    'aria-label': v.title + ', ' + measure.label, 'data-bars': String(groups.length) });
  if (!groups.length) {
    const none = svg('text', { x: 4, y: rowH * 0.7 });
    none.textContent = 'No records.';
    chart.append(none);
  }
  const max = groups.reduce((m, g) => Math.max(m, Number(measure.value(g))), 0) || 1;
  groups.forEach((g, i) => {
    const y = pad + i * rowH;
    const value = measure.value(g);
    const label = g.keys.map((k, j) => keyLabel(v.groupBy[j], k)).join(' · ');
    const t = svg('text', { x: labelW - 6, y: y + rowH * 0.7, 'text-anchor': 'end' });
    t.textContent = label;
    const w = Math.max(1, Math.round(barW * Number(value) / max));
    const bar = svg('rect', { class: 'bar', x: labelW, y: y + 3, width: w, height: rowH - 6,
      'data-key': g.keys.join('|'), 'data-value': value });
    const tip = svg('title');
    tip.textContent = label + ': ' + fmt(value);
    bar.append(tip);
    const n = svg('text', { x: labelW + w + 4, y: y + rowH * 0.7 });
    n.textContent = fmt(value);
    chart.append(t, bar, n);
  });
  return chart;
}

function sumColumns(total) {
  return (total.sums || []).map((s) => ({ field: s.field, currency: s.currency_code || '' }));
}

function drawTable(v, resp) {
  const cols = sumColumns(resp.total || {});
  const head = el('tr', {}, ...v.groupBy.map((d) => el('th', {}, d)), el('th', { class: 'num' }, 'count'),
    ...cols.map((c) => el('th', { class: 'num' }, c.field + (c.currency ? ' (' + c.currency + ')' : ''))), el('th', {}, ''));
  const body = el('tbody');
  const row = (g, isTotal) => {
    const key = isTotal ? '' : g.keys.join('|');
    const tr = el('tr', isTotal ? { 'data-total': 'true' } : { 'data-key': key });
    if (isTotal) tr.append(el('th', { colSpan: v.groupBy.length }, 'Total'));
    else g.keys.forEach((k, j) => tr.append(el('td', { 'data-dim': v.groupBy[j], 'data-raw': k }, keyLabel(v.groupBy[j], k))));
    tr.append(el('td', { class: 'num', 'data-count': g.count || '0' }, fmt(g.count)));
    for (const c of cols) {
      const s = (g.sums || []).find((x) => x.field === c.field && (x.currency_code || '') === c.currency) || {};
      tr.append(el('td', { class: 'num', 'data-sum': c.field, 'data-currency': c.currency, 'data-value': s.value || '0' }, fmt(s.value)));
    }
    const d = isTotal ? null : v.drill(g.keys);
    const cell = el('td');
    if (d) {
      const b = el('button', { type: 'button', class: 'link', 'data-drill': key }, 'records');
      b.addEventListener('click', () => drill(v, g, d));
      cell.append(b);
    }
    tr.append(cell);
    return tr;
  };
  for (const g of resp.groups || []) body.append(row(g, false));
  body.append(row(resp.total || {}, true));
  return el('table', { class: 'summary' }, el('thead', {}, head), body);
}

async function downloadCSV(v) {
  const blob = await api('/v1/national/' + v.collection + '/summary.csv', summaryParams(v));
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: v.collection + '-summary.csv' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function showView(v, current) {
  const section = el('section', { id: 'view-' + v.id, 'data-collection': v.collection, 'data-state': 'loading' });
  const csv = el('button', { type: 'button', 'data-csv': v.collection }, 'Download CSV');
  csv.addEventListener('click', () => downloadCSV(v).catch(fail));
  section.append(el('h2', {}, v.title), el('div', { class: 'actions' },
    el('span', { class: 'muted' }, v.filter ? 'filter: ' + v.filter : ''), csv));
  document.getElementById('views').append(section);
  const resp = await api('/v1/national/' + v.collection + ':summarize', summaryParams(v));
  if (!current()) return;
  const measure = measureOf(v, resp.groups || [], resp.total || {});
  section.append(drawChart(v, resp.groups || [], measure), drawTable(v, resp));
  section.dataset.state = 'ready';
}

// drillRun numbers the drill-downs: each takes the next number, and so
// does clearPage. Only the answer of the current one is shown: two clicks
// in quick succession showed both answers in one table under the later's
// title with the earlier's count, and an answer landing after Sign out put
// its records back in the page (an outside review).
let drillRun = 0;

// drillRows is the most records a drill-down shows: beyond, it says how
// many it shows of how many and which command lists them all.
const drillRows = 500;

async function drill(v, g, d) {
  const run = ++drillRun;
  const section = document.getElementById('drill');
  const body = section.querySelector('tbody');
  const count = document.getElementById('drill-count');
  section.hidden = false;
  section.dataset.state = 'loading';
  for (const k of ['key', 'view']) delete section.dataset[k];
  body.replaceChildren();
  count.textContent = '';
  for (const k of ['count', 'more']) delete count.dataset[k];
  const label = g.keys.map((k, j) => keyLabel(v.groupBy[j], k)).join(' · ');
  document.getElementById('drill-title').textContent = v.title + ': ' + label;
  try {
    const page = await listUpTo('/v1/provinces/' + encodeURIComponent(d.province) + '/' + v.collection,
      { filter: d.filter }, v.collection.replace(/-/g, '_'), drillRows, 1, () => run === drillRun);
    if (!page) return;
    body.replaceChildren(...page.items.map((r) =>
      el('tr', { 'data-name': r.name }, el('td', {}, r.name), el('td', {}, r.display_name || r.title || ''))));
    const shown = page.items.length;
    count.textContent = (page.more
      ? 'The first ' + shown + ' of the ' + fmt(g.count) + ' records'
      : shown + ' records') + ' · filter: ' + d.filter;
    if (page.more) {
      count.append(el('br'), 'All of them: ', el('code', {}, 'provex list provinces/' + d.province + '/' + v.collection +
        " --filter '" + d.filter.replace(/'/g, "'\\''") + "' --all"));
    }
    count.dataset.count = String(shown);
    count.dataset.more = String(page.more);
    section.dataset.key = g.keys.join('|');
    section.dataset.view = v.id;
    section.dataset.state = 'ready';
    section.scrollIntoView();
  } catch (e) { if (run === drillRun) fail(e); }
}

async function showFreshness(current) {
  const r = await api('/v1/national/freshness');
  if (!current()) return;
  const body = document.querySelector('#freshness tbody');
  body.replaceChildren();
  for (const p of r.provinces || []) {
    const stale = Boolean(p.stale);
    body.append(el('tr', { class: stale ? 'stale' : '', 'data-province': p.province, 'data-stale': String(stale), 'data-seq': p.seq || '0' },
      el('td', {}, provinceLabel(p.province)), el('td', { class: 'num' }, fmt(p.seq)),
      el('td', {}, fmtTime(p.last_change_time)), el('td', {}, fmtTime(p.last_contact_time)),
      el('td', {}, el('span', { class: 'badge' }, stale ? 'stale' : 'current'))));
  }
}

// overdueCountMax is how far the page counts overdue information requests
// and incidents awaiting acknowledgement, in at most overdueCountCalls
// calls: the API has no count of them but its lists of statuses, and a
// larger number is shown as "at least" it, with the call that lists them
// all in its tooltip.
const overdueCountMax = 100;
const overdueCountCalls = 3;

async function showOverdue(current) {
  const count = (path, params) =>
    listUpTo(path, params, 'statuses', overdueCountMax, overdueCountCalls, current).then((r) => r && ({ path, params, ...r }));
  const [sum, requests, incidents] = await Promise.all([
    api('/v1/provinces/-/agreements/-/overdue-summary'),
    count('/v1/provinces/-/information-requests/-/statuses', { overdue_only: 'true' }),
    count('/v1/provinces/-/border-incidents/-/acknowledgement-statuses', { waiting_only: 'true' }),
  ]);
  if (!current()) return;
  const set = (k, n, page) => {
    const td = document.querySelector(`#overdue-totals td[data-overdue="${k}"]`);
    td.textContent = (page && page.more ? 'at least ' : '') + fmt(n);
    td.dataset.value = String(n);
    if (page) td.dataset.more = String(page.more);
    if (page && page.more) td.title = 'All of them: GET ' + page.path + '?' + new URLSearchParams(page.params);
  };
  set('opinions', sum.overdue_opinions || 0);
  set('reports', sum.overdue_reports || 0);
  set('information-requests', requests.items.length, requests);
  set('incidents-waiting', incidents.items.length, incidents);
  const body = document.querySelector('#overdue tbody');
  body.replaceChildren();
  for (const p of sum.provinces || []) {
    body.append(el('tr', { 'data-province': p.province },
      el('td', {}, provinceLabel(p.province)),
      el('td', { class: 'num', 'data-value': String(p.overdue_opinions || 0) }, fmt(p.overdue_opinions)),
      el('td', { class: 'num', 'data-value': String(p.overdue_reports || 0) }, fmt(p.overdue_reports))));
  }
}

function fail(e) {
  if (e instanceof SignedOut) { signOut(e.message); return; }
  document.getElementById('error').textContent = e.message;
  document.body.dataset.state = 'error';
}

// pageRun numbers the page's loads, as drillRun its drill-downs: clearPage
// starts the next, and a load's answers landing after it (Sign out, a
// token link followed meanwhile) are dropped: they filled the freshness
// and overdue tables again after Sign out, and set the page ready.
let pageRun = 0;

// clearPage takes out of the page everything a token read: nothing stays
// for the next user of the tab, or beside what another token reads.
function clearPage() {
  drillRun++;
  pageRun++;
  document.getElementById('views').replaceChildren();
  for (const body of document.querySelectorAll('#freshness tbody, #overdue tbody, #drill tbody')) body.replaceChildren();
  for (const td of document.querySelectorAll('#overdue-totals td')) {
    td.textContent = '';
    td.title = '';
    for (const k of ['value', 'more']) delete td.dataset[k];
  }
  const drillView = document.getElementById('drill');
  drillView.hidden = true;
  for (const k of ['state', 'key', 'view']) delete drillView.dataset[k];
  document.getElementById('drill-title').textContent = 'Records';
  const drillCount = document.getElementById('drill-count');
  drillCount.textContent = '';
  for (const k of ['count', 'more']) delete drillCount.dataset[k];
  document.getElementById('error').textContent = '';
  document.getElementById('node').textContent = '';
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById('dashboard').hidden = true;
  document.getElementById('signout').hidden = true;
  clearPage();
  document.getElementById('signin').hidden = false;
  document.getElementById('signin-error').textContent = message || '';
  document.body.dataset.state = 'signed-out';
}

async function load() {
  clearPage();
  const run = pageRun;
  const current = () => run === pageRun;
  document.body.dataset.state = 'loading';
  document.getElementById('signin').hidden = true;
  document.getElementById('dashboard').hidden = false;
  document.getElementById('signout').hidden = false;
  document.getElementById('error').textContent = '';
  try {
    const [node, provinces] = await Promise.all([api('/v1/node'), api('/v1/provinces')]);
    if (!current()) return;
    provinceNames = {};
    for (const p of provinces.provinces || []) provinceNames[p.slug] = p.display_name;
    // The ministry is no province, but its log is one of the freshness rows.
    if (node.member && node.display_name && !provinceNames[node.member]) provinceNames[node.member] = node.display_name;
    document.getElementById('node').textContent =
      'Node: ' + (node.display_name || node.member) + (node.version ? ' · ' + node.version : '');
    await Promise.all([showFreshness(current), showOverdue(current), ...VIEWS.map((v) => showView(v, current))]);
    if (current()) document.body.dataset.state = 'ready';
  } catch (e) { if (current()) fail(e); }
}

// tokenFromFragment takes a token a test or a link passes in the fragment,
// which browsers never send to the server: it is moved to sessionStorage
// and dropped from the address at once, first of all (a token that did not
// decode, with a stray '%', threw before, leaving it in the address and
// the page blank). Reports whether there was one.
function tokenFromFragment() {
  const m = /^#token=(.+)$/.exec(location.hash);
  if (!m) return false;
  history.replaceState(null, '', location.pathname + location.search);
  let token = m[1];
  try { token = decodeURIComponent(token); } catch (_) { /* kept as it came: the node refuses it */ }
  sessionStorage.setItem(TOKEN_KEY, token);
  return true;
}

function start() {
  tokenFromFragment();
  // A link followed in a tab the page is open in changes only the fragment.
  window.addEventListener('hashchange', () => { if (tokenFromFragment()) load(); });
  document.getElementById('signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = document.getElementById('token');
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = '';
    load();
  });
  document.getElementById('signout').addEventListener('click', () => signOut(''));
  if (sessionStorage.getItem(TOKEN_KEY)) load(); else signOut('');
}

start();
