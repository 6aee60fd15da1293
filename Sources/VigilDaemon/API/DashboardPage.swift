/// The live dashboard served at `GET /` (docs/api.md): one HTML page with its CSS and JS inline,
/// no CDN and no build step. It asks for the API token once and polls the API.
enum DashboardPage {
    static let html: String = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:">
<link rel="icon" href="data:,">
<title>vigil</title>
<style>
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: #f4f5f7; color: #1d2330; }
  header { display: flex; gap: 1em; align-items: baseline; padding: .6em 1.2em; background: #1d2330; color: #fff; }
  header h1 { margin: 0; font-size: 1.3em; }
  #status { flex: 1; color: #b8c0d0; font-size: .9em; }
  #status.err { color: #ff9d92; }
  header button { background: none; color: #b8c0d0; border: 1px solid #4a5266; border-radius: 4px; cursor: pointer; }
  main { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 1em; padding: 1em 1.2em; }
  @media (max-width: 900px) { main { grid-template-columns: minmax(0, 1fr); } }
  section { background: #fff; border-radius: 6px; padding: .6em 1em 1em; margin-bottom: 1em; box-shadow: 0 1px 2px #0002; }
  h2 { font-size: 1em; margin: .3em 0 .6em; color: #4a5266; text-transform: uppercase; letter-spacing: .05em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: right; padding: .25em .5em; border-bottom: 1px solid #e6e8ee; white-space: nowrap; }
  th:first-child, td:first-child { text-align: left; white-space: normal; overflow-wrap: anywhere; }
  td.hot { color: #c0392b; font-weight: 600; }
  #login { max-width: 24em; margin: 4em auto; }
  #login input { width: 100%; box-sizing: border-box; padding: .4em; margin: .4em 0; }
  #auth-error { color: #c0392b; min-height: 1.4em; }
  #charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: .8em; }
  figure { margin: 0; border: 1px solid #e6e8ee; border-radius: 4px; padding: .3em .5em; }
  figcaption { display: flex; justify-content: space-between; gap: .5em; font-size: .85em; }
  figcaption b { overflow-wrap: anywhere; }
  figcaption span { color: #6b7385; white-space: nowrap; }
  svg { display: block; width: 100%; height: 60px; background: #fafbfc; }
  .legend span { margin-right: 1em; font-size: .85em; }
  .legend i { display: inline-block; width: .8em; height: .8em; margin-right: .3em; border-radius: 2px; }
  ul, ol { margin: 0; padding-left: 1.4em; }
  #alerts { list-style: none; padding: 0; }
  #alerts li { border-left: 4px solid #e0a800; padding: .3em .6em; margin-bottom: .5em; background: #fffbea; overflow-wrap: anywhere; }
  #alerts li.sev-critical { border-color: #c0392b; background: #fdeeee; }
  #alerts li.sev-info { border-color: #4e9af1; background: #eef5fe; }
  .sev { font-size: .75em; text-transform: uppercase; font-weight: 700; margin-right: .5em; }
  .meta, .empty { color: #6b7385; font-size: .85em; }
  #top-ips li { overflow-wrap: anywhere; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: .1em 1em; margin: 0 0 .8em; }
  dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
  #rules { margin-bottom: .8em; }
</style>
</head>
<body>
<header><h1>vigil</h1><span id="status">not connected</span><button id="logout" hidden>forget token</button></header>

<section id="login" hidden>
  <h2>API token</h2>
  <form id="login-form">
    <input id="token" type="password" autocomplete="off" placeholder="bearer token">
    <button id="connect" type="submit">Connect</button>
  </form>
  <p id="auth-error"></p>
</section>

<main id="dash" hidden>
  <div>
    <section><h2>Hosts</h2>
      <table id="hosts"><thead><tr><th>Host</th><th>msg/s</th><th>ssh fail/s</th><th>HTTP hits/s</th><th>Last seen</th><th>Messages</th></tr></thead><tbody></tbody></table>
    </section>
    <section><h2>Rates over time</h2><p class="legend" id="legend"></p><div id="charts"></div></section>
  </div>
  <div>
    <section><h2>Firing alerts</h2><ul id="alerts"></ul></section>
    <section><h2>Top IPs</h2><ol id="top-ips"></ol></section>
    <section><h2>Stats</h2><dl id="totals"></dl>
      <table id="rules"><thead><tr><th>Rule</th><th>Fired</th><th>Resolved</th></tr></thead><tbody></tbody></table>
      <table id="sinks"><thead><tr><th>Sink</th><th>Delivered</th><th>Dropped</th></tr></thead><tbody></tbody></table>
    </section>
  </div>
</main>

<script>
"use strict";
// Everything from the API is untrusted (host names and summaries come from syslog senders):
// it only ever reaches the page through textContent, dataset and numeric SVG attributes.
const $ = (id) => document.getElementById(id);
const INTERVAL_MS = 2000, HISTORY = 150;
const SERIES = [["messages", "messages/s", "#4e9af1"], ["ssh_failures", "ssh failures/s", "#e0483a"], ["http_hits", "HTTP hits/s", "#3aa05a"]];
const SVG_NS = "http://www.w3.org/2000/svg";
let gen = 0;               // bumped on every connect and logout; answers to older polls are dropped
let prev = null;           // previous poll: {t, hosts: Map(name -> host)}
const history = new Map(); // host name -> {messages: [], ssh_failures: [], http_hits: []} rates per poll

class AuthError extends Error {}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
const num = (v) => (Number.isFinite(Number(v)) ? Number(v) : 0);
const fmtInt = (v) => num(v).toLocaleString();
const fmtRate = (v) => (v === null ? "–" : v.toFixed(v >= 100 ? 0 : 1));
function fmtTime(s) {
  if (s === null || s === undefined) return "never";
  const d = new Date(String(s));
  return isNaN(d) ? String(s) : d.toLocaleString();
}
function setStatus(text, isError) { $("status").textContent = text; $("status").className = isError ? "err" : ""; }
function row(cells) { const tr = el("tr"); for (const c of cells) tr.append(c instanceof Node ? c : el("td", c)); return tr; }

function showLogin(message) {
  gen++;
  sessionStorage.removeItem("vigilToken");
  $("dash").hidden = true; $("logout").hidden = true; $("login").hidden = false;
  $("auth-error").textContent = message || "";
  setStatus("not connected", false);
  $("token").value = "";
  $("token").focus();
}

function start() {
  $("login").hidden = true; $("dash").hidden = false; $("logout").hidden = false;
  $("auth-error").textContent = "";
  prev = null; history.clear();
  setStatus("connecting…", false);
  poll(++gen);
}

async function getJSON(path, token) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
  if (r.status === 401) throw new AuthError();
  let body = null;
  try { body = await r.json(); } catch (_) { /* reported below */ }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status + (body && body.error ? " (" + body.error + ")" : ""));
  if (!body || typeof body !== "object" || !("data" in body)) throw new Error(path + ": unexpected answer");
  return body.data;
}

async function poll(g) {
  const token = sessionStorage.getItem("vigilToken");
  if (g !== gen || !token) return;
  try {
    const [hosts, alerts, stats] = await Promise.all([
      getJSON("/hosts", token), getJSON("/alerts?state=firing&count=50", token), getJSON("/stats", token)]);
    if (g !== gen) return;
    render(Array.isArray(hosts) ? hosts : [], Array.isArray(alerts) ? alerts : [], stats || {});
    setStatus("updated " + new Date().toLocaleTimeString(), false);
  } catch (e) {
    if (g !== gen) return;
    if (e instanceof AuthError) { showLogin("The API answered 401: missing or wrong token. Enter it again."); return; }
    setStatus("error: " + e.message, true);
  }
  setTimeout(() => poll(g), INTERVAL_MS);
}

function render(hosts, alerts, stats) {
  const now = performance.now();
  const current = new Map(hosts.map((h) => [String(h.host), h]));
  const rates = new Map();
  for (const [name, h] of current) {
    const p = prev && prev.hosts.get(name);
    const dt = prev ? (now - prev.t) / 1000 : 0;
    const r = {};
    if (!history.has(name)) history.set(name, { messages: [], ssh_failures: [], http_hits: [] });
    for (const [key] of SERIES) {
      const d = p ? num(h[key]) - num(p[key]) : -1;
      r[key] = d >= 0 && dt > 0 ? d / dt : null; // first poll or counter reset: no rate
      if (r[key] !== null) {
        const s = history.get(name)[key];
        s.push(r[key]);
        if (s.length > HISTORY) s.shift();
      }
    }
    rates.set(name, r);
  }
  for (const name of history.keys()) if (!current.has(name)) history.delete(name);
  prev = { t: now, hosts: current };
  renderHosts(current, rates);
  renderCharts(current);
  renderAlerts(alerts);
  renderStats(stats);
}

function renderHosts(current, rates) {
  const rows = [];
  for (const [name, h] of current) {
    const r = rates.get(name);
    const cells = [el("td", name)];
    for (const [key] of SERIES) cells.push(el("td", fmtRate(r[key]), key === "ssh_failures" && r[key] > 0 ? "hot" : ""));
    cells.push(el("td", fmtTime(h.last_seen)), el("td", fmtInt(h.messages)));
    const tr = row(cells);
    tr.dataset.host = name;
    rows.push(tr);
  }
  if (!rows.length) rows.push(row([el("td", "no hosts yet", "empty")]));
  $("hosts").tBodies[0].replaceChildren(...rows);
}

// One small SVG per host: the three rates on a shared scale, newest sample at the right.
function chart(samples) {
  const W = HISTORY - 1, H = 60;
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  svg.setAttribute("preserveAspectRatio", "none");
  let max = 0;
  for (const [key] of SERIES) for (const v of samples[key]) max = Math.max(max, v);
  for (const [key, , color] of SERIES) {
    const vals = samples[key], offset = W - (vals.length - 1);
    const line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("points", vals.map((v, i) => (offset + i) + "," + (H - 1 - (v / (max || 1)) * (H - 4)).toFixed(2)).join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", color);
    line.setAttribute("stroke-width", "1.5");
    line.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(line);
  }
  return [svg, max];
}

function renderCharts(current) {
  const figures = [];
  for (const name of current.keys()) {
    const [svg, max] = chart(history.get(name));
    const cap = el("figcaption");
    const n = history.get(name).messages.length;
    cap.append(el("b", name), el("span", n < 2 ? "collecting…" : "max " + fmtRate(max) + "/s"));
    const fig = el("figure");
    fig.dataset.host = name;
    fig.append(cap, svg);
    figures.push(fig);
  }
  $("charts").replaceChildren(...figures);
}

function renderAlerts(alerts) {
  const items = alerts.map((a) => {
    const sev = String(a.severity);
    const li = el("li", null, ["critical", "warning", "info"].includes(sev) ? "sev-" + sev : "");
    li.dataset.rule = String(a.rule);
    const head = el("div");
    head.append(el("span", sev, "sev"), el("strong", a.rule));
    const where = [a.host === null || a.host === undefined ? null : "host " + a.host,
                   a.ip === null || a.ip === undefined ? null : "ip " + a.ip,
                   num(a.count) + " in " + num(a.window_s) + " s", fmtTime(a.ts)];
    li.append(head, el("div", a.summary), el("div", where.filter((w) => w !== null).join(" · "), "meta"));
    return li;
  });
  if (!items.length) items.push(el("li", "No firing alerts", "empty"));
  $("alerts").replaceChildren(...items);
}

function renderStats(stats) {
  const ips = (Array.isArray(stats.top_ips) ? stats.top_ips : []).map((t) => el("li", t.ip + " — " + fmtInt(t.hits) + " hits"));
  if (!ips.length) ips.push(el("li", "none yet", "empty"));
  $("top-ips").replaceChildren(...ips);

  const totals = [];
  const add = (label, value) => totals.push(el("dt", label), el("dd", value));
  add("received", fmtInt(stats.received));
  if ("bytes" in stats) add("bytes", fmtInt(stats.bytes));
  if ("parse_errors" in stats) add("parse errors", fmtInt(stats.parse_errors));
  add("uptime", fmtInt(stats.uptime_seconds) + " s");
  $("totals").replaceChildren(...totals);

  const rules = Array.isArray(stats.rules) ? stats.rules : [];
  $("rules").tBodies[0].replaceChildren(...rules.map((r) => row([r.rule, fmtInt(r.fired), fmtInt(r.resolved)])));
  const sinks = Array.isArray(stats.sinks) ? stats.sinks : [];
  $("sinks").tBodies[0].replaceChildren(...sinks.map((s) => row([s.name, fmtInt(s.delivered), fmtInt(s.dropped)])));
}

// Legend (static), token form, and the first screen.
for (const [, label, color] of SERIES) {
  const swatch = el("i");
  swatch.style.background = color;
  const item = el("span");
  item.append(swatch, label);
  $("legend").append(item);
}
$("legend").append(el("span", "last " + HISTORY * INTERVAL_MS / 60000 + " min, newest at the right", "meta"));
$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const token = $("token").value.trim();
  if (!token) { $("auth-error").textContent = "Enter the API token."; return; }
  sessionStorage.setItem("vigilToken", token);
  start();
});
$("logout").addEventListener("click", () => showLogin(""));
if (sessionStorage.getItem("vigilToken")) start(); else showLogin("");
</script>
</body>
</html>
"""#
}
