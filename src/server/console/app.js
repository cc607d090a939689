// app.js — the mnemo console (GET /): the embeddings tab (similarity heatmaps
// and how ranking changes between two prompts or dimensions), the memories
// tab (add with a prompt from GET /info, search, history, delete) and the status tab (GET /v1/status,
// refreshed live). No framework, nothing loaded from elsewhere. An API key,
// when the server asks for one (401), lives only in the variable apiKey:
// never in localStorage or a cookie, gone when the tab reloads. Loaded after
// dom.js ($ and el).
"use strict";

let apiKey = null;
let pendingRetry = null; // what to run again once a key is given
let storeOn = null; // from /v1/status: the memory routes exist (--data-dir)

function say(id, text, kind) {
  const p = $(id);
  p.textContent = text;
  p.className = "msg" + (kind ? " " + kind : "");
}

class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error;
    super(typeof e === "string" ? e : e && e.message ? e.message : "HTTP " + status);
    this.status = status;
    this.code = e && e.code;
  }
}

// One request to the server; a 401 shows the key form and remembers `retry`.
async function api(method, path, body, retry) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (apiKey) headers["Authorization"] = "Bearer " + apiKey;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (res.status === 401) {
    askKey(apiKey ? "That key was refused; try another." : "", retry);
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function askKey(message, retry) {
  pendingRetry = retry || pendingRetry;
  $("key-box").hidden = false;
  say("key-msg", message, message ? "bad" : "");
  $("key-input").focus();
}

$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  apiKey = $("key-input").value.trim() || null;
  $("key-input").value = "";
  $("key-box").hidden = true;
  const again = pendingRetry;
  pendingRetry = null;
  loadInfo();
  if (again) again();
});

