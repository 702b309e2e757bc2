// The operator dashboard: reads the worker's /api endpoints every few seconds.
// Every value from events reaches the page through textContent, never as HTML.
// Texts are English source strings marked N_() / _(): the worker's catalog
// (vasscm/locale, /api/texts) gives their Vietnamese; sites come from /api/sites.
"use strict";

const REFRESH_MS = 5000;
const STAGES = ["EXPECTED", "AWAITING_SCAN", "AWAITING_RELEASE", "HELD", "SUSPENDED", "RELEASED"];
const N_ = (text) => text; // marks a text for the catalog; translated where shown
let TEXTS = {};
let LANG = "vi";
let SITES = {};
let DEFAULT_TZ = "Asia/Ho_Chi_Minh";

const _ = (text) => TEXTS[text] || text;

// "{h}h{m:02d}m" with {h: 1, m: 5} -> "1h05m": the catalog's Python-style fields.
function fmt(text, fields) {
  return _(text).replace(/\{(\w+)(?::0(\d)d)?\}/g, (all, name, width) => {
    if (!(name in fields)) return all;
    const value = String(fields[name]);
    return width ? value.padStart(Number(width), "0") : value;
  });
}

const LABELS = {
  tagline: N_("customs supervision"),
  container: N_("Container"),
  lookUp: N_("Look up"),
  portTime: N_("port time"),
  eventsRate: N_("events/s"),
  rejectedRate: N_("rejected/s"),
  lag: N_("lag"),
  status: N_("status"),
  site: N_("site"),
  direction: N_("direction"),
  import: N_("import"),
  export: N_("export"),
  allSites: N_("all sites"),
  allDirections: N_("both directions"),
  allStages: N_("all stages"),
  stages: N_("Containers per stage"),
  stagesNote: N_("Stalled containers (older in their stage than its threshold) in red."),
  waiting: N_("Whose move it is"),
  noWaiting: N_("No container in the yard."),
  waitingNote: N_("Containers in the yard by the party they wait on: the declarant until every declaration has a channel, the scanner while selected and not scanned, customs until release (also while suspended or held), the owner from release to exit."),
  late: N_("Late by forecast"),
  noLate: N_("No container is forecast past its target."),
  lateNote: N_("Open visits whose median forecast lies past their target: the release past arrival plus the awaiting-release threshold, the exit past release plus the released threshold. Learned from the visits of the last 28 days; P50–P90 is the window in which half and nine in ten of such containers were released."),
  stalled: N_("Stalled"),
  noStalled: N_("No stalled container."),
  releaseWindow: N_("Release time, last"),
  h6: N_("6 hours"),
  h24: N_("24 hours"),
  h72: N_("72 hours"),
  alerts: N_("Recent alerts"),
  noAlerts: N_("No alert."),
  footer: N_("Refreshes every 5 seconds"),
  metrics: N_("metrics"),
};
const STAGE_NAMES = {
  EXPECTED: N_("expected"),
  AWAITING_SCAN: N_("awaiting scan"),
  AWAITING_RELEASE: N_("awaiting release"),
  HELD: N_("held"),
  SUSPENDED: N_("suspended"),
  RELEASED: N_("released"),
  EXITED: N_("exited"),
};
// Contract 8.1's parties, in the order a visit meets them.
const PARTIES = ["declarant", "scan", "customs", "owner"];
const PARTY_NAMES = {
  declarant: N_("declarant"),
  scan: N_("scanning"),
  customs: N_("customs"),
  owner: N_("owner (released)"),
};
const partyName = (code) => (code in PARTY_NAMES ? _(PARTY_NAMES[code]) : code || "–");
const KIND_NAMES = {
  EXIT_WITHOUT_RELEASE: N_("exit without release"),
  UNSCANNED_EXIT: N_("exit without the scan"),
  SEAL_MISMATCH: N_("seal mismatch"),
  STALLED: N_("stalled"),
  LATE_REPORT: N_("late report"),
  LATE_NOTICE: N_("late customs notice"),
};
const EVENT_NAMES = {
  DISCHARGED: N_("discharged"),
  GATE_IN: N_("gate-in"),
  GATE_OUT: N_("gate-out"),
  LOADED: N_("loaded"),
  SEAL_CHANGED: N_("seal changed"),
  DISCREPANCY: N_("discrepancy"),
  SCANNED: N_("scanned"),
  EXPECTED: N_("expected (manifest)"),
  SCAN_SELECTED: N_("selected for scanning"),
  CHANNEL_ASSIGNED: N_("channel assigned"),
  ELIGIBLE: N_("released (eligible)"),
  SUSPENDED: N_("suspended"),
  RESUMED: N_("resumed"),
  ELIGIBILITY_CANCELLED: N_("release cancelled"),
};
const WORDS = {
  import: N_("import"),
  export: N_("export"),
  unknown: N_("unknown direction"),
  green: N_("green channel"),
  yellow: N_("yellow channel"),
  red: N_("red channel"),
  critical: N_("critical"),
  warning: N_("warning"),
  firing: N_("firing"),
  resolved: N_("resolved"),
};
const word = (code) => (code in WORDS ? _(WORDS[code]) : code);
const stageName = (code) => (code in STAGE_NAMES ? _(STAGE_NAMES[code]) : code);
const siteName = (code) => {
  const site = SITES[code];
  return (site && (site.name[LANG] || site.name.en)) || code;
};

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) tr.append(cell instanceof Node ? cell : el("td", cell));
  return tr;
}

