// inferd dashboard, for the node and the gateway: asks GET /dashboard/mode.json which one
// serves it, then every second polls GET /v2/models/stats (node: models and workers) or
// GET /gateway/nodes (gateway: a row per node), turns counters into rates and draws them on
// small canvas line charts (our own code: no library, no network). The state is on
// window.inferdDashboard for tests and curious operators.
"use strict";

const POLL_MS = 1000;
const KEEP_POINTS = 120;
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const ERROR_REASONS = ["bad_request", "rejected_429", "rejected_503", "timeout", "cancelled", "worker_failure"];

const state = {
  mode: null, // "node" or "gateway", from /dashboard/mode.json
  polls: 0,
  errors: 0,
  prev: null, // {t, models: {key: stats}}
  charts: {},
};
window.inferdDashboard = state;

// ---- charts ---------------------------------------------------------------------------------
function chart(id) {
  const c = { canvas: document.getElementById(id), series: {} };
  state.charts[id.replace("chart-", "")] = c;
  return c;
}
const charts = {
  throughput: chart("chart-throughput"),
  latency: chart("chart-latency"),
  queue: chart("chart-queue"),
  batch: chart("chart-batch"),
  errors: chart("chart-errors"),
};

function addPoint(c, name, t, v) {
  let s = c.series[name];
  if (!s) s = c.series[name] = { points: [] };
  s.points.push([t, Number.isFinite(v) ? v : 0]);
  if (s.points.length > KEEP_POINTS) s.points.shift();
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmt(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (v >= 1e3) return (v / 1e3).toFixed(1) + "k";
  if (v >= 10 || v === 0) return v.toFixed(0);
  return String(parseFloat(v.toFixed(v >= 1 ? 2 : 3)));
}

function draw(c) {
  const ctx = c.canvas.getContext("2d");
  const W = c.canvas.width, H = c.canvas.height;
  const names = Object.keys(c.series).sort();
  const legendRows = Math.ceil(names.length / 3);
  const L = 44, R = 8, T = 8, B = 16 + 11 * Math.max(1, legendRows);
  ctx.clearRect(0, 0, W, H);
  let tmin = Infinity, tmax = -Infinity, vmax = 0;
  for (const n of names)
    for (const [t, v] of c.series[n].points) {
      tmin = Math.min(tmin, t); tmax = Math.max(tmax, t); vmax = Math.max(vmax, v);
    }
  vmax = niceMax(vmax);
  if (!(tmax > tmin)) { tmin = Date.now() - KEEP_POINTS * POLL_MS; tmax = Date.now(); }
  const x = (t) => L + (W - L - R) * (t - tmin) / (tmax - tmin);
  const y = (v) => H - B - (H - T - B) * v / vmax;
  ctx.strokeStyle = "#ccd"; ctx.fillStyle = "#556"; ctx.font = "10px sans-serif"; ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const v = vmax * i / 4;
    ctx.beginPath(); ctx.moveTo(L, y(v)); ctx.lineTo(W - R, y(v)); ctx.stroke();
    ctx.fillText(fmt(v), 2, y(v) + 3);
  }
  names.forEach((n, i) => {
    const pts = c.series[n].points;
    ctx.strokeStyle = COLORS[i % COLORS.length]; ctx.lineWidth = 1.5;
    ctx.beginPath();
    pts.forEach(([t, v], k) => (k ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
    ctx.stroke();
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillText(n, L + 4 + (i % 3) * 140, H - B + 22 + Math.floor(i / 3) * 11);
  });
}

// ---- tables ---------------------------------------------------------------------------------
function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}

function renderTables(rows) {
  const mb = document.querySelector("#models tbody");
  const wb = document.querySelector("#workers tbody");
  mb.replaceChildren();
  wb.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.dataset.model = r.name;
    const lat = r.lat || {};
    const ms = (v) => (v == null ? "-" : (v / 1e3).toFixed(2));
    cell(tr, r.name); cell(tr, r.version); cell(tr, fmt(r.rate));
    cell(tr, ms(lat.p50)); cell(tr, ms(lat.p90)); cell(tr, ms(lat.p99));
    cell(tr, String(r.inferd.queue_len)); cell(tr, String(r.inferd.batches_in_flight));
    cell(tr, r.inferd.avg_batch_rows.toFixed(2));
    const oc = r.inferd.outcomes || {};
    cell(tr, String(oc.success || 0));
    cell(tr, String(ERROR_REASONS.reduce((a, k) => a + (oc[k] || 0), 0)));
    mb.appendChild(tr);
    const list = (r.inferd.workers && r.inferd.workers.list) || [];
    list.forEach((w, i) => {
      const wr = document.createElement("tr");
      wr.dataset.model = r.name; wr.dataset.row = String(i);
      wr.dataset.pid = String(w.pid); wr.dataset.state = w.state;
      cell(wr, r.name); cell(wr, String(i)); cell(wr, String(w.pid));
      cell(wr, w.state, "state-" + w.state); cell(wr, String(w.restarts));
      cell(wr, String(w.batches_in_hand));
      wb.appendChild(wr);
    });
  }
}