// ------------------------------------------------------------------ tabs
const tabs = ["embed", "memories", "status"];
function showTab(name, focus) {
  for (const t of tabs) {
    const on = t === name;
    $("tab-" + t).setAttribute("aria-selected", on ? "true" : "false");
    $("tab-" + t).tabIndex = on ? 0 : -1;
    $("panel-" + t).hidden = !on;
  }
  if (focus) $("tab-" + name).focus();
  if (name === "status") refreshStatus();
}
tabs.forEach((t, i) => {
  $("tab-" + t).addEventListener("click", () => showTab(t, false));
  $("tab-" + t).addEventListener("keydown", (ev) => {
    // arrow keys move between tabs (the WAI-ARIA tabs pattern)
    if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
      const j = (i + (ev.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length;
      showTab(tabs[j], true);
      ev.preventDefault();
    }
  });
});

// ------------------------------------------------------------ embeddings
async function loadInfo() {
  try {
    const info = await api("GET", "/info", undefined, loadInfo);
    const names = Object.keys(info.prompts || {});
    for (const id of ["prompt-a", "prompt-b"]) {
      const sel = $(id), keep = sel.value;
      sel.replaceChildren(el("option", { value: "", text: "(no prompt)" }));
      for (const n of names) sel.append(el("option", { value: n, text: n, title: info.prompts[n] }));
      if (keep && names.includes(keep)) sel.value = keep;
    }
    if (!$("prompt-a").value && names.includes("STS")) $("prompt-a").value = "STS";
    if (names.includes("query")) $("prompt-b").value = "query";
    // the add form's prompt_name: "" (none given) embeds with the document prompt
    const addSel = $("add-prompt"), addKeep = addSel.value;
    addSel.replaceChildren(el("option", { value: "", text: "document (the default)" }));
    for (const n of names) if (n !== "document") addSel.append(el("option", { value: n, text: n, title: info.prompts[n] }));
    if (names.includes(addKeep)) addSel.value = addKeep;
    // EmbeddingGemma's trained Matryoshka sizes; another model: halvings of its width
    let dims = [768, 512, 256, 128].filter((d) => d <= info.dimensions);
    if (info.dimensions !== 768) dims = [1, 2, 4, 8].map((f) => Math.floor(info.dimensions / f)).filter((d) => d >= 1);
    for (const id of ["dim-a", "dim-b"]) {
      const sel = $(id), keep = sel.value;
      sel.replaceChildren(...dims.map((d) => el("option", { text: String(d) })));
      sel.value = dims.includes(Number(keep)) ? keep : String(id === "dim-a" ? dims[0] : dims[dims.length - 1]);
    }
  } catch (e) {
    if (e.status !== 401) say("embed-msg", "GET /info: " + e.message, "bad");
  }
}

$("compare").addEventListener("change", () => {
  $("prompt-b-field").hidden = $("compare").value !== "prompt";
  $("dim-b-field").hidden = $("compare").value !== "dim";
});

async function embed(texts, prompt, dim) {
  const body = { input: texts, dimensions: Number(dim) };
  if (prompt) body.task = prompt;
  const r = await api("POST", "/v1/embeddings", body, runEmbed);
  return r.data.sort((a, b) => a.index - b.index).map((d) => d.embedding);
}

// Cosine similarity (the vectors come normalized, but a dot over the norms
// costs nothing and stays right if they are not).
function similarity(vs) {
  const norm = vs.map((v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1);
  return vs.map((a, i) => vs.map((b, j) => a.reduce((s, x, k) => s + x * b[k], 0) / (norm[i] * norm[j])));
}

// -1 blue, 0 white, 1 red: a diverging scale, the number always shown too.
function colour(v) {
  const t = Math.max(-1, Math.min(1, v));
  const r = t > 0 ? 255 : Math.round(255 * (1 + t));
  const b = t < 0 ? 255 : Math.round(255 * (1 - t));
  const g = Math.round(255 * (1 - Math.abs(t)));
  return "rgb(" + r + "," + g + "," + b + ")";
}

function short(s, n) { return s.length > n ? s.slice(0, n - 1) + "…" : s; }

function drawMatrix(boxId, texts, sim) {
  const table = el("table", { "aria-label": "cosine similarity of every pair of texts" });
  const head = el("tr", {}, el("th", { scope: "col", text: "" }));
  texts.forEach((t, j) => head.append(el("th", { scope: "col", title: t, text: "#" + (j + 1) })));
  table.append(el("thead", {}, head));
  const body = el("tbody");
  sim.forEach((row, i) => {
    const tr = el("tr", {}, el("th", { scope: "row", title: texts[i], text: "#" + (i + 1) }));
    row.forEach((v, j) => {
      const label = "#" + (i + 1) + " · #" + (j + 1) + ": " + v.toFixed(4);
      const td = el("td", { tabindex: "0", title: label, "aria-label": label, "data-value": v.toFixed(6), text: v.toFixed(2) });
      td.style.backgroundColor = colour(v);
      td.style.color = Math.abs(v) > 0.6 ? "#fff" : "#1b1f24";
      const show = () => { $("cell-info").textContent = "#" + (i + 1) + " “" + short(texts[i], 60) + "” · #" + (j + 1) + " “" + short(texts[j], 60) + "”: " + v.toFixed(4); };
      td.addEventListener("mouseenter", show);
      td.addEventListener("focus", show);
      tr.append(td);
    });
    body.append(tr);
  });
  table.append(body);
  $(boxId).replaceChildren(table);
}

// For each text, the others best first; and how far each moves between a and b.
function ranking(sim) {
  return sim.map((row, i) => row.map((v, j) => [j, v]).filter(([j]) => j !== i).sort((x, y) => y[1] - x[1]).map(([j]) => j));
}

function drawRanking(texts, simA, simB, nameA, nameB) {
  const ra = ranking(simA), rb = ranking(simB);
  const table = $("ranking-table");
  table.replaceChildren(el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "text" }),
    el("th", { scope: "col", text: "nearest first: " + nameA }), el("th", { scope: "col", text: "nearest first: " + nameB }))));
  const body = el("tbody");
  let moved = 0, total = 0, top1 = 0;
  texts.forEach((t, i) => {
    const a = ra[i], b = rb[i];
    const cellB = el("td");
    b.forEach((j, pos) => {
      const changed = a[pos] !== j;
      if (changed) moved++;
      total++;
      cellB.append(el("span", { class: changed ? "changed" : "", text: "#" + (j + 1) }), pos < b.length - 1 ? ", " : "");
    });
    if (a[0] !== b[0]) top1++;
    body.append(el("tr", {}, el("th", { scope: "row", title: t, text: "#" + (i + 1) + " " + short(t, 40) }),
      el("td", { text: a.map((j) => "#" + (j + 1)).join(", ") }), cellB));
  });
  table.append(body);
  let diff = 0, n = 0;
  simA.forEach((row, i) => row.forEach((v, j) => { if (i < j) { diff += Math.abs(v - simB[i][j]); n++; } }));
  $("ranking-summary").textContent = top1 + " of " + texts.length + " texts change their nearest neighbour; " + moved + " of " + total +
    " ranked places differ (in red); mean |Δ similarity| " + (n ? (diff / n).toFixed(4) : "0") + ".";
  $("ranking").hidden = false;
}