function num(value, cls) {
  const td = el("td", value, cls);
  td.classList.add("num");
  return td;
}

function heads(table, names) {
  const tr = document.querySelector(`#${table} thead tr`);
  tr.replaceChildren(...names.map((name) => el("th", name)));
}

const number = (value) => new Intl.NumberFormat(LANG).format(value);
const percent = (share) =>
  new Intl.NumberFormat(LANG, { style: "percent", maximumFractionDigits: 0 }).format(share);

// 90061 s -> "25h01m01s" / "25 giờ 01 phút 01 giây", as the TRS reports write them.
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  return fmt(N_("{h}h{m:02d}m{s:02d}s"), {
    h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60), s: s % 60,
  });
}

// A forecast's distance to the minute: "42h11m" / "42 giờ 11 phút".
function hoursMinutes(seconds) {
  const m = Math.round(seconds / 60);
  return fmt(N_("{h}h{m:02d}m"), { h: Math.floor(m / 60), m: m % 60 });
}

const zoneOf = (site) => (SITES[site] && SITES[site].tz) || DEFAULT_TZ;

// "UTC+07:00": the zone the times of a site (or the default one) are shown in.
function offset(tz, at) {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: tz, timeZoneName: "longOffset" })
    .formatToParts(at || new Date());
  const name = (parts.find((p) => p.type === "timeZoneName") || {}).value || "GMT";
  return name === "GMT" ? "UTC+00:00" : name.replace("GMT", "UTC");
}

// A moment in the site's local time; its zone is shown once above the tables, and
// beside the time only for a site in another zone.
function when(iso, site) {
  if (!iso) return "–";
  const at = new Date(iso);
  const tz = zoneOf(site);
  const text = new Intl.DateTimeFormat(LANG === "vi" ? "vi-VN" : "en-CA", {
    timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).format(at).replace(",", "");
  return tz === DEFAULT_TZ ? text : `${text} (${offset(tz, at)})`;
}

// "14:00–18:30 (UTC+07:00)": a forecast's P50–P90 in the site's local time, each end
// with its date when it is not the port's today (the other end's day for the second).
// In a list, the zone only for a site in another zone than the one said above it.
function between(p50, p90, site, today, inList) {
  if (!p50) return _("beyond what the window has seen");
  const tz = zoneOf(site);
  const day = (at) => new Intl.DateTimeFormat("en-CA", { timeZone: tz }).format(at);
  const clock = (at, withDay) => {  // "07/03 00:19" in Vietnamese, "7 Mar 00:19" in English
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
      timeZone: tz, day: LANG === "vi" ? "2-digit" : "numeric",
      month: LANG === "vi" ? "2-digit" : "short", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23",
    }).formatToParts(at).map((p) => [p.type, p.value]));
    const time = `${parts.hour}:${parts.minute}`;
    if (!withDay) return time;
    return LANG === "vi" ? `${parts.day}/${parts.month} ${time}` : `${parts.day} ${parts.month} ${time}`;
  };
  const from = new Date(p50);
  const first = clock(from, day(from) !== day(today || new Date()));
  const second = p90 ? clock(new Date(p90), day(new Date(p90)) !== day(from)) : "…";
  if (inList && tz === DEFAULT_TZ) return `${first}–${second}`;
  return `${first}–${second} (${offset(tz, from)})`;
}

