// Training jobs through the gateway's /admin/jobs: start one from an uploaded file, follow the
// selected job's progress and log every second, cancel it, open the candidate it trained.
"use strict";
// The trainer says `succeeded`; a person reads "done".
const SHOWN = {queued: "queued", running: "running", succeeded: "done", failed: "failed",
               cancelled: "cancelled"};
const RUNNING = new Set(["queued", "running"]);
const startForm = document.getElementById("start");
const wanted = location.hash.slice(1) || null;  // a job linked to as #<id>
let followed = null, generation = 0;  // a newer follow() ends the older poll chain

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleTimeString() : "–";
}

async function loadList() {
  try {
    const {jobs} = await api("/admin/jobs");
    document.querySelector("#jobs tbody").replaceChildren(...jobs.map(j => {
      const row = el("tr", {"data-job": j.id, class: j.id === followed ? "followed" : ""},
        el("td", {}, el("a", {href: `#${j.id}`, text: j.id})), el("td", {text: j.model}),
        el("td", {class: `state ${j.state}`, text: SHOWN[j.state] || j.state}),
        el("td", {text: when(j.created_at)}), el("td", {text: j.version || "–"}),
        el("td", {text: j.error || ""}));
      row.querySelector("a").addEventListener("click", () => follow(j.id));
      return row;
    }));
    showError(null);
    if (!followed && jobs.length) follow(wanted || jobs[0].id);
  } catch (error) { showError(error); }
}

// The version's scalar metrics, one level deep (`holdout.auc 0.7857`), the first few.
function metricsLine(metrics) {
  const out = [], shown = v => (Number.isInteger(v) ? String(v) : v.toFixed(4));
  for (const [k, v] of Object.entries(metrics || {})) {
    if (typeof v === "number") out.push(`${k} ${shown(v)}`);
    else if (v && typeof v === "object") {
      for (const [k2, v2] of Object.entries(v)) if (typeof v2 === "number") out.push(`${k}.${k2} ${shown(v2)}`);
    }
  }
  return out.slice(0, 8).join(" · ");
}

function drawJob(job) {
  const p = job.progress || {};
  document.getElementById("job").hidden = false;
  document.getElementById("job").dataset.state = job.state;
  document.getElementById("job-title").textContent = `${job.model} · job ${job.id}`;
  const state = document.getElementById("job-state");
  state.textContent = SHOWN[job.state] || job.state;
  state.className = `state ${job.state}`;
  document.getElementById("job-step").textContent = p.step || "";
  const bar = document.getElementById("job-bar");
  bar.style.width = `${p.percent ?? (RUNNING.has(job.state) ? 0 : 100)}%`;
  bar.className = job.state;
  const percent = p.percent === null || p.percent === undefined ? "no estimate yet" : `${p.percent}%`;
  document.getElementById("job-timing").textContent = `${percent} · ${p.elapsed_seconds ?? 0} s`
    + (p.estimate_from ? ` · estimated from ${p.estimate_from}` : "")
    + (p.bar ? ` · ${p.bar.name} ${p.bar.n}/${p.bar.total ?? "?"}` : "");
  const error = document.getElementById("job-error");
  error.hidden = !job.error;
  error.textContent = !job.error ? "" : job.error === job.state ? job.state
    : `${SHOWN[job.state] || job.state}: ${job.error}`;
  document.getElementById("cancel").hidden = !RUNNING.has(job.state);
  const link = document.getElementById("open-candidate");
  link.hidden = !(job.state === "succeeded" && job.version);
  if (!link.hidden) {
    link.href = `/console/releases/${job.model}`;
    link.textContent = `Open the candidate ${job.version} (releases of ${job.model})`;
  }
  document.getElementById("job-metrics").textContent = job.state === "succeeded"
    ? metricsLine(job.metrics) : "";
  document.getElementById("job-log").textContent = (job.log_tail || []).join("\n");
}

async function poll(id, mine) {
  try {
    const job = await api(`/admin/jobs/${id}`);
    if (mine !== generation) return;
    drawJob(job);
    showError(null);
    if (RUNNING.has(job.state)) { setTimeout(() => poll(id, mine), 1000); return; }
  } catch (error) { showError(error); }
  if (mine === generation) loadList();  // finished (or unreadable): the list's final state
}

function follow(id) {
  followed = id;
  generation += 1;
  document.querySelectorAll("#jobs tr.followed").forEach(r => r.classList.remove("followed"));
  document.querySelector(`#jobs tr[data-job="${id}"]`)?.classList.add("followed");
  poll(id, generation);
}

// The multipart form the trainer takes: model, the file as `data`, parameters as JSON.
function jobForm() {
  const fields = new FormData();
  const get = name => startForm.elements[name];
  fields.append("model", get("model").value);
  const parameters = {quick: get("quick").checked};
  if (get("seed").value !== "") parameters.seed = Number(get("seed").value);
  for (const name of ["target", "oos_target"]) {
    if (get(name).value.trim()) parameters[name] = get(name).value.trim();
  }
  fields.append("parameters", JSON.stringify(parameters));
  const file = get("data").files[0];
  if (file) fields.append("data", file, file.name);
  return fields;
}

startForm.addEventListener("submit", async event => {
  event.preventDefault();
  try {
    const job = await api("/admin/jobs", {method: "POST", body: jobForm()});
    showError(null);
    await loadList();
    follow(job.id);
  } catch (error) { showError(error); }
});

document.getElementById("cancel").addEventListener("click", async () => {
  try { drawJob(await api(`/admin/jobs/${followed}`, {method: "DELETE"})); } catch (error) { showError(error); }
  loadList();
});

loadList();
setInterval(loadList, 5000);
