// The dashboard's router: #/explorer, #/jobs, #/jobs/<id>.
import { initAuth } from "./common.js";
import { renderExplorer } from "./explorer.js";
import { renderJobs, renderJob } from "./jobs.js";

let cleanup = null;

function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const view = document.getElementById("view");
  view.replaceChildren();
  const hash = location.hash || "#/explorer";
  const job = hash.match(/^#\/jobs\/([^/]+)$/);
  if (job) cleanup = renderJob(view, decodeURIComponent(job[1]));
  else if (hash.startsWith("#/jobs")) cleanup = renderJobs(view);
  else cleanup = renderExplorer(view);
}

window.addEventListener("hashchange", route);
initAuth();
route();