// ---- latency of the last interval ------------------------------------------------------------
// q-quantile (0..1) of the requests answered between two polls, from the difference of the
// node's request histogram (inferd.latency_hist_us: upper bounds in us, per-bucket counts with
// +Inf last), linear within a bucket as Prometheus' histogram_quantile; null when none.
function windowQuantile(cur, prev, q) {
  if (!cur || !cur.le || !cur.counts) return null;
  const d = cur.counts.map((c, i) => Math.max(0, c - ((prev && prev.counts && prev.counts[i]) || 0)));
  const total = d.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < cur.le.length; i++) {
    if (d[i] > 0 && below + d[i] >= rank) {
      const lo = i === 0 ? 0 : cur.le[i - 1];
      return lo + (cur.le[i] - lo) * Math.max(0, (rank - below) / d[i]);
    }
    below += d[i];
  }
  return cur.le[cur.le.length - 1]; // in the +Inf bucket
}

// ---- gateway mode: a row per node from /gateway/nodes ----------------------------------------
function nodeState(n) {
  return !n.present ? "absent" : n.ready ? "ready" : "not ready";
}

function renderNodes(rows) {
  const tb = document.querySelector("#nodes tbody");
  tb.replaceChildren();
  for (const n of rows) {
    const tr = document.createElement("tr");
    const st = nodeState(n);
    tr.dataset.node = n.address; tr.dataset.state = st; tr.dataset.breaker = n.breaker;
    tr.dataset.ready = String(n.ready);
    cell(tr, n.address); cell(tr, st, n.ready ? "ready-yes" : "ready-no");
    cell(tr, n.breaker, "breaker-" + n.breaker); cell(tr, String(n.in_flight));
    cell(tr, fmt(n.rate));
    cell(tr, (n.latency_ms.p50 || 0).toFixed(2)); cell(tr, (n.latency_ms.p99 || 0).toFixed(2));
    cell(tr, String(n.failures));
    cell(tr, n.models ? n.models.join(", ") : "(all)", "models");
    tb.appendChild(tr);
  }
}

function updateGateway(json, t) {
  const nodes = {};
  for (const n of json.nodes || []) nodes[n.address] = n;
  const prev = state.prev;
  const dt = prev ? (t - prev.t) / 1000 : 0;
  const rows = [];
  for (const [addr, n] of Object.entries(nodes)) {
    const p = prev && prev.nodes[addr];
    const rate = p && dt > 0 ? Math.max(0, n.requests - p.requests) / dt : 0;
    rows.push(Object.assign({ rate }, n));
    if (!p) continue;
    addPoint(charts.throughput, addr, t, rate);
    addPoint(charts.latency, addr + " p50", t, n.latency_ms.p50 || 0);
    addPoint(charts.latency, addr + " p99", t, n.latency_ms.p99 || 0);
  }
  state.prev = { t, nodes };
  renderNodes(rows);
  draw(charts.throughput);
  draw(charts.latency);
}

