"use strict";
let last = null;

async function refresh() {
  try {
    const [models, stats] = await Promise.all([api("/v1/models"), api("/console/api/stats")]);
    const now = performance.now() / 1000;
    const rows = models.models.map(m => {
      const s = stats.models[m.name] || {requests: 0, errors: 0};
      const before = last && last.stats.models[m.name];
      const rate = before ? ((s.requests - before.requests) / (now - last.at)).toFixed(1) : "–";
      const t = m.traffic || {};
      const cells = [m.name, m.version || "–", t.candidate_version || "–", m.ready ? "ready" : m.reason,
        m.circuit, `canary ${t.canary_percent}% · shadow ${t.shadow_percent}%`, rate,
        s.p50_ms ?? "–", s.p99_ms ?? "–",
        s.requests ? `${(100 * s.errors / s.requests).toFixed(1)}%` : "–"];
      const row = el("tr", {"data-model": m.name}, ...cells.map(c => el("td", {text: String(c)})));
      row.children[1].className = "production";
      return row;
    });
    document.querySelector("#fleet tbody").replaceChildren(...rows);
    last = {stats, at: now};
    showError(null);
  } catch (error) { showError(error); }
}
refresh();
setInterval(refresh, 3000);