function containerLink(no) {
  const a = el("a", no, "container");
  a.href = "#" + encodeURIComponent(no);
  return a;
}

function containerCell(no) {
  const td = el("td");
  td.append(containerLink(no));
  return td;
}

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json();
  return { status: response.status, body };
}

function filters() {
  const params = new URLSearchParams();
  for (const [name, id] of [["site", "f-site"], ["direction", "f-direction"]]) {
    const value = document.getElementById(id).value;
    if (value) params.set(name, value);
  }
  return params;
}

const chosen = (name) => filters().get(name);
const wanted = (r) => (!chosen("site") || r.site === chosen("site"))
  && (!chosen("direction") || r.direction === chosen("direction"));

function applyLabels() {
  document.documentElement.lang = LANG;
  document.title = `vasscm · ${_(LABELS.tagline)}`;
  for (const node of document.querySelectorAll("[data-t]")) {
    const text = LABELS[node.dataset.t];
    if (text === undefined) console.error("no text for", node.dataset.t);
    node.textContent = _(text || node.dataset.t);
  }
  for (const button of document.querySelectorAll("#langs button")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === LANG));
  }
  document.getElementById("zone").textContent = fmt(N_("Times in local time, {zone}"), {
    zone: offset(DEFAULT_TZ),
  });
  heads("stages", [_("site"), _("direction"), ...STAGES.map(stageName)]);
  heads("waiting", [_("site"), _("direction"), ...PARTIES.map(partyName), _("share")]);
  const partyHeads = document.querySelectorAll("#waiting thead th");
  PARTIES.forEach((p, i) => partyHeads[i + 2].prepend(el("span", undefined, `share ${p}`)));
  heads("releases", [_("site"), _("direction"), _("visits"), "p50", "p90", _("mean")]);
  heads("stalled", [_("Container"), _("site"), _("direction"), _("stage"), _("since"), _("age")]);
  heads("late", [_("Container"), _("site"), _("direction"), _("waiting on"), _("forecast of"),
    _("target"), "P50–P90", _("past target by")]);
  heads("alerts", [_("severity"), _("status"), _("kind"), _("Container"), _("site"), _("stage"),
    _("detected"), _("detail")]);
}

function keepOptions(select, values, label) {
  const current = select.value;
  const first = select.options[0];
  select.replaceChildren(first);
  for (const value of values) {
    const option = el("option", label(value));
    option.value = value;
    select.append(option);
  }
  select.value = values.includes(current) ? current : "";
}

function renderOverview(data) {
  document.getElementById("h-now").textContent = when(data.now);
  const h = data.health;
  document.getElementById("h-events").textContent = number(h.events_per_second);
  document.getElementById("h-rejected").textContent = number(h.rejected_per_second);
  document.getElementById("h-lag").textContent = number(h.lag_records);
  document.getElementById("h-ready").textContent = data.ready ? _("ready") : _("not ready");

  const known = new Set([...Object.keys(SITES), ...data.stages.map((r) => r.site)]);
  const siteSelect = document.getElementById("f-site");
  const shown = [...known].sort((a, b) => siteName(a).localeCompare(siteName(b), LANG));
  keepOptions(siteSelect, shown, siteName);

  const groups = new Map();
  for (const r of data.stages.filter(wanted)) {
    const key = `${r.site}\u0000${r.direction}`;
    if (!groups.has(key)) groups.set(key, { site: r.site, direction: r.direction, stages: {} });
    groups.get(key).stages[r.stage] = r;
  }
  const body = document.querySelector("#stages tbody");
  body.replaceChildren();
  const order = (g) => siteName(g.site) + "\u0000" + g.direction;
  for (const g of [...groups.values()].sort((a, b) => order(a).localeCompare(order(b), LANG))) {
    const cells = [el("td", siteName(g.site), "site"), el("td", word(g.direction))];
    for (const s of STAGES) {
      const r = g.stages[s];
      const td = num(r ? number(r.containers) : 0);
      td.dataset.stage = s;
      if (r && r.stalled) {
        td.append(el("span", fmt(N_("({count} stalled)"), { count: number(r.stalled) }), "stalled"));
      }
      cells.push(td);
    }
    body.append(row(cells));
  }
  renderWaiting(data.waiting || [], order);
}

