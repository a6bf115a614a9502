// Shared helpers of the dashboard pages: the API, DOM building, formatting, uPlot charts.

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = error?.code;
    this.field = error?.field;
  }
}

// Bearer-token auth (docs/security.md). With auth off the server never answers 401 and nothing
// is asked. With auth on, the first 401 shows the token box (#auth-box in index.html); the token
// is kept in localStorage, sent as `Authorization: Bearer` on every fetch and as `access_token`
// on EventSource URLs (which cannot carry headers). A 401 with a token asks again.
const TOKEN_KEY = "warmstep.token";
let asking = null; // the one pending prompt, shared by every request that met a 401

export const token = () => localStorage.getItem(TOKEN_KEY) || "";

function showTokenState() {
  document.getElementById("auth-forget").hidden = !token();
}

// Wire the header's "forget token" button (shown only while a token is stored).
export function initAuth() {
  document.getElementById("auth-forget").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    showTokenState();
  });
  showTokenState();
}

function askToken(rejected) {
  asking ||= new Promise((resolve) => {
    const box = document.getElementById("auth-box");
    const input = box.querySelector("#auth-token");
    box.querySelector("#auth-message").textContent = rejected
      ? "That token was not accepted: enter another one."
      : "This server needs a bearer token.";
    box.dataset.rejected = rejected ? "1" : "0";
    input.value = "";
    box.hidden = false;
    input.focus();
    box.onsubmit = (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) return;
      localStorage.setItem(TOKEN_KEY, value);
      box.hidden = true;
      asking = null;
      showTokenState();
      resolve();
    };
  });
  return asking;
}

// fetch with the stored token; on 401, ask for a token and send the request again.
export async function authFetch(path, init = {}) {
  for (;;) {
    const sent = token();
    const headers = { ...(init.headers || {}) };
    if (sent) headers.Authorization = `Bearer ${sent}`;
    const response = await fetch(path, { ...init, headers });
    if (response.status !== 401) return response;
    // Another request may have got a new token meanwhile: try that one before asking.
    if (token() === sent) await askToken(Boolean(sent));
  }
}

// An EventSource URL carrying the stored token (`?access_token=`), if any.
export function withToken(url) {
  const sent = token();
  if (!sent) return url;
  return `${url}${url.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(sent)}`;
}

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await authFetch(path, init);
  const text = await response.text();
  const data = text && (response.headers.get("content-type") || "").includes("json")
    ? JSON.parse(text) : text;
  if (!response.ok) throw new ApiError(response.status, data?.error);
  return data;
}

// el("div", {class: "x", onclick: f}, child, "text", ...)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key in node && key !== "list") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

export const fmt = (v, digits = 6) =>
  v === null || v === undefined ? "–" : typeof v === "number" ? Number(v.toPrecision(digits)) : v;

export const when = (s) => (s ? new Date(s * 1000).toLocaleString() : "–");

export const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2",
                       "#ca8a04", "#db2777", "#4b5563", "#65a30d"];

export function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// A uPlot chart sized to its container; `series` are uPlot series options after the x one.
export function chart(container, { title, series, data, axes, scales, hooks, xLabel = "step" }) {
  container.replaceChildren();
  const width = Math.max(360, container.clientWidth || 800);
  const options = {
    title, width, height: 300, series: [{ label: xLabel }, ...series],
    scales: scales || { x: { time: false } },
    axes: axes || [{ label: xLabel }, { label: "lr", size: 70 }],
    cursor: { drag: { x: true, y: false } },
    hooks: hooks || {},
  };
  options.scales.x = { time: false, ...(options.scales.x || {}) };
  return new uPlot(options, data, container);
}

export function download(name, blob) {
  const link = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// POST /v1/schedules/evaluate as little-endian float64 (no JSON encoding of 10^6 numbers):
// {steps, lr: [Float64Array per group], momentum: [...] | null, index: Float64Array | null}.
export async function evaluateCurve(request) {
  const response = await authFetch("/v1/schedules/evaluate", {
    method: "POST", body: JSON.stringify(request),
    headers: { "Content-Type": "application/json", Accept: "application/octet-stream" },
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new ApiError(response.status, body.error);
  }
  const [groups, n] = response.headers.get("X-Warmstep-Shape").split(",").map(Number);
  const buffer = await response.arrayBuffer();
  const block = groups * n * 8;
  const rows = (offset) => Array.from({ length: groups },
    (_, g) => new Float64Array(buffer.slice(offset + g * n * 8, offset + (g + 1) * n * 8)));
  const hasMomentum = response.headers.get("X-Warmstep-Momentum") === "1";
  let index = null;
  if (response.headers.get("X-Warmstep-Index") === "1") {
    const at = block * (hasMomentum ? 2 : 1);
    index = Float64Array.from(new BigInt64Array(buffer.slice(at, at + n * 8)), Number);
  }
  return { steps: Number(response.headers.get("X-Warmstep-Steps")), lr: rows(0),
           momentum: hasMomentum ? rows(block) : null, index };
}
