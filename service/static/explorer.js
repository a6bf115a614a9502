// Schedule explorer: catalog -> form built from the kind's JSON Schema -> curve redrawn on every
// change (downsampled with `points`), overlays, per-group curves, momentum, exports.
import { api, authFetch, chart, COLORS, debounce, download, el, evaluateCurve, fmt } from "./common.js";
import { pythonSnippet } from "./python_snippet.js";

const state = { catalog: [], kind: null, overlays: [], plot: null, last: null, revision: 0 };

// How a schema property is edited: number, integer, bool, enum, string or JSON text.
function fieldKind(prop) {
  const options = prop.anyOf || [prop];
  const solid = options.filter((o) => o.type !== "null");
  const nullable = solid.length < options.length;
  if (solid.length === 1) {
    const o = solid[0];
    if (o.enum) return { kind: "enum", values: o.enum, nullable };
    if (["boolean", "integer", "number", "string"].includes(o.type)) return { kind: o.type, nullable };
  }
  return { kind: "json", nullable };
}

// A starting value for a required field without a default, guessed from its name.
function guess(name, kind, steps) {
  if (kind === "json") return /schedul/i.test(name) ? "[]" : "[]";
  if (kind === "boolean") return false;
  if (/warm/i.test(name)) return Math.round(steps / 10);
  if (/total|max_?(steps|iter|update)|T_max|training_steps|decay_steps|num_steps|period|cycle_len|steps/i
      .test(name)) return steps;
  if (kind === "integer") return Math.round(steps / 4);
  if (/lr|value|rate/i.test(name)) return 0.1;
  return 0.5;
}

function buildForm(kind, form, steps) {
  form.replaceChildren();
  const schema = kind.parameters || {};
  const required = new Set(schema.required || []);
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    if ("const" in prop) continue; // fixed by the library (last_epoch = -1)
    const f = fieldKind(prop);
    const has = "default" in prop;
    const start = has ? prop.default : required.has(name) ? guess(name, f.kind, steps) : null;
    let input;
    if (f.kind === "boolean") input = el("input", { type: "checkbox", checked: !!start });
    else if (f.kind === "enum") {
      input = el("select", {}, f.nullable ? el("option", { value: "" }, "(none)") : null,
                 f.values.map((v) => el("option", { value: v, selected: v === start }, v)));
    } else {
      const text = start === null ? "" : f.kind === "json" ? JSON.stringify(start) : String(start);
      input = el("input", { type: f.kind === "json" || f.kind === "string" ? "text" : "number",
                            step: "any", value: text, placeholder: f.nullable ? "null" : "" });
    }
    input.dataset.param = name;
    input.dataset.kind = f.kind;
    form.append(el("label", {}, name, required.has(name) ? el("span", { class: "req" }, " *") : null),
                input, el("div", { class: "field-error", "data-error-for": `schedule.${name}` }));
  }
}

function readSpec(kind, form) {
  const spec = { type: kind.name };
  if (state.catalog.filter((k) => k.name === kind.name).length > 1) spec.library = kind.library;
  for (const input of form.querySelectorAll("[data-param]")) {
    const name = input.dataset.param;
    if (input.dataset.kind === "boolean") { spec[name] = input.checked; continue; }
    const raw = input.value.trim();
    if (raw === "") continue;
    if (input.dataset.kind === "integer" || input.dataset.kind === "number") spec[name] = Number(raw);
    else if (input.dataset.kind === "json") {
      try { spec[name] = JSON.parse(raw); } catch { spec[name] = raw; }
    } else spec[name] = raw;
  }
  return spec;
}

function readRequest(root, kind) {
  const value = (id) => root.querySelector(id).value.trim();
  const lrs = value("#base-lr").split(",").map((s) => Number(s.trim())).filter((v) => !isNaN(v));
  const request = {
    schedule: readSpec(kind, root.querySelector("#params")),
    steps: Number(value("#steps")),
    base_lr: lrs.length > 1 ? lrs : lrs[0] ?? null,
  };
  const points = Number(value("#points"));
  if (points > 0) request.points = points;
  if (kind.takes_metrics && value("#metrics")) {
    try { request.metrics = JSON.parse(value("#metrics")); } catch { request.metrics = null; }
  }
  return request;
}

