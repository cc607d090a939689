// docs.js — the API reference page (GET /docs): renders the server's own
// /openapi.json (OpenAPI 3.1) in the browser: each operation with its
// parameters, request body and responses, schemas as nested lists with
// links to the named ones. No framework, nothing loaded from elsewhere.
// Loaded after dom.js ($ and el).
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete"];
// Text with `code` spans (the document's descriptions use them), as nodes.
function prose(tag, text) {
  const e = el(tag);
  String(text || "").split("`").forEach((part, i) => e.append(i % 2 ? el("code", { text: part }) : part));
  return e;
}
const refName = (ref) => ref.replace("#/components/schemas/", "");

// A one-line type of a schema: "string", "array of Memory", "A | B", ...
function typeOf(s) {
  if (!s) return "any";
  if (s.$ref) { const n = refName(s.$ref); return el("a", { href: "#schema-" + n, text: n }); }
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  const alts = s.oneOf || s.anyOf;
  if (alts) {
    const span = el("span");
    alts.forEach((a, i) => { if (i) span.append(" | "); span.append(typeOf(a)); });
    return span;
  }
  if (s.type === "array") { const span = el("span", {}, "array of "); span.append(typeOf(s.items)); return span; }
  const t = Array.isArray(s.type) ? s.type.join(" | ") : s.type || "any";
  return t;
}
function limits(s) {
  const out = [];
  for (const k of ["minimum", "maximum", "exclusiveMinimum", "minLength", "minItems", "maxItems", "default"])
    if (s && s[k] !== undefined) out.push(k + " " + JSON.stringify(s[k]));
  return out.length ? " (" + out.join(", ") + ")" : "";
}

// A schema as a list of its fields (one level; named schemas are links).
function schemaView(s) {
  const ul = el("ul", { class: "schema" });
  if (!s) return ul;
  const head = el("li", {}, typeOf(s), limits(s));
  if (s.description) head.append(el("span", { class: "muted", text: " — " + s.description }));
  ul.append(head);
  const req = new Set(s.required || []);
  for (const [name, p] of Object.entries(s.properties || {})) {
    const li = el("li", {}, el("code", { text: name }), req.has(name) ? el("span", { class: "req", text: " *" }) : null, ": ");
    li.append(typeOf(p), limits(p));
    if (p.description) li.append(el("span", { class: "muted", text: " — " + p.description }));
    if (p.properties) li.append(schemaView(p));
    ul.append(li);
  }
  if (s.additionalProperties && typeof s.additionalProperties === "object") {
    const li = el("li", {}, "each other field: ");
    li.append(typeOf(s.additionalProperties));
    ul.append(li);
  }
  for (const alt of s.oneOf || []) if (alt.properties) ul.append(el("li", {}, "one of: ", schemaView(alt)));
  return ul;
}

function content(c) {
  const frag = document.createDocumentFragment();
  for (const [type, media] of Object.entries(c || {})) {
    frag.append(el("div", {}, el("code", { text: type })), schemaView(media.schema));
  }
  return frag;
}

function operation(path, method, op, inherited) {
  const id = op.operationId || method + path;
  const sec = el("section", { class: "card op", id: "op-" + id, "aria-labelledby": "h-" + id });
  sec.append(el("h2", { id: "h-" + id }, el("span", { class: "method m-" + method, text: method.toUpperCase() }), el("code", { text: path })));
  if (op.summary) sec.append(el("p", {}, el("strong", { text: op.summary })));
  if (op.description) sec.append(prose("p", op.description));
  const open = (op.security || []).some((r) => Object.keys(r).length === 0);
  const keyed = (op.security || []).some((r) => Object.keys(r).length > 0);
  sec.append(el("p", { class: "muted", text: keyed ? "Needs a Bearer key when the server has --api-key." : open ? "No key needed." : "" }));
  const params = (inherited || []).concat(op.parameters || []);
  if (params.length) {
    const t = el("table", { class: "kv" }, el("caption", { class: "muted", text: "Parameters" }));
    for (const p of params)
      t.append(el("tr", {}, el("th", { scope: "row" }, el("code", { text: p.name }), p.required ? el("span", { class: "req", text: " *" }) : null),
        el("td", {}, p.in + ": ", typeOf(p.schema), p.description ? " — " + p.description : "")));
    sec.append(el("div", { class: "scroll" }, t));
  }
  if (op.requestBody) {
    const d = el("details", { open: "" }, el("summary", { text: "Request body" + (op.requestBody.required ? " (required)" : "") }));
    d.append(content(op.requestBody.content));
    sec.append(d);
  }
  const d = el("details", {}, el("summary", { text: "Responses: " + Object.keys(op.responses).join(", ") }));
  for (const [code, r] of Object.entries(op.responses)) {
    d.append(el("h3", { text: code + " " + (r.description || "") }));
    if (r.headers) d.append(el("p", { class: "muted", text: "headers: " + Object.keys(r.headers).join(", ") }));
    d.append(content(r.content));
  }
  sec.append(d);
  return sec;
}

async function main() {
  let doc;
  try {
    const res = await fetch("/openapi.json");
    doc = await res.json();
  } catch (e) {
    $("doc-msg").textContent = "Cannot read /openapi.json: " + e.message;
    return;
  }
  const info = $("doc-info");
  info.replaceChildren(el("h2", { text: doc.info.title + " " + doc.info.version + " — OpenAPI " + doc.openapi }),
    prose("p", doc.info.summary), prose("p", doc.info.description));
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths))
    for (const m of METHODS) if (item[m]) {
      const tag = (item[m].tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([path, m, item[m], item.parameters]);
    }
  const toc = $("doc-toc"), ops = $("doc-ops");
  let n = 0;
  for (const [tag, list] of byTag) {
    ops.append(el("h2", { class: "tag", id: "tag-" + tag, text: tag }));
    for (const [path, m, op, inherited] of list) {
      ops.append(operation(path, m, op, inherited));
      const id = op.operationId || m + path;
      toc.append(el("li", {}, el("a", { href: "#op-" + id }, el("span", { class: "method m-" + m, text: m.toUpperCase() }), path)));
      n++;
    }
  }
  const schemas = $("doc-schemas");
  for (const [name, s] of Object.entries((doc.components || {}).schemas || {}))
    schemas.append(el("div", { id: "schema-" + name }, el("h3", {}, el("code", { text: name }))), schemaView(s));
  info.append(el("p", { class: "muted", id: "doc-count", text: n + " operations." }));
}
main();
