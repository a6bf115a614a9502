// Jobs: the list (status, progress), the submit form (JSON spec, errors next to the field) and
// one job's page (live LR / loss / grad-norm charts over SSE, eval points, clipping marks).
import { api, authFetch, chart, COLORS, download, el, fmt, token, when, withToken } from "./common.js";

const EXAMPLE = {
  name: "digits-mlp", model: { name: "mlp" }, data: { name: "digits" },
  optimizer: { type: "AdamW", lr: 0.001 },
  schedule: { type: "get_cosine_schedule_with_warmup" },
  batch_size: 32, epochs: 2, warmup_ratio: 0.1, eval_every_steps: 20, max_grad_norm: 1.0,
};
const TERMINAL = ["succeeded", "failed", "cancelled"];

const statusBadge = (s) => el("span", { class: `status ${s}`, "data-status": s }, s);

function progressCell(job, progress) {
  const total = job.totals?.total_updates;
  const done = job.status === "succeeded" ? total : progress ? progress.step + 1 : 0;
  const pct = total ? Math.min(100, (100 * (done || 0)) / total) : 0;
  return el("td", {}, el("span", { class: "bar" }, el("div", { style: `width:${pct}%` })),
            ` ${done ?? 0}/${total ?? "?"}`);
}

async function loadList(tbody) {
  const { jobs } = await api("/v1/jobs?limit=100");
  const ids = jobs.filter((j) => j.status === "running").map((j) => j.id);
  const progress = ids.length
    ? (await api(`/dashboard/api/progress?ids=${ids.join(",")}`)).progress : {};
  tbody.replaceChildren(...jobs.map((job) => el("tr", { "data-job": job.id },
    el("td", {}, el("a", { href: `#/jobs/${job.id}` }, job.id.slice(0, 12))),
    el("td", {}, job.name || ""), el("td", {}, statusBadge(job.status)),
    progressCell(job, progress[job.id]), el("td", {}, job.device_class),
    el("td", {}, when(job.created_at)), el("td", {}, job.error ? job.error.message : ""))));
}

// The line of the pretty-printed spec where the dotted `field` is, for the error mark.
function lineOf(text, field) {
  const lines = text.split("\n");
  let from = 0;
  for (const key of (field || "").split(".")) {
    const at = lines.findIndex((l, i) => i >= from && l.trimStart().startsWith(`"${key}"`));
    if (at < 0) break;
    from = at;
  }
  return from;
}

function submitForm(onSubmitted) {
  const text = el("textarea", { id: "spec", spellcheck: false,
                                value: JSON.stringify(EXAMPLE, null, 2) });
  const gutter = el("div", { class: "gutter", id: "spec-errors" });
  const message = el("div", { class: "field-error", id: "submit-error" });
  const mark = (error) => {
    gutter.replaceChildren();
    message.textContent = "";
    text.classList.toggle("invalid", !!error);
    if (!error) return;
    const line = lineOf(text.value, error.field);
    gutter.append(el("div", { class: "mark", style: `top:${line * 16 + 3 - text.scrollTop}px` },
                     `◀ ${error.field || "spec"}: ${error.message}`));
    message.textContent = `${error.field || "spec"}: ${error.message}`;
  };
  const submit = async () => {
    let spec;
    try { spec = JSON.parse(text.value); } catch (e) { mark({ field: null, message: e.message }); return; }
    try {
      const job = await api("/v1/jobs", { method: "POST", body: spec,
                                          headers: { "Idempotency-Key": crypto.randomUUID?.() || String(Date.now()) } });
      mark(null);
      onSubmitted(job);
    } catch (error) { mark(error); }
  };
  return el("div", { class: "panel side", style: "width:560px" },
    el("strong", {}, "Submit a job"), el("div", { class: "doc" }, "JobSpec as JSON; errors show next to the field."),
    el("div", { class: "spec-editor" }, text, gutter), message,
    el("button", { class: "primary", id: "submit-job", onclick: submit }, "Submit"));
}