// One table per curve: [x, lr per group..., momentum per group...] and their series options.
function table(answer, label, offset) {
  const n = answer.lr[0].length;
  const xs = answer.index || Float64Array.from({ length: n }, (_, i) => i);
  const series = [];
  const columns = [xs];
  answer.lr.forEach((values, g) => {
    columns.push(values);
    series.push({ label: `${label} lr${answer.lr.length > 1 ? ` g${g}` : ""}`, scale: "lr",
                  stroke: COLORS[(offset + g) % COLORS.length], width: 1.5 });
  });
  (answer.momentum || []).forEach((values, g) => {
    columns.push(values);
    series.push({ label: `${label} momentum${answer.lr.length > 1 ? ` g${g}` : ""}`,
                  scale: "m", stroke: COLORS[(offset + g) % COLORS.length], dash: [6, 4] });
  });
  return { columns, series };
}

function draw(root) {
  const container = root.querySelector("#explorer-chart");
  if (!state.last) return;
  const tables = [table(state.last.answer, state.last.label, 0)];
  state.overlays.forEach((o, i) => tables.push(table(o.answer, o.label, i + 2)));
  const data = tables.length === 1 ? tables[0].columns : uPlot.join(tables.map((t) => t.columns));
  const series = tables.flatMap((t) => t.series).map((s) => ({ ...s, spanGaps: true }));
  const hasMomentum = series.some((s) => s.scale === "m");
  const readout = root.querySelector("#readout");
  state.plot?.destroy();
  state.plot = chart(container, {
    series, data,
    scales: { x: {}, lr: { auto: true }, ...(hasMomentum ? { m: { auto: true } } : {}) },
    axes: [{ label: "step" }, { scale: "lr", label: "lr", size: 70 },
           ...(hasMomentum ? [{ scale: "m", side: 1, label: "momentum", grid: { show: false } }] : [])],
    hooks: { setCursor: [(u) => {
      const i = u.cursor.idx;
      if (i === null || i === undefined) return;
      readout.textContent = `step ${u.data[0][i]}: ` + series.map((s, k) =>
        `${s.label} ${fmt(u.data[k + 1][i], 8)}`).join(" · ");
    }] },
  });
  const first = state.last.answer.lr[0];
  container.dataset.points = String(first.length);
  container.dataset.checksum = first.reduce((a, b) => a + b, 0).toPrecision(12);
  container.dataset.revision = String(++state.revision);
  container.dataset.series = String(series.length);
}

function showError(root, error) {
  root.querySelectorAll(".field-error").forEach((e) => { e.textContent = ""; });
  root.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
  if (!error) return;
  const slot = root.querySelector(`[data-error-for="${error.field}"]`) ||
               root.querySelector('[data-error-for="general"]');
  slot.textContent = error.field ? `${error.field}: ${error.message}` : error.message;
  slot.previousElementSibling?.classList?.add("invalid");
}

async function refresh(root) {
  const kind = state.kind;
  const request = readRequest(root, kind);
  root.querySelector("#snippet").textContent = pythonSnippet(request.schedule, kind.library, request);
  try {
    const answer = await evaluateCurve(request);
    if (kind !== state.kind) return;
    state.last = { answer, request, label: kind.name };
    showError(root, null);
    draw(root);
  } catch (error) {
    showError(root, error);
  }
}

function selectKind(root, name) {
  const [library, kindName] = name.split("/");
  state.kind = state.catalog.find((k) => k.library === library && k.name === kindName);
  root.querySelector("#doc").textContent = state.kind.doc;
  root.querySelector("#metrics-box").hidden = !state.kind.takes_metrics;
  buildForm(state.kind, root.querySelector("#params"), Number(root.querySelector("#steps").value));
  refresh(root);
}

async function exportCsv(root) {
  const request = { ...state.last.request };
  if (request.steps <= 1_000_000) delete request.points; // every step when reasonable
  const response = await authFetch("/v1/schedules/evaluate", {
    method: "POST", body: JSON.stringify(request),
    headers: { "Content-Type": "application/json", Accept: "text/csv" },
  });
  download(`${state.kind.name}.csv`, await response.blob());
}

