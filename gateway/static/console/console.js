// Shared by every console page: calls to the gateway's JSON routes with the right key, and
// problem+json errors shown readably. With keys on, /admin routes take an admin key and the
// others (/v1, /console/api) a caller's API key: each is asked for on the first 401 from its
// kind of route, kept in sessionStorage, and sent as Authorization: Bearer <key>.
"use strict";
const KEYS = {
  admin: {storage: "finfleet-admin-key", ask: "Admin key for this gateway (the /admin routes)"},
  caller: {storage: "finfleet-caller-key", ask: "API key for this gateway (the /v1 routes)"},
};

const declined = new Set();  // a prompt cancelled: not asked again on this page

function keyKind(path) {
  return path.startsWith("/admin/") ? "admin" : "caller";
}

async function api(path, options = {}, asked = false) {
  const which = keyKind(path), kind = KEYS[which];
  const headers = Object.assign({}, options.headers || {});
  const key = sessionStorage.getItem(kind.storage);
  if (key) headers["Authorization"] = "Bearer " + key;
  const reply = await fetch(path, Object.assign({}, options, {headers}));
  if (reply.status === 401 && !asked && !declined.has(which)) {
    const now = sessionStorage.getItem(kind.storage);
    if (now && now !== key) return api(path, options, true);  // asked meanwhile (calls in parallel)
    const typed = window.prompt(kind.ask);
    if (typed) { sessionStorage.setItem(kind.storage, typed); return api(path, options, true); }
    declined.add(which);
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

document.getElementById("forget-keys").addEventListener("click", () => {
  for (const kind of Object.values(KEYS)) sessionStorage.removeItem(kind.storage);
});