async function runEmbed() {
  const texts = $("texts").value.split("\n").map((s) => s.trim()).filter((s) => s);
  if (texts.length < 2) { say("embed-msg", "Give at least two texts, one per line.", "bad"); return; }
  if (texts.length > 32) { say("embed-msg", "At most 32 texts here (the API takes more).", "bad"); return; }
  const mode = $("compare").value;
  const pa = $("prompt-a").value, da = $("dim-a").value;
  const pb = mode === "prompt" ? $("prompt-b").value : pa, db = mode === "dim" ? $("dim-b").value : da;
  const name = (p, d) => (p || "no prompt") + ", " + d + " dimensions";
  say("embed-msg", "Embedding " + texts.length + " texts…");
  try {
    const t0 = performance.now();
    const simA = similarity(await embed(texts, pa, da));
    $("cap-a").textContent = name(pa, da);
    drawMatrix("matrix-a", texts, simA);
    $("fig-a").hidden = false;
    if (mode !== "none") {
      const simB = similarity(await embed(texts, pb, db));
      $("cap-b").textContent = name(pb, db);
      drawMatrix("matrix-b", texts, simB);
      $("fig-b").hidden = false;
      drawRanking(texts, simA, simB, name(pa, da), name(pb, db));
    } else {
      $("fig-b").hidden = true;
      $("ranking").hidden = true;
    }
    say("embed-msg", "Done in " + Math.round(performance.now() - t0) + " ms. Hover or focus a cell for its value.", "ok");
  } catch (e) {
    say("embed-msg", e.status === 401 ? "An API key is needed (above)." : "Embedding failed: " + e.message, "bad");
  }
}
$("embed-form").addEventListener("submit", (ev) => { ev.preventDefault(); runEmbed(); });

// -------------------------------------------------------------- memories
function storeMissing(e) { return e.status === 404 || (e.status === 503 && e.code === "no_store"); }
function showStoreOff(off) { $("store-off").hidden = !off; }

function parseJson(id, what) {
  const s = $(id).value.trim();
  if (!s) return undefined;
  let v;
  try { v = JSON.parse(s); } catch (e) { throw new Error(what + " is not valid JSON: " + e.message); }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(what + " must be a JSON object");
  return v;
}

async function runAdd() {
  try {
    const m = { text: $("add-text").value };
    const ns = $("add-ns").value.trim();
    if (ns) m.namespace = ns;
    const meta = parseJson("add-meta", "Metadata");
    if (meta) m.metadata = meta;
    if ($("add-prompt").value) m.prompt_name = $("add-prompt").value;
    const r = await api("POST", "/v1/memories", m, runAdd);
    const d = r.data[0];
    say("add-msg", (d.event === "duplicate" ? "Already stored as " : "Added as ") + d.id, "ok");
  } catch (e) {
    if (storeMissing(e)) showStoreOff(true);
    say("add-msg", e.status === 401 ? "An API key is needed (above)." : "Not added: " + e.message, "bad");
  }
}
$("add-form").addEventListener("submit", (ev) => { ev.preventDefault(); runAdd(); });

// The text with each query word (3+ letters, case-insensitive) in <mark>.
function highlight(text, query) {
  const words = query.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) || [];
  const frag = document.createDocumentFragment();
  if (!words.length) { frag.append(text); return frag; }
  const esc = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const re = new RegExp("(" + esc.join("|") + ")", "giu");
  let last = 0;
  for (const m of text.matchAll(re)) {
    frag.append(text.slice(last, m.index), el("mark", { text: m[0] }));
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}

async function runSearch() {
  try {
    const q = $("search-q").value;
    const body = { query: q, mode: $("search-mode").value, k: Number($("search-k").value) || 5 };
    const ns = $("search-ns").value.trim();
    if (ns) body.namespace = ns;
    const f = parseJson("search-filter", "The filter");
    if (f) body.filter = f;
    const r = await api("POST", "/v1/memories/search", body, runSearch);
    const list = $("results");
    list.replaceChildren();
    for (const m of r.data) {
      const hist = el("button", { type: "button", text: "History" });
      const del = el("button", { type: "button", class: "danger", text: "Delete" });
      const li = el("li", { "data-id": m.id },
        el("span", { class: "score", text: m.score.toFixed(4) }), highlight(m.text, q),
        el("div", { class: "muted mono", text: m.id + " · " + m.namespace + " · " + JSON.stringify(m.metadata) }),
        el("div", { class: "actions" }, hist, del));
      hist.addEventListener("click", () => showHistory(m.id));
      del.addEventListener("click", () => deleteMemory(m.id, li));
      list.append(li);
    }
    say("search-msg", r.data.length + " result" + (r.data.length === 1 ? "" : "s") + ".", "ok");
  } catch (e) {
    if (storeMissing(e)) showStoreOff(true);
    say("search-msg", e.status === 401 ? "An API key is needed (above)." : "Search failed: " + e.message, "bad");
  }
}
$("search-form").addEventListener("submit", (ev) => { ev.preventDefault(); runSearch(); });