export function renderJobs(view) {
  const tbody = el("tbody", { id: "job-rows" });
  view.append(el("div", { class: "row" },
    el("div", { class: "grow" }, el("table", { class: "jobs" }, el("thead", {}, el("tr", {},
      ["Job", "Name", "Status", "Progress", "Device", "Created", "Error"].map((h) => el("th", {}, h)))),
      tbody)),
    submitForm((job) => { location.hash = `#/jobs/${job.id}`; })));
  let loading = null; // at most one load at a time (one may wait on the token box)
  const load = () => {
    loading ||= loadList(tbody).catch(() => {}).finally(() => { loading = null; });
  };
  load();
  const timer = setInterval(load, 2000);
  return () => clearInterval(timer);
}

// Live series of a job, appended from events; charts redrawn at most a few times a second.
class Series {
  constructor() {
    this.step = []; this.lr = []; this.loss = []; this.grad = []; this.clip = [];
    this.evalStep = []; this.evalLoss = []; this.evalAcc = []; this.seen = new Map();
  }
  add(d) {
    const lrs = d.lr || [];
    const at = this.seen.get(d.step); // a retried attempt replays steps: replace them
    const row = at ?? this.step.length;
    if (at === undefined) this.seen.set(d.step, row);
    this.step[row] = d.step;
    lrs.forEach((v, g) => { (this.lr[g] ||= [])[row] = v; });
    this.loss[row] = d.loss; this.grad[row] = d.grad_norm;
    this.clip[row] = d.clipped ? d.grad_norm : null;
  }
}

function jobCharts(box, s) {
  const x = s.step;
  const lrSeries = s.lr.map((_, g) => ({ label: `lr g${g}`, stroke: COLORS[g % COLORS.length], scale: "lr" }));
  const lossData = s.evalStep.length ? uPlot.join([[x, s.loss], [s.evalStep, s.evalLoss]])
    : [x, s.loss, x.map(() => null)];
  return [
    chart(box.querySelector("#chart-lr"), { title: "Learning rate", series: lrSeries, data: [x, ...s.lr],
      scales: { x: {}, lr: {} }, axes: [{ label: "step" }, { scale: "lr", label: "lr", size: 70 }] }),
    chart(box.querySelector("#chart-loss"), { title: "Loss (train line, eval points)",
      series: [{ label: "loss", stroke: COLORS[0], scale: "y" },
               { label: "val_loss", stroke: COLORS[1], width: 0, scale: "y", spanGaps: false,
                 points: { show: true, size: 8, fill: COLORS[1] } }],
      data: lossData, scales: { x: {}, y: {} }, axes: [{ label: "step" }, { scale: "y", label: "loss", size: 70 }] }),
    chart(box.querySelector("#chart-grad"), { title: "Gradient norm (red: clipped)",
      series: [{ label: "grad_norm", stroke: COLORS[2], scale: "y" },
               { label: "clipped", stroke: COLORS[1], width: 0, scale: "y", points: { show: true, size: 6, fill: COLORS[1] } }],
      data: [x, s.grad, s.clip], scales: { x: {}, y: {} }, axes: [{ label: "step" }, { scale: "y", label: "norm", size: 70 }] }),
  ];
}

function renderTotals(box, job) {
  const rows = Object.entries(job.totals || {}).map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v)));
  box.querySelector("#totals").replaceChildren(el("table", { class: "kv" }, rows));
  box.querySelector("#job-status").replaceChildren(statusBadge(job.status));
  box.querySelector("#job-error").textContent = job.error ? `${job.error.code}: ${job.error.message}` : "";
  box.querySelector("#cancel").hidden = TERMINAL.includes(job.status);
}

// A plain link cannot carry the bearer token: with one stored, fetch the bytes with it.
async function downloadArtifact(event, id, artifact) {
  if (!token()) return; // auth off: the link itself downloads
  event.preventDefault();
  const response = await authFetch(artifact.url);
  if (response.ok) download(`${id}-${artifact.name}.pt`, await response.blob());
}

