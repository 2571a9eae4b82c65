// A form from the model's input schema (numbers with their ranges, choices as selects, text as
// a text box, nested parts as pasteable JSON), sent through the gateway, the answer drawn.
"use strict";
const form = document.getElementById("form");
const model = form.dataset.model;
const schema = JSON.parse(document.getElementById("schema").textContent);
const example = JSON.parse(document.getElementById("example").textContent);

function choices(prop) {
  return prop.enum || (prop.anyOf || []).flatMap(p => p.enum || []);
}

for (const [name, prop] of Object.entries(schema.properties || {})) {
  const value = example[name];
  const label = el("label", {text: name + " "});
  let input;
  const options = choices(prop);
  if (options.length) {
    input = el("select", {}, ...options.map(o => el("option", {value: o, text: o})));
    if (value !== undefined) input.value = value;
  } else if (prop.type === "number" || prop.type === "integer") {
    input = el("input", {type: "number", step: "any"});
    if (prop.minimum !== undefined) input.min = prop.minimum;
    if (prop.maximum !== undefined) input.max = prop.maximum;
    input.value = value ?? "";
    label.append(el("small", {text: ` (${prop.minimum ?? ""}…${prop.maximum ?? ""})`}));
  } else if (value !== undefined && typeof value === "object") {
    input = el("textarea", {rows: 8, cols: 70, "data-json": "1"});
    input.value = JSON.stringify(value, null, 1);
  } else {
    input = el("textarea", {rows: 2, cols: 70});
    input.value = value ?? "";
  }
  input.name = name;
  input.title = prop.description || "";
  form.append(el("div", {class: "field"}, label, input));
}

function instance() {
  const out = {};
  for (const input of form.querySelectorAll("[name]")) {
    if (input.value === "" ) continue;
    if (input.dataset.json) out[input.name] = JSON.parse(input.value);
    else if (input.type === "number") out[input.name] = Number(input.value);
    else out[input.name] = input.value;
  }
  return out;
}

const draw = {
  intent(p) {
    const rows = [{label: p.label, value: p.confidence}]
      .concat((p.alternatives || []).map(a => ({label: a.label, value: a.confidence})));
    return [el("p", {text: `label: ${p.label}`}), barChart(rows, {marker: p.threshold ?? null})];
  },
  ner(p, sent) {
    const text = sent.text, out = el("p", {class: "tagged"});
    let at = 0;
    for (const e of p.entities) {
      out.append(text.slice(at, e.start));
      const mark = el("mark", {title: e.value ? JSON.stringify(e.value) : e.label, text: text.slice(e.start, e.end)});
      mark.append(el("sub", {text: e.label}));
      out.append(mark);
      at = e.end;
    }
    out.append(text.slice(at));
    const list = el("ul", {}, ...p.entities.map(e => el("li",
      {text: `${e.label} “${e.text}” → ${e.value ? JSON.stringify(e.value) : "—"}`})));
    return [out, list];
  },
  spending(p, sent) {
    const history = (sent.history || []).map(h => ({x: h.month || h.date, y: h.amount}));
    const forecast = p.forecast.map(f => ({x: f.month, y: f.yhat, lower: f.lower, upper: f.upper}));
    return [el("p", {text: `method ${p.method}; total ${p.total.yhat} (${p.total.lower}…${p.total.upper})`}),
            bandChart(history, forecast)];
  },
  credit(p) {
    const rows = p.reasons.map(r => ({label: r.feature, value: r.contribution, text: `${r.contribution} (${r.value})`}));
    const top = Math.max(0.01, ...rows.map(r => Math.abs(r.value)));
    return [el("p", {text: `PD ${p.probability_of_default} · score ${p.risk_score} · band ${p.band} · ${p.decision}`}),
            barChart(rows, {min: -top, max: top, marker: 0})];
  },
  anomaly(p) {
    return [el("p", {text: `score ${p.score} · ${p.is_anomaly ? "anomaly" : "normal"}`}),
            barChart([{label: "score", value: p.score}], {marker: p.threshold ?? 0.5}),
            el("ul", {}, ...p.reasons.map(r => el("li", {text: r})))];
  },
};

document.getElementById("send").addEventListener("click", async () => {
  const answer = document.getElementById("answer");
  answer.replaceChildren();
  try {
    const sent = instance();
    const reply = await api(`/v1/${model}`, {method: "POST", body: JSON.stringify(sent),
      headers: {"Content-Type": "application/json"}});
    showError(null);
    answer.append(el("p", {class: "version", text: `answered by ${reply.model_name} ${reply.model_version}`}),
                  ...(draw[model] ? draw[model](reply.prediction, sent) : []),
                  el("details", {}, el("summary", {text: "JSON"}), el("pre", {text: JSON.stringify(reply, null, 1)})));
    answer.dataset.drawn = model;
  } catch (error) { showError(error); }
});