async function showHistory(id) {
  try {
    const r = await api("GET", "/v1/memories/" + encodeURIComponent(id) + "/history", undefined, () => showHistory(id));
    const list = $("history");
    list.replaceChildren(...r.data.map((e) => el("li", {},
      el("strong", { text: e.event }), " " + new Date(e.at * 1000).toLocaleString() + (e.text != null ? ": " + e.text : ""),
      e.reason ? el("span", { class: "muted", text: " (" + e.reason + ")" }) : null)));
    $("history-title").textContent = "History of " + id;
    $("history-box").hidden = false;
    $("history-title").tabIndex = -1;
    $("history-title").focus();
  } catch (e) {
    say("search-msg", "History failed: " + e.message, "bad");
  }
}

async function deleteMemory(id, li) {
  try {
    await api("DELETE", "/v1/memories/" + encodeURIComponent(id), undefined, () => deleteMemory(id, li));
    li.remove();
    say("search-msg", "Deleted " + id + ".", "ok");
  } catch (e) {
    say("search-msg", "Delete failed: " + e.message, "bad");
  }
}

// ---------------------------------------------------------------- status
let last = null, timer = null;
function fmtSeconds(s) {
  if (s < 1) return (s * 1000).toFixed(1) + " ms";
  return s.toFixed(2) + " s";
}
function fmtUptime(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return (d ? d + " d " : "") + (d || h ? h + " h " : "") + m + " min " + Math.floor(s % 60) + " s";
}
async function refreshStatus() {
  try {
    const s = await api("GET", "/v1/status", undefined, null);
    storeOn = s.store;
    showStoreOff(!s.store);
    const now = performance.now();
    $("st-model").textContent = s.model + (s.ready ? "" : " (loading)") + " · " + s.dimensions + " dimensions · mnemo " + s.version;
    $("st-precision").textContent = s.precision || "—";
    $("st-kernels").textContent = s.kernels.active || "—";
    $("st-available").textContent = s.kernels.available.join(", ");
    $("st-cpu").textContent = s.kernels.cpu || "—";
    $("st-uptime").textContent = fmtUptime(s.uptime_seconds);
    $("st-requests").textContent = String(s.requests.total);
    $("st-requests").title = "2xx " + s.requests["2xx"] + ", 4xx " + s.requests["4xx"] + ", 5xx " + s.requests["5xx"];
    if (last) {
      const rate = (s.requests.total - last.total) / ((now - last.t) / 1000);
      $("st-rate").textContent = rate.toFixed(2) + " requests/s (last " + ((now - last.t) / 1000).toFixed(1) + " s)";
    } else {
      $("st-rate").textContent = (s.requests.total / Math.max(s.uptime_seconds, 1)).toFixed(2) + " requests/s (since start)";
    }
    last = { total: s.requests.total, t: now };
    const l = s.latency_seconds;
    $("st-latency").textContent = fmtSeconds(l.p50) + " / " + fmtSeconds(l.p90) + " / " + fmtSeconds(l.p99) + " (" + l.count + " requests)";
    const c = s.cache;
    $("st-cache").textContent = c.hits + c.misses ? (100 * c.hit_rate).toFixed(1) + " % (" + c.hits + " hits, " + c.misses + " misses, " + c.entries + " entries)" : "no lookups yet";
    $("st-queue").textContent = s.queue.requests + " / " + s.queue.sequences + " / " + s.queue.tokens;
    $("st-inflight").textContent = String(s.in_flight);
    $("st-store").textContent = s.store ? "on (--data-dir)" : "off (start with --data-dir to store memories)";
    $("status-time").textContent = "at " + new Date().toLocaleTimeString();
    say("status-msg", "");
  } catch (e) {
    say("status-msg", "GET /v1/status: " + e.message, "bad");
  }
}
function tick() {
  if (!$("panel-status").hidden) refreshStatus();
}
timer = setInterval(tick, 2000);

refreshStatus();
loadInfo();
