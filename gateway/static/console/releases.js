// Production vs candidate with their holdout metrics, promote / roll back, and the history.
"use strict";
const model = document.getElementById("release").dataset.model;

function metricsOf(v) {
  const m = (v && v.metrics) || {};
  return Object.entries(m).filter(([, x]) => typeof x === "number").map(([k, x]) => `${k} ${x.toFixed ? x.toFixed(4) : x}`).join(" · ");
}

async function load() {
  try {
    const reg = await api(`/admin/models/${model}`);
    const byVersion = Object.fromEntries(reg.versions.map(v => [v.version, v]));
    const side = alias => {
      const v = byVersion[reg.aliases[alias]];
      return el("div", {class: "side", id: alias}, el("h2", {text: `${alias}: ${reg.aliases[alias] || "—"}`}),
                el("p", {text: metricsOf(v) || "(no scalar holdout metrics)"}));
    };
    document.getElementById("release").replaceChildren(el("div", {class: "sides"}, side("production"), side("candidate")));
    document.querySelector("#versions tbody").replaceChildren(...reg.versions.map(v =>
      el("tr", {}, el("td", {text: v.version}), el("td", {text: v.aliases.join(", ")}), el("td", {text: v.created_at}), el("td", {text: v.data || ""}))));
    document.querySelector("#history tbody").replaceChildren(...reg.history.slice().reverse().map(h =>
      el("tr", {}, el("td", {text: h.at}), el("td", {text: h.alias}), el("td", {text: `${h.from || "—"} → ${h.to}`}),
         el("td", {text: h.actor}), el("td", {text: h.reason || ""}), el("td", {text: h.forced ? "forced" : ""}))));
  } catch (error) { showError(error); }
}

async function change(action) {
  const body = {reason: document.getElementById("reason").value};
  if (action === "promote") body.force = document.getElementById("force").checked;
  try {
    const done = await api(`/admin/models/${model}/${action}`, {method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json"}});
    showError(null);
    document.getElementById("gate").replaceChildren(el("pre", {class: "done", text: JSON.stringify(done, null, 1)}));
  } catch (error) { showError(error); }
  load();
}
document.getElementById("promote").addEventListener("click", () => change("promote"));
document.getElementById("rollback").addEventListener("click", () => change("rollback"));
load();