// What each site's containers wait on: counts per party, and a bar of the shares.
function renderWaiting(rows, order) {
  const groups = new Map();
  for (const r of rows.filter(wanted)) {
    const key = `${r.site}\u0000${r.direction}`;
    if (!groups.has(key)) groups.set(key, { site: r.site, direction: r.direction, parties: {} });
    groups.get(key).parties[r.waiting_on] = r;
  }
  const body = document.querySelector("#waiting tbody");
  body.replaceChildren();
  for (const g of [...groups.values()].sort((a, b) => order(a).localeCompare(order(b), LANG))) {
    const cells = [el("td", siteName(g.site), "site"), el("td", word(g.direction))];
    const total = PARTIES.reduce((n, p) => n + (g.parties[p] ? g.parties[p].containers : 0), 0);
    const bar = el("div", undefined, "shares");
    bar.setAttribute("role", "img");
    const said = [];
    for (const p of PARTIES) {
      const r = g.parties[p];
      const n = r ? r.containers : 0;
      const td = num(number(n));
      td.dataset.party = p;
      if (r && r.stalled) {
        td.append(el("span", fmt(N_("({count} stalled)"), { count: number(r.stalled) }), "stalled"));
      }
      cells.push(td);
      if (n && total) {
        const part = el("span", undefined, `share ${p}`);
        part.style.width = `${(100 * n) / total}%`;
        bar.append(part);
        said.push(`${partyName(p)} ${percent(n / total)}`);
      }
    }
    bar.setAttribute("aria-label", said.join(", "));
    bar.title = said.join(" · ");
    const td = el("td");
    td.append(bar);
    cells.push(td);
    body.append(row(cells));
  }
  document.getElementById("waiting-empty").hidden = groups.size > 0;
}

// A list's count beside its heading, "(12)" or "(100 oldest of 340)" when the list
// shows fewer than there are (``some``), and its "none" note when there are none.
function listed(list, shown, total, some) {
  document.getElementById(`${list}-count`).textContent = !total ? ""
    : shown < total ? fmt(some, { shown: number(shown), total: number(total) })
    : `(${number(total)})`;
  document.getElementById(`${list}-empty`).hidden = total > 0;
}

function renderStalled(data) {
  const body = document.querySelector("#stalled tbody");
  body.replaceChildren();
  for (const s of data.stalled) {
    body.append(row([containerCell(s.container_no), el("td", siteName(s.site), "site"),
      el("td", word(s.direction)), el("td", stageName(s.stage)), el("td", when(s.since, s.site), "time"),
      num(duration(s.age_seconds), "stalled")]));
  }
  listed("stalled", data.stalled.length, data.total, N_("({shown} oldest of {total})"));
  const stages = STAGES.filter((s) => s in data.by_stage);
  keepOptions(document.getElementById("f-stage"), stages,
    (s) => `${stageName(s)} (${number(data.by_stage[s])})`);
}

const LATE_OF = { release: N_("release"), exit: N_("exit") };

function renderLate(data) {
  const body = document.querySelector("#late tbody");
  body.replaceChildren();
  for (const r of data.late) {
    body.append(row([containerCell(r.container_no), el("td", siteName(r.site), "site"),
      el("td", word(r.direction)), el("td", partyName(r.waiting_on)), el("td", _(LATE_OF[r.of] || r.of)),
      el("td", when(r.target, r.site), "time"), el("td", between(r.p50, r.p90, r.site, null, true), "time"),
      num(r.late_seconds === null ? _("beyond the window") : hoursMinutes(r.late_seconds), "stalled")]));
  }
  listed("late", data.late.length, data.total, N_("({shown} latest of {total})"));
}

