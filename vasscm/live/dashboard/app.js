// The operator dashboard: reads the worker's /api endpoints every few seconds.
// Every value from events reaches the page through textContent, never as HTML.
"use strict";

const REFRESH_MS = 5000;
const STAGES = ["EXPECTED", "AWAITING_SCAN", "AWAITING_RELEASE", "HELD", "SUSPENDED", "RELEASED"];

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

// 90061 s -> "25h01m01s", the way TRS reports write durations.
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return `${h}h${pad(m)}m${pad(s % 60)}s`;
}

// "2026-11-27T10:03:19.014Z" -> "2026-11-27 10:03" (UTC, as the port's systems report).
function when(iso) {
  return iso ? iso.slice(0, 16).replace("T", " ") : "–";
}

function containerLink(no) {
  const a = el("a", no, "container");
  a.href = "#" + encodeURIComponent(no);
  return a;
}

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json();
  return { status: response.status, body };
}

function renderOverview(data) {
  document.getElementById("h-now").textContent = when(data.now);
  const h = data.health;
  document.getElementById("h-events").textContent = h.events_per_second;
  document.getElementById("h-rejected").textContent = h.rejected_per_second;
  document.getElementById("h-lag").textContent = h.lag_records;
  const ready = document.getElementById("h-ready");
  ready.textContent = data.ready ? "ready" : "not ready";

  const head = document.querySelector("#stages thead tr");
  if (head.children.length === 2) for (const s of STAGES) head.append(el("th", s.replace("_", " ")));
  const groups = new Map();
  for (const r of data.stages) {
    const key = `${r.site}\u0000${r.direction}`;
    if (!groups.has(key)) groups.set(key, { site: r.site, direction: r.direction, stages: {} });
    groups.get(key).stages[r.stage] = r;
  }
  const body = document.querySelector("#stages tbody");
  body.replaceChildren();
  for (const g of [...groups.values()].sort((a, b) => (a.site + a.direction).localeCompare(b.site + b.direction))) {
    const cells = [el("td", g.site), el("td", g.direction)];
    for (const s of STAGES) {
      const r = g.stages[s];
      const td = num(r ? r.containers : 0);
      td.dataset.stage = s;
      if (r && r.stalled) {
        td.append(" ");
        td.append(el("span", `(${r.stalled} stalled)`, "stalled"));
      }
      cells.push(td);
    }
    body.append(row(cells));
  }
}

function renderStalled(data) {
  const body = document.querySelector("#stalled tbody");
  body.replaceChildren();
  for (const s of data.stalled) {
    const link = el("td");
    link.append(containerLink(s.container_no));
    body.append(row([link, el("td", s.site), el("td", s.direction), el("td", s.stage),
      el("td", when(s.since)), num(duration(s.age_seconds), "stalled")]));
  }
  document.getElementById("stalled-count").textContent = data.stalled.length ? `(${data.stalled.length})` : "";
  document.getElementById("stalled-empty").hidden = data.stalled.length > 0;
}

function renderReleases(data) {
  const body = document.querySelector("#releases tbody");
  body.replaceChildren();
  for (const g of data.groups) {
    body.append(row([el("td", g.site), el("td", g.direction), num(g.count),
      num(duration(g.p50_seconds)), num(duration(g.p90_seconds)), num(duration(g.mean_seconds))]));
  }
  const chart = document.getElementById("histogram");
  chart.replaceChildren();
  const counts = data.histogram.counts;
  const max = Math.max(1, ...Object.values(counts).flat());
  for (const [direction, values] of Object.entries(counts)) {
    const bars = el("div", undefined, "bars");
    bars.append(el("strong", direction), el("span"), el("span"));
    data.histogram.buckets.forEach((label, i) => {
      const bar = el("div", undefined, `bar ${direction}`);
      bar.style.width = `${(100 * values[i]) / max}%`;
      bars.append(el("span", label), bar, el("span", values[i]));
    });
    chart.append(bars);
  }
}

function renderAlerts(data) {
  const body = document.querySelector("#alerts tbody");
  body.replaceChildren();
  for (const a of data.alerts) {
    const severity = el("td");
    severity.append(el("span", a.severity, `badge ${a.severity}`));
    const status = el("td");
    status.append(el("span", a.status, a.status === "resolved" ? "badge resolved" : "badge"));
    const link = el("td");
    link.append(containerLink(a.container_no));
    body.append(row([severity, status, el("td", a.kind), link, el("td", a.site),
      el("td", a.stage), el("td", when(a.detected_at)), el("td", a.detail)]));
  }
}

function renderVisit(visit) {
  const box = el("div", undefined, "visit");
  box.append(el("h3", `${visit.site} · ${visit.direction} · ${visit.stage}`));
  const facts = document.createElement("dl");
  const pairs = [
    ["arrived", when(visit.arrived_at)], ["eligible", when(visit.eligible_at)],
    ["exited", when(visit.exited_at)], ["stage since", when(visit.stage_since)],
    ["channel", visit.channel], ["declarations", visit.declaration_nos.join(", ") || "–"],
    ["seal", visit.seal_no || "–"], ["alerts firing", visit.alerts_firing.join(", ") || "none"],
  ];
  for (const [k, v] of pairs) facts.append(el("dt", k), el("dd", v));
  box.append(facts);
  const table = el("table");
  table.append(row(["occurred", "event", "detail", "seal", "declaration"].map((h) => el("th", h))));
  for (const e of visit.timeline) {
    table.append(row([el("td", when(e.occurred_at)), el("td", e.type), el("td", e.value || ""),
      el("td", e.seal_no || ""), el("td", e.declaration_no || "")]));
  }
  box.append(table);
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
    error.textContent = status === 404 ? "No visit held for this container." : body.detail || body.error;
    return;
  }
  for (const visit of [...body.visits].reverse()) visits.append(renderVisit(visit));
}

async function refresh() {
  const hours = document.getElementById("hours").value;
  const jobs = [
    getJSON("/api/overview").then((r) => renderOverview(r.body)),
    getJSON("/api/stalled?limit=100").then((r) => renderStalled(r.body)),
    getJSON("/api/releases?hours=" + hours).then((r) => renderReleases(r.body)),
    getJSON("/api/alerts?limit=30").then((r) => renderAlerts(r.body)),
  ];
  const results = await Promise.allSettled(jobs);
  document.body.dataset.loaded = results.every((r) => r.status === "fulfilled") ? "yes" : "partly";
}

function fromHash() {
  const no = decodeURIComponent(location.hash.slice(1));
  document.getElementById("container").value = no;
  lookup(no).catch((e) => console.error(e));
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("search").addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = encodeURIComponent(document.getElementById("container").value.trim().toUpperCase());
  });
  document.getElementById("lookup-close").addEventListener("click", () => { location.hash = ""; });
  document.getElementById("hours").addEventListener("change", () => refresh());
  window.addEventListener("hashchange", fromHash);
  if (location.hash.length > 1) fromHash();
  refresh();
  setInterval(refresh, REFRESH_MS);
});