async function renderArtifacts(box, id) {
  try {
    const { artifacts } = await api(`/v1/jobs/${id}/artifacts`);
    box.querySelector("#artifacts").replaceChildren(...artifacts.map((a) =>
      el("div", {}, el("a", { href: a.url, download: "", onclick: (e) => downloadArtifact(e, id, a) },
                       a.name), ` – ${a.doc}`)));
  } catch { /* not there yet */ }
}

export function renderJob(view, id) {
  const box = el("div", {},
    el("div", { class: "panel" }, el("a", { href: "#/jobs" }, "← jobs"), " ",
      el("strong", {}, `Job ${id}`), " ", el("span", { id: "job-status" }), " ",
      el("span", { id: "job-progress", "data-steps": "0" }), " ",
      el("button", { class: "danger", id: "cancel", onclick: async () => {
        renderTotals(box, await api(`/v1/jobs/${id}/cancel`, { method: "POST" }));
      } }, "Cancel"),
      el("div", { class: "field-error", id: "job-error" }),
      el("div", { class: "row" }, el("div", { id: "totals" }), el("div", { id: "artifacts" }),
        el("div", { id: "last-eval", class: "kv" }))),
    el("div", { class: "charts panel" }, el("div", { id: "chart-lr" }), el("div", { id: "chart-loss" }),
      el("div", { id: "chart-grad" })));
  view.append(box);
  const s = new Series();
  let job = null; let dirty = false; let plots = [];
  const redraw = () => {
    if (!dirty || !s.step.length) return;
    dirty = false;
    plots.forEach((p) => p.destroy());
    plots = jobCharts(box, s);
    const total = job?.totals?.total_updates;
    const done = s.step.length ? Math.max(...s.step.slice(-50)) + 1 : 0;
    const progress = box.querySelector("#job-progress");
    progress.dataset.steps = String(s.step.length);
    progress.textContent = `${done}/${total ?? "?"} steps`;
  };
  const timer = setInterval(redraw, 300);
  let source = null; let lastId = ""; let closed = false;
  const event = (type, handle) => source.addEventListener(type, (e) => {
    lastId = e.lastEventId || lastId;
    handle(JSON.parse(e.data).data);
  });
  // EventSource resumes by itself after a dropped connection (it sends Last-Event-ID), but gives
  // up on an HTTP error such as a 401: then check the token with a plain request (which asks for
  // a new one on 401) and open a new stream after the last event seen.
  const follow = () => {
    const after = lastId ? `?after=${encodeURIComponent(lastId)}` : "";
    source = new EventSource(withToken(`/v1/jobs/${id}/events${after}`));
    event("step", (d) => { s.add(d); dirty = true; });
    event("eval", (d) => {
      s.evalStep.push(d.step); s.evalLoss.push(d.val_loss); s.evalAcc.push(d.accuracy); dirty = true;
      box.querySelector("#last-eval").textContent =
        `eval @ ${d.step}: val_loss ${fmt(d.val_loss, 4)}, accuracy ${fmt(d.accuracy, 4)}`;
    });
    event("status", async (d) => {
      if (TERMINAL.includes(d.status)) {
        closed = true;
        source.close(); // the stream ends here; do not let EventSource reconnect
      }
      job = await api(`/v1/jobs/${id}`);
      renderTotals(box, job);
      if (TERMINAL.includes(d.status)) {
        dirty = true; redraw();
        box.dataset.done = d.status;
        renderArtifacts(box, id);
      }
    });
    const opened = source;
    source.onerror = () => {
      if (closed || opened.readyState !== EventSource.CLOSED) return;
      setTimeout(() => api(`/v1/jobs/${id}`).then(() => { if (!closed) follow(); }).catch(() => {}), 2000);
    };
  };
  api(`/v1/jobs/${id}`).then((j) => {
    job = j; renderTotals(box, j); renderArtifacts(box, id);
    if (!closed) follow();
  }).catch((error) => { box.querySelector("#job-error").textContent = error.message; });
  return () => { closed = true; source?.close(); clearInterval(timer); plots.forEach((p) => p.destroy()); };
}