function renderReleases(data) {
  const body = document.querySelector("#releases tbody");
  body.replaceChildren();
  for (const g of data.groups.filter(wanted)) {
    body.append(row([el("td", siteName(g.site), "site"), el("td", word(g.direction)),
      num(number(g.count)), num(duration(g.p50_seconds)), num(duration(g.p90_seconds)),
      num(duration(g.mean_seconds))]));
  }
  const chart = document.getElementById("histogram");
  chart.replaceChildren();
  const counts = data.histogram.counts;
  const max = Math.max(1, ...Object.values(counts).flat());
  for (const [direction, values] of Object.entries(counts)) {
    if (chosen("direction") && direction !== chosen("direction")) continue;
    const bars = el("div", undefined, "bars");
    bars.append(el("strong", word(direction)), el("span"), el("span"));
    data.histogram.buckets.forEach((label, i) => {
      const bar = el("div", undefined, `bar ${direction}`);
      bar.style.width = `${(100 * values[i]) / max}%`;
      bars.append(el("span", label), bar, el("span", number(values[i])));
    });
    chart.append(bars);
  }
}

function renderAlerts(data) {
  const body = document.querySelector("#alerts tbody");
  body.replaceChildren();
  for (const a of data.alerts) {
    const severity = el("td");
    severity.append(el("span", word(a.severity), `badge ${a.severity}`));
    const status = el("td");
    status.append(el("span", word(a.status), a.status === "resolved" ? "badge resolved" : "badge"));
    const detail = el("td", a.detail, "detail");
    detail.title = a.detail;
    const kind = a.kind in KIND_NAMES ? _(KIND_NAMES[a.kind]) : a.kind;
    body.append(row([severity, status, el("td", kind), containerCell(a.container_no),
      el("td", siteName(a.site), "site"), el("td", stageName(a.stage)), el("td", when(a.detected_at, a.site), "time"), detail]));
  }
  document.getElementById("alerts-empty").hidden = data.alerts.length > 0;
}

function renderVisit(visit) {
  const box = el("div", undefined, "visit");
  box.append(el("h3", `${siteName(visit.site)} · ${word(visit.direction)} · ${stageName(visit.stage)}`));
  if (visit.forecast) box.append(renderForecast(visit.forecast, visit.site));
  const facts = document.createElement("dl");
  const at = (iso) => when(iso, visit.site);
  const pairs = [
    [_("arrived"), at(visit.arrived_at)], [_("eligible"), at(visit.eligible_at)],
    [_("exited"), at(visit.exited_at)], [_("stage since"), at(visit.stage_since)],
    [_("waiting on"), partyName(visit.waiting_on)],
    [_("channel"), visit.channel === "unknown" ? _("none yet") : word(visit.channel)],
    [_("declarations"), visit.declaration_nos.join(", ") || "–"],
    [_("seal"), visit.seal_no || "–"],
    [_("alerts firing"), visit.alerts_firing.join(", ") || _("none")],
  ];
  for (const [k, v] of pairs) facts.append(el("dt", k), el("dd", v));
  box.append(facts);
  const table = el("table");
  table.append(row([_("occurred"), _("event"), _("detail"), _("seal"), _("declaration")]
    .map((h) => el("th", h))));
  for (const e of visit.timeline) {
    const type = el("td", e.type in EVENT_NAMES ? _(EVENT_NAMES[e.type]) : e.type);
    type.append(" ", el("span", e.type, "code"));  // the contract's name, as the feeds send it
    table.append(row([el("td", at(e.occurred_at), "time"), type, el("td", word(e.value || "")),
      el("td", e.seal_no || ""), el("td", e.declaration_no || "")]));
  }
  box.append(table);
  return box;
}

