// Drift scores over time per served version with the thresholds drawn, the newest scored
// version's features, and live quality where outcomes exist; both refreshed every 5 s.
"use strict";
const root = document.getElementById("drift");
const model = root.dataset.model;
const fixed = (x, digits = 3) => (typeof x === "number" ? x.toFixed(digits) : "–");

function drawDrift(report) {
  const {warning, critical} = report.thresholds;
  const when = report.checked_at ? new Date(report.checked_at * 1000).toLocaleTimeString() : "not yet";
  document.getElementById("drift-status").textContent = `monitor ${report.status}, last run ${when}; `
    + `window ${report.window.seconds} s, at most ${report.window.max_records} records, scored from `
    + `${report.window.min_records}` + (report.error ? ` — error: ${report.error}` : "");
  const series = report.versions.filter(v => v.history.length)
    .map(v => ({name: v.version, points: v.history.map(h => ({t: h.ts, y: h.score}))}));
  const chart = document.getElementById("drift-chart");
  chart.replaceChildren(series.length
    ? timeChart(series, {lines: [{value: warning, label: "warning", cls: "warning"},
                                 {value: critical, label: "critical", cls: "critical"}]})
    : el("p", {class: "notice", text: "No scores yet: a version is scored once it has "
        + `${report.window.min_records} predictions with features in the window.`}));
  chart.dataset.points = String(series.reduce((n, s) => n + s.points.length, 0));
  document.querySelector("#drift-versions tbody").replaceChildren(...report.versions.map(v =>
    el("tr", {"data-version": v.version}, ...[v.version,
      Object.entries(v.served_by).map(([k, n]) => `${k} ${n}`).join(", "), v.records, v.scored,
      fixed(v.score), v.level || "–", fixed(v.input_score), fixed(v.output_score), v.reason || ""]
      .map((c, i) => el("td", {text: String(c), class: i === 5 ? `level-${v.level}` : ""})))));
  const scored = report.versions.find(v => v.score !== null);
  const title = document.getElementById("features-title");
  const features = document.getElementById("drift-features");
  if (!scored) { title.textContent = ""; features.replaceChildren(); return; }
  title.textContent = `${scored.version}: features by score (drifted: ${scored.drifted.join(", ") || "none"}; `
    + `dashed: warning ${warning}, critical ${critical})`;
  const rows = Object.values(scored.features).sort((a, b) => b.score - a.score).slice(0, 15)
    .map(f => ({label: f.name, value: f.score, text: `${fixed(f.score)}` + (f.psi !== null ? ` psi ${fixed(f.psi)}` : "")
                + (f.ks !== null ? ` ks ${fixed(f.ks)}` : "")}));
  features.replaceChildren(barChart(rows, {min: 0, max: 1, marker: [warning, critical]}));
}

function drawQuality(quality) {
  const box = document.getElementById("quality");
  if (!quality || quality.error) {
    box.replaceChildren(el("p", {class: "notice", text: `No live quality: ${quality ? quality.error : "not reported"}`}));
    return;
  }
  const versions = Object.entries(quality.versions || {});
  if (!versions.length) {
    box.replaceChildren(el("p", {class: "notice", text: "No labelled predictions in the window yet "
      + `(${Math.round((quality.window_seconds || 0) / 86400)} days): send outcomes to see live quality.`}));
    return;
  }
  const names = [...new Set(versions.flatMap(([, v]) => Object.keys(v.metrics)))];
  const head = el("tr", {}, ...["version", "labelled", "served by", ...names].map(h => el("th", {text: h})));
  const rows = versions.map(([version, v]) => el("tr", {"data-version": version},
    ...[version, v.labelled, Object.entries(v.served_by).map(([k, n]) => `${k} ${n}`).join(", "),
        ...names.map(n => fixed(v.metrics[n], 4))].map(c => el("td", {text: String(c)}))));
  const shadowed = Object.entries(quality.shadowed || {}).map(([candidate, s]) =>
    el("pre", {text: `shadowed by ${candidate}: ${JSON.stringify(s)}`}));
  box.replaceChildren(el("table", {id: "quality-table"}, el("thead", {}, head), el("tbody", {}, ...rows)),
                      ...shadowed);
}

async function refresh() {
  try {
    const [report, traffic] = await Promise.all([
      root.dataset.monitor ? api(`/v1/models/${model}/drift?since=2h`) : null,
      api(`/v1/models/${model}/traffic`)]);
    if (report) drawDrift(report);
    drawQuality(traffic.live_quality);
    showError(null);
  } catch (error) { showError(error); }
}
refresh();
setInterval(refresh, 5000);