function exportPng() {
  const source = state.plot.ctx.canvas;
  const canvas = el("canvas", { width: source.width, height: source.height });
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(source, 0, 0);
  canvas.toBlob((blob) => download(`${state.kind.name}.png`, blob));
}

function renderOverlays(root) {
  const list = root.querySelector("#overlays");
  list.replaceChildren(...state.overlays.map((o, i) => el("div", { class: "overlay-item" },
    el("span", {}, o.label), el("button", { onclick: () => {
      state.overlays.splice(i, 1); renderOverlays(root); draw(root);
    } }, "remove"))));
}

export function renderExplorer(view) {
  const root = el("div", { class: "row" },
    el("div", { class: "panel side" },
      el("label", {}, "Schedule kind"), el("select", { id: "kind" }),
      el("div", { class: "doc", id: "doc" }),
      el("label", {}, "steps (optimizer updates)"), el("input", { id: "steps", type: "number", value: "10000" }),
      el("label", {}, "base_lr (comma: one per param group)"), el("input", { id: "base-lr", value: "0.1" }),
      el("label", {}, "points (downsampling buckets; 0: every step)"),
      el("input", { id: "points", type: "number", value: "1000" }),
      el("div", { id: "metrics-box", hidden: true },
        el("label", {}, "metrics (JSON list, one per call)"), el("textarea", { id: "metrics", rows: 3 })),
      el("div", { id: "params" }),
      el("div", { class: "field-error", "data-error-for": "general" }),
      el("div", { class: "field-error", "data-error-for": "steps" }),
      el("div", { class: "field-error", "data-error-for": "base_lr" })),
    el("div", { class: "grow" },
      el("div", { class: "panel" },
        el("div", { id: "explorer-chart" }),
        el("div", { class: "readout", id: "readout" }, "hover the chart for step and LR"),
        el("button", { id: "pin", onclick: () => {
          if (!state.last) return;
          const s = state.last.request.schedule;
          state.overlays.push({ answer: state.last.answer,
                                label: `${s.type} #${state.overlays.length + 1}` });
          renderOverlays(root); draw(root);
        } }, "Overlay: keep this curve"),
        el("button", { id: "export-csv", onclick: () => exportCsv(root) }, "Export CSV"),
        el("button", { id: "export-png", onclick: exportPng }, "Export PNG"),
        el("button", { id: "copy-python", onclick: () =>
          navigator.clipboard?.writeText(root.querySelector("#snippet").textContent) }, "Copy as Python"),
        el("div", { id: "overlays" })),
      el("div", { class: "panel" }, el("strong", {}, "Python"), el("pre", { class: "snippet", id: "snippet" }))));
  view.append(root);
  const update = debounce(() => refresh(root), 150);
  root.addEventListener("input", (e) => { if (e.target.id !== "kind") update(); });
  root.addEventListener("change", (e) => { if (e.target.type === "checkbox" || e.target.tagName === "SELECT") update(); });
  const select = root.querySelector("#kind");
  select.addEventListener("change", () => selectKind(root, select.value));
  api("/v1/schedules/kinds").then(({ kinds }) => {
    state.catalog = kinds;
    const libraries = [...new Set(kinds.map((k) => k.library))];
    select.replaceChildren(...libraries.map((lib) => el("optgroup", { label: lib },
      kinds.filter((k) => k.library === lib).map((k) =>
        el("option", { value: `${k.library}/${k.name}` }, k.name)))));
    const start = new URLSearchParams(location.hash.split("?")[1] || "").get("kind") ||
                  "torch/CosineAnnealingLR";
    select.value = kinds.some((k) => `${k.library}/${k.name}` === start) ? start : select.options[0].value;
    selectKind(root, select.value);
  });
  const onResize = debounce(() => draw(root), 200);
  window.addEventListener("resize", onResize);
  return () => { window.removeEventListener("resize", onResize); state.plot?.destroy(); state.plot = null; };
}