// Contract 8.2: "expected release 14:00–18:30 (UTC+07:00)", P50–P90 in the site's time.
function renderForecast(f, site) {
  const box = el("div", undefined, "forecast");
  const asOf = new Date(f.as_of);
  if (f.release_p50 || f.release_p90) {
    box.append(el("p", fmt(N_("expected release {window}"),
      { window: between(f.release_p50, f.release_p90, site, asOf) }), "expected release"));
  }
  if (f.exit_p50 || f.exit_p90) {
    box.append(el("p", fmt(N_("expected exit {window}"),
      { window: between(f.exit_p50, f.exit_p90, site, asOf) }), "expected exit"));
  }
  if (!box.childElementCount) box.append(el("p", _("beyond what the window has seen"), "expected"));
  box.append(el("p", fmt(N_("P50–P90 from {basis} completed visits like it, as of {as_of}"),
    { basis: number(f.basis), as_of: when(f.as_of, site) }), "note"));
  return box;
}

async function lookup(raw) {
  const section = document.getElementById("lookup");
  const error = document.getElementById("lookup-error");
  const visits = document.getElementById("lookup-visits");
  const no = raw.trim().toUpperCase();
  if (!no) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  document.getElementById("lookup-title").textContent = no;
  visits.replaceChildren();
  const { status, body } = await getJSON("/api/containers/" + encodeURIComponent(no));
  error.hidden = status === 200;
  if (status !== 200) {
    error.textContent = status === 404 ? _("No visit held for this container.") : body.detail || body.error;
    return;
  }
  for (const visit of [...body.visits].reverse()) visits.append(renderVisit(visit));
}

async function refresh() {
  const hours = document.getElementById("hours").value;
  const where = filters();
  const stalledWhere = new URLSearchParams(where);
  const stage = document.getElementById("f-stage").value;
  if (stage) stalledWhere.set("stage", stage);
  const jobs = [
    getJSON("/api/overview").then((r) => renderOverview(r.body)),
    getJSON(`/api/stalled?limit=100&${stalledWhere}`).then((r) => renderStalled(r.body)),
    getJSON(`/api/late?limit=50&${where}`).then((r) => renderLate(r.body)),
    getJSON("/api/releases?hours=" + hours).then((r) => renderReleases(r.body)),
    getJSON(`/api/alerts?limit=30&${where}`).then((r) => renderAlerts(r.body)),
  ];
  const results = await Promise.allSettled(jobs);
  for (const r of results) if (r.status === "rejected") console.error(r.reason);
  document.body.dataset.loaded = results.every((r) => r.status === "fulfilled") ? "yes" : "partly";
}

function fromHash() {
  const no = decodeURIComponent(location.hash.slice(1));
  document.getElementById("container").value = no;
  lookup(no).catch((e) => console.error(e));
}

// ?lang= in the address, else the reader's last choice, else the browser's languages
// (the worker negotiates them from Accept-Language).
async function loadLanguage(asked) {
  const { body } = await getJSON("/api/texts" + (asked ? "?lang=" + encodeURIComponent(asked) : ""));
  LANG = body.lang;
  TEXTS = body.texts;
  applyLabels();
}

async function start() {
  const url = new URL(location.href);
  const asked = url.searchParams.get("lang") || localStorage.getItem("vasscm.lang");
  const [, sites] = await Promise.all([loadLanguage(asked), getJSON("/api/sites")]);
  SITES = sites.body.sites;
  DEFAULT_TZ = sites.body.default_tz;
  applyLabels();
  for (const button of document.querySelectorAll("#langs button")) {
    button.addEventListener("click", async () => {
      localStorage.setItem("vasscm.lang", button.dataset.lang);
      url.searchParams.set("lang", button.dataset.lang);
      history.replaceState(null, "", url);
      await loadLanguage(button.dataset.lang);
      await refresh();
      if (location.hash.length > 1) fromHash();
    });
  }
  if (location.hash.length > 1) fromHash();
  await refresh();
  setInterval(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("search").addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = encodeURIComponent(document.getElementById("container").value.trim().toUpperCase());
  });
  document.getElementById("lookup-close").addEventListener("click", () => { location.hash = ""; });
  for (const id of ["hours", "f-site", "f-direction", "f-stage"]) {
    document.getElementById(id).addEventListener("change", () => refresh());
  }
  document.getElementById("filters").addEventListener("submit", (event) => event.preventDefault());
  window.addEventListener("hashchange", fromHash);
  start().catch((e) => console.error(e));
});
