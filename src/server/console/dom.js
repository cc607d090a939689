// dom.js — the two DOM helpers of the console (app.js) and the API
// reference page (docs.js), loaded before either: $ (an element by id) and
// el (an element with attributes, "text" and "class" among them, and
// children; null children are left out).
"use strict";

const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}