// ---- node mode: models and workers from /v2/models/stats --------------------------------------
function updateNode(json, t) {
  const models = {};
  for (const m of json.model_stats || []) models[m.name + "/" + m.version] = m;
  const prev = state.prev;
  const dt = prev ? (t - prev.t) / 1000 : 0;
  const rows = [];
  for (const [key, m] of Object.entries(models)) {
    const p = prev && prev.models[key];
    const d = (f) => (p && dt > 0 ? Math.max(0, f(m) - f(p)) / dt : 0);
    const rate = d((s) => s.inference_count);
    const execs = p ? m.execution_count - p.execution_count : 0;
    const batch = execs > 0 ? (m.inference_count - p.inference_count) / execs : 0;
    // latency of the last interval when the node gives its histogram, else since start
    const hc = m.inferd.latency_hist_us, hp = p && p.inferd.latency_hist_us;
    const win = {};
    for (const [k, q] of [["p50", 0.5], ["p90", 0.9], ["p99", 0.99]]) win[k] = p ? windowQuantile(hc, hp, q) : null;
    const lat = hc && p ? win : m.inferd.latency_us || {};
    rows.push(Object.assign({ rate, lat }, m));
    if (!p) continue; // rates need two polls
    addPoint(charts.throughput, m.name, t, rate);
    if (lat.p50 != null) addPoint(charts.latency, m.name + " p50", t, lat.p50 / 1e3);
    if (lat.p99 != null) addPoint(charts.latency, m.name + " p99", t, lat.p99 / 1e3);
    addPoint(charts.queue, m.name, t, m.inferd.queue_len);
    addPoint(charts.batch, m.name, t, batch);
    const oc = m.inferd.outcomes || {}, po = p.inferd.outcomes || {};
    for (const k of ERROR_REASONS) {
      const v = dt > 0 ? Math.max(0, (oc[k] || 0) - (po[k] || 0)) / dt : 0;
      if (v > 0 || charts.errors.series[m.name + " " + k]) addPoint(charts.errors, m.name + " " + k, t, v);
    }
  }
  state.prev = { t, models };
  renderTables(rows);
  for (const c of Object.values(charts)) draw(c);
}

// ---- polling --------------------------------------------------------------------------------
const MODES = {
  node: { source: "/v2/models/stats", update: updateNode, title: "inferd" },
  gateway: { source: "/gateway/nodes", update: updateGateway, title: "inferd gateway",
             throughput: "Requests/s per node" },
};

async function getJson(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error("HTTP " + r.status);
  return r.json();
}

// Shows the elements of mode m (data-mode="m"), hides the other mode's.
function enterMode(m) {
  state.mode = m;
  const md = MODES[m];
  for (const el of document.querySelectorAll("[data-mode]")) el.hidden = el.dataset.mode !== m;
  document.getElementById("title").textContent = md.title;
  document.title = md.title + " dashboard";
  if (md.throughput) document.getElementById("caption-throughput").textContent = md.throughput;
}

async function poll() {
  const t = Date.now();
  const status = document.getElementById("status");
  try {
    if (!state.mode) {
      const m = (await getJson("/dashboard/mode.json")).mode;
      enterMode(MODES[m] ? m : "node");
    }
    MODES[state.mode].update(await getJson(MODES[state.mode].source), t);
    state.polls++;
    status.textContent = "live";
    status.className = "status ok";
    document.getElementById("updated").textContent = "updated " + new Date(t).toLocaleTimeString();
  } catch (e) {
    // the server restarting or unreachable is a state to show, not a page error
    state.errors++;
    status.textContent = "unreachable (" + e.message + ")";
    status.className = "status down";
  }
  setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - t)));
}

poll();
