// Shared by every console page: calls to the gateway's JSON routes with the admin key (asked
// once when a route answers 401, kept in sessionStorage) and problem+json errors shown readably.
"use strict";
const KEY = "finfleet-admin-key";

async function api(path, options = {}, asked = false) {
  const headers = Object.assign({}, options.headers || {});
  const key = sessionStorage.getItem(KEY);
  if (key) headers["Authorization"] = "Bearer " + key;
  const reply = await fetch(path, Object.assign({}, options, {headers}));
  if (reply.status === 401 && !asked) {
    const typed = window.prompt("Admin key for this gateway");
    if (typed) { sessionStorage.setItem(KEY, typed); return api(path, options, true); }
  }
  const type = reply.headers.get("content-type") || "";
  const body = type.includes("json") ? await reply.json() : await reply.text();
  if (!reply.ok) throw Object.assign(new Error(body.title || reply.statusText),
                                     {status: reply.status, problem: body});
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

function showError(error) {
  const box = document.getElementById("error");
  box.replaceChildren();
  if (!error) { box.hidden = true; return; }
  const p = error.problem || {};
  box.append(el("b", {text: `${p.status || error.status || ""} ${p.title || error.message}`}));
  if (p.detail) box.append(el("div", {text: p.detail}));
  for (const e of p.errors || []) box.append(el("div", {class: "field", text: `${e.field}: ${e.message}`}));
  if (p.table) box.append(el("pre", {text: JSON.stringify(p.table, null, 1)}));
  box.hidden = false;
}

document.getElementById("forget-key").addEventListener("click", () => sessionStorage.removeItem(KEY));
