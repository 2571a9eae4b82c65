// The gate's verdict (kit.gate.GateResult.to_dict) as a table: one row per criterion and
// evaluation set, production beside candidate, the threshold it is held to and pass / fail.
"use strict";

function fixed(x, digits = 4) {
  if (typeof x !== "number") return "—";
  return Number.isInteger(x) ? String(x) : x.toFixed(digits);
}

function signed(x) {
  return typeof x === "number" && x > 0 ? "+" + fixed(x) : fixed(x);
}

function threshold(row) {
  let text = `worsening ≤ ${row.tolerance}`;
  if (row.bound !== null && row.bound !== undefined) text += `; ${row.direction === "higher" ? "≥" : "≤"} ${row.bound}`;
  return text;
}

function gateTable(gate, caption) {
  const head = ["set", "criterion", "production", "candidate", "difference (95% CI)", "threshold", "verdict", "why"];
  const rows = gate.criteria.map(r => {
    const ci = r.ci_low === null ? "" : ` [${signed(r.ci_low)}, ${signed(r.ci_high)}]`;
    const cells = [r.set, r.title, fixed(r.production), fixed(r.candidate),
      r.difference === null ? "—" : signed(r.difference) + ci, threshold(r),
      `${r.verdict}${r.outcome ? ` (${r.outcome})` : ""}`, r.why || ""];
    return el("tr", {class: `verdict-${r.verdict}`}, ...cells.map(c => el("td", {text: c})));
  });
  const sets = (gate.sets || []).map(s => `${s.name} ${s.rows} rows (${s.source})`).join("; ");
  return el("div", {class: "gate", "data-passed": String(gate.passed)},
    el("p", {}, el("b", {text: `${gate.passed ? "PASSED" : "FAILED"}: `}),
       `${caption}: candidate ${gate.candidate} vs production ${gate.production || "— (first release)"}` +
       ` · ${gate.seconds} s · sets: ${sets}`),
    el("table", {}, el("thead", {}, el("tr", {}, ...head.map(h => el("th", {text: h})))), el("tbody", {}, ...rows)),
    ...(gate.notes || []).map(n => el("p", {class: "note", text: n})));
}
