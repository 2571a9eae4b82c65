// The traffic report (GET /admin/models/<name>/traffic, the same as /v1/models/<name>/traffic):
// the policy, how often the candidate's shadow answers agree with production's, and each
// version's latency side by side.
"use strict";

function reading(kind, r) {
  if (!r.count) return "—";
  const n = ` (n=${r.count}${r.incomparable ? `, ${r.incomparable} incomparable` : ""})`;
  if (kind === "agree") return `${(100 * r.agreement).toFixed(1)}% agree${n}`;
  if (kind === "shift") return `${r.mean_shift.toFixed(4)} mean, ${r.mean_abs_shift.toFixed(4)} mean |Δ|${n}`;
  if (kind === "relative") return `${(100 * r.mean_relative).toFixed(2)}% apart${n}`;
  return `F1 ${r.mean_f1.toFixed(3)}${n}`;
}

function ms(x) { return typeof x === "number" ? (1000 * x).toFixed(1) : "—"; }

function trafficView(report) {
  const p = report.policy, c = report.comparison;
  const q = report.shadow_queue;
  const out = [el("p", {class: "policy", text: `canary ${p.canary_percent}% · shadow ${p.shadow_percent}% · ` +
    `production ${report.production_version || "—"} · candidate ${p.candidate_version || "— (none loaded)"} · ` +
    `shadow queue ${q.queued}/${q.max}`})];
  if (p.note) out.push(el("p", {class: "note", text: p.note}));
  out.push(el("p", {text: `${c.pairs.window} shadow pairs in the window (last ${c.window}), ${c.pairs.all_time} all-time`}));
  const measures = Object.entries(c.measures).map(([name, m]) => el("tr", {"data-measure": name},
    ...[name, m.kind, m.path, reading(m.kind, m.window), reading(m.kind, m.all_time)].map(t => el("td", {text: t}))));
  out.push(el("table", {id: "agreement"}, el("thead", {}, el("tr", {}, ...["measure", "kind", "path", "window", "all-time"]
    .map(h => el("th", {text: h})))), el("tbody", {}, ...measures)));
  const sources = [...new Set(Object.values(c.latency).flatMap(s => Object.keys(s)))];
  const cell = (role, source) => {
    const r = (c.latency[role] || {})[source];
    return r ? `${ms(r.p50)} / ${ms(r.p99)} ms (n=${r.count})` : "—";
  };
  out.push(sources.length
    ? el("table", {id: "latency"}, el("thead", {}, el("tr", {}, ...["source", "production p50 / p99", "candidate p50 / p99"]
        .map(h => el("th", {text: h})))), el("tbody", {}, ...sources.map(s => el("tr", {},
        el("td", {text: s}), el("td", {text: cell("production", s)}), el("td", {text: cell("candidate", s)})))))
    : el("p", {text: "no shadow or canary latency recorded yet"}));
  return out;
}
