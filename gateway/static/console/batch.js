// The playground's batch mode: a CSV whose columns are the model's input fields (a dotted
// column such as transaction.amount sets a nested field; a nested field's cell may hold JSON,
// e.g. spending's history) sent as V1 requests of many instances, chunked to the gateway's
// instance and body limits; the answers as a table and a CSV built here (a Blob).
"use strict";
const batch = document.getElementById("batch");
const limits = JSON.parse(batch.dataset.limits);
const SHOWN = 500;  // rows drawn; the download has them all

function resolved(prop) {
  const ref = prop && prop.$ref;
  return ref ? ((schema.$defs || {})[ref.split("/").pop()] || {}) : (prop || {});
}

function fieldAt(path) {  // the schema of a dotted path, {} when unknown
  let prop = schema;
  for (const part of path) {
    prop = resolved(prop);
    const withProps = [prop, ...(prop.anyOf || []).map(resolved)].find(p => p.properties);
    prop = withProps ? withProps.properties[part] : undefined;
    if (!prop) return {};
  }
  return prop;
}

function types(prop) {
  const p = resolved(prop);
  return new Set([p, ...(p.anyOf || []).map(resolved)].map(x => x.type).filter(Boolean));
}

// A cell as the field's type; left as text when it is not one, so the gateway's 422 says why.
function cellValue(text, kinds) {
  const number = text.trim() !== "" && Number.isFinite(Number(text));
  if (kinds.has("object") || kinds.has("array")) {
    try { return JSON.parse(text); } catch { return text; }
  }
  if ((kinds.has("number") || kinds.has("integer") || !kinds.size) && number) return Number(text);
  if (kinds.has("boolean") && /^(true|false)$/i.test(text)) return text.toLowerCase() === "true";
  return text;
}

function instancesOf(header, rows) {
  const paths = header.map(h => h.trim().split("."));
  const kinds = paths.map(p => types(fieldAt(p)));
  return rows.map(cells => {
    const out = {};
    cells.forEach((text, c) => {
      if (text === "") return;  // omitted: the field's default
      let at = out;
      paths[c].slice(0, -1).forEach(part => { at = at[part] = at[part] || {}; });
      at[paths[c].at(-1)] = cellValue(text, kinds[c]);
    });
    return out;
  });
}

function chunks(instances) {  // [start, end) ranges within both limits (10 % spare for the envelope)
  const out = [], encoder = new TextEncoder(), budget = 0.9 * limits.max_body_bytes;
  let start = 0, size = 0;
  instances.forEach((inst, i) => {
    const bytes = encoder.encode(JSON.stringify(inst)).length + 1;
    if (i > start && (i - start >= limits.max_instances || size + bytes > budget)) { out.push([start, i]); start = i; size = 0; }
    size += bytes;
  });
  out.push([start, instances.length]);
  return out;
}

function csvProblem(title, detail, errors = []) {
  return Object.assign(new Error(title), {problem: {status: "CSV", title, detail, errors}});
}

// A chunk's problem told in CSV rows: instances[3].age of the chunk from row 201 is row 204.
function inRows(error, start, end, k, n) {
  const p = error.problem;
  if (!p || typeof p !== "object") return error;
  const errors = (p.errors || []).map(e => ({...e, field: String(e.field).replace(/^instances\[(\d+)\]\.?/,
    (_, j) => `row ${start + Number(j) + 1}: `)}));
  const where = `rows ${start + 1}–${end} of the CSV (request ${k} of ${n})`;
  return Object.assign(error, {problem: {...p, errors, detail: `${where}: ${p.detail || ""}`}});
}

function flat(prediction) {
  return prediction !== null && typeof prediction === "object" && !Array.isArray(prediction) ? prediction : {answer: prediction};
}

function drawAnswers(header, rows, answers) {
  const names = [...new Set(answers.flatMap(a => Object.keys(flat(a.prediction))))];
  const taken = new Set(header);
  const columns = names.map(n => taken.has(n) ? `answer_${n}` : n);
  const cells = a => [a.version, ...names.map(n => flat(a.prediction)[n])];
  const show = v => v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
  const table = el("table", {id: "answers"},
    el("thead", {}, el("tr", {}, ...["row", "model_version", ...columns].map(h => el("th", {text: h})))),
    el("tbody", {}, ...answers.slice(0, SHOWN).map((a, i) => el("tr", {},
      ...[i + 1, ...cells(a)].map(v => el("td", {text: show(v), title: show(v)}))))));
  const download = csvLink("download", `${model}-answers.csv`, [...header, "model_version", ...columns],
    answers.map((a, i) => [...rows[i], ...cells(a)]), "download answers CSV");
  const more = answers.length > SHOWN ? ` (the first ${SHOWN} shown; the CSV has all)` : "";
  document.getElementById("batch-answers").replaceChildren(
    el("p", {}, `${answers.length} answers${more} · `, download), table);
}

async function runBatch(text) {
  const status = document.getElementById("batch-status");
  const table = parseCsv(text);
  if (table.length < 2) throw csvProblem("Empty CSV", "a header row of input fields and at least one row");
  const [header, ...rows] = table;
  const ragged = rows.map((r, i) => [r, i]).filter(([r]) => r.length !== header.length);
  if (ragged.length) throw csvProblem("Malformed CSV", `the header has ${header.length} columns`,
    ragged.slice(0, 10).map(([r, i]) => ({field: `row ${i + 1}`, message: `${r.length} cells`})));
  const instances = instancesOf(header, rows), ranges = chunks(instances), answers = [];
  for (const [k, [start, end]] of ranges.entries()) {
    status.textContent = `request ${k + 1} of ${ranges.length}: rows ${start + 1}–${end}…`;
    try {
      const reply = await api(`/v1/models/${model}:predict`, {method: "POST",
        body: JSON.stringify({instances: instances.slice(start, end)}), headers: {"Content-Type": "application/json"}});
      answers.push(...reply.predictions.map(prediction => ({prediction, version: reply.model_version})));
    } catch (error) {
      if (answers.length) drawAnswers(header, rows, answers);
      status.textContent = `${answers.length} of ${rows.length} rows answered; request ${k + 1} was refused`;
      throw inRows(error, start, end, k + 1, ranges.length);
    }
  }
  status.textContent = `${rows.length} rows in ${ranges.length} request(s) of at most ${limits.max_instances}`;
  drawAnswers(header, rows, answers);
  batch.dataset.answered = String(answers.length);
}

document.getElementById("csv").addEventListener("change", async event => {
  const file = event.target.files[0];
  if (!file) return;
  document.getElementById("batch-answers").replaceChildren();
  document.getElementById("batch-status").textContent = "";
  delete batch.dataset.answered;
  try { showError(null); await runBatch(await file.text()); }
  catch (error) { showError(error); }
  event.target.value = "";  // the same file again re-sends it
});

const exampleHeader = Object.keys(example);
document.getElementById("batch-example").append(
  csvLink("example-csv", `${model}-example.csv`, exampleHeader, [exampleHeader.map(h => example[h])], "an example CSV"));
