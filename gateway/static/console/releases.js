// Production vs candidate with their holdout metrics, the gate's table, shadow / canary
// agreement, promote / roll back / set traffic, and the history.
"use strict";
const model = document.getElementById("release").dataset.model;

function scalars(v) {
  return Object.entries((v && v.metrics) || {}).filter(([, x]) => typeof x === "number");
}

function drawSides(reg) {
  const byVersion = Object.fromEntries(reg.versions.map(v => [v.version, v]));
  const prod = byVersion[reg.aliases.production], cand = byVersion[reg.aliases.candidate];
  document.getElementById("production").textContent = `production: ${reg.aliases.production || "—"}`;
  document.getElementById("candidate").textContent = `candidate: ${reg.aliases.candidate || "—"}`;
  const p = Object.fromEntries(scalars(prod)), c = Object.fromEntries(scalars(cand));
  const names = [...new Set([...Object.keys(p), ...Object.keys(c)])];
  document.querySelector("#release tbody").replaceChildren(...(names.length ? names.map(n =>
    el("tr", {}, el("td", {text: n}), el("td", {text: fixed(p[n])}), el("td", {text: fixed(c[n])})))
    : [el("tr", {}, el("td", {colspan: 3, text: "(no scalar holdout metrics)"}))]));
}

// The newest promotion the history records carries the gate's verdict it passed (or was forced past).
function lastGate(reg) {
  const change = reg.history.slice().reverse().find(h => h.gate);
  if (change) document.getElementById("gate").replaceChildren(
    gateTable(change.gate, `last promotion ${change.at}${change.forced ? " (forced)" : ""}`));
}

async function loadTraffic() {
  try {
    const report = await api(`/admin/models/${model}/traffic`);
    document.getElementById("traffic").replaceChildren(...trafficView(report));
    for (const [id, key] of [["canary", "canary_percent"], ["shadow", "shadow_percent"]]) {
      const input = document.getElementById(id);
      if (document.activeElement !== input) input.value = report.policy[key];
    }
  } catch (error) { showError(error); }
}

async function load() {
  try {
    const reg = await api(`/admin/models/${model}`);
    drawSides(reg);
    lastGate(reg);
    document.querySelector("#versions tbody").replaceChildren(...reg.versions.map(v =>
      el("tr", {}, el("td", {text: v.version}), el("td", {text: v.aliases.join(", ")}), el("td", {text: v.created_at}), el("td", {text: v.data || ""}))));
    document.querySelector("#history tbody").replaceChildren(...reg.history.slice().reverse().map(h =>
      el("tr", {}, el("td", {text: h.at}), el("td", {text: h.alias}), el("td", {text: `${h.from || "—"} → ${h.to}`}),
         el("td", {text: h.actor}), el("td", {text: h.reason || ""}), el("td", {text: h.forced ? "forced" : ""}))));
  } catch (error) { showError(error); }
  loadTraffic();
}

async function send(path, method, body) {
  return api(path, {method, body: JSON.stringify(body), headers: {"Content-Type": "application/json"}});
}

async function change(action) {
  const body = {reason: document.getElementById("reason").value};
  if (action === "promote") body.force = document.getElementById("force").checked;
  const gate = document.getElementById("gate");
  if (action === "promote") gate.replaceChildren(el("p", {text: "the gate is scoring both versions…"}));
  try {
    const done = await send(`/admin/models/${model}/${action}`, "POST", body);
    showError(null);
    await load();
    if (done.gate) gate.replaceChildren(gateTable(done.gate, `this promotion${done.forced ? " (forced)" : ""}`));
  } catch (error) {
    const problem = error.problem || {};
    if (problem.gate) {  // a refusal: nothing changed, the table says why
      gate.replaceChildren(gateTable(problem.gate, "this promotion, refused (production is unchanged)"));
      showError(Object.assign(error, {problem: {...problem, table: undefined}}));
    } else { showError(error); }
    load();
  }
}

document.getElementById("promote").addEventListener("click", () => change("promote"));
document.getElementById("rollback").addEventListener("click", () => change("rollback"));
document.getElementById("set-traffic").addEventListener("click", async () => {
  const policy = {canary_percent: Number(document.getElementById("canary").value || 0),
                  shadow_percent: Number(document.getElementById("shadow").value || 0)};
  try { await send(`/admin/models/${model}/traffic`, "PUT", policy); showError(null); loadTraffic(); }
  catch (error) { showError(error); }
});
load();
setInterval(loadTraffic, 3000);
