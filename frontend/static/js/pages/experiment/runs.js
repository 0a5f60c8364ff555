// The runs table: each run's status, progress and rate, and what an editor can do with it.
import { api, shareToken } from "../../api.js";
import { byId, el, setRows, statusBadge } from "../../dom.js";
import { incoherentShare, percent, rateText } from "../../format.js";

export const TERMINAL = new Set(["done", "failed", "cancelled"]);

export const unfinishedRuns = (experiment) => experiment.runs.filter((run) => !TERMINAL.has(run.status));

/** Where a run's page is for this visitor: null for a "figures only" share link, which may not open it. */
export function runHref(runId, caller) {
  if (!shareToken) return `/runs/${runId}`;
  return caller.share.scope === "responses" ? `/share/${shareToken}/runs/${runId}` : null;
}

function runAction(run, act) {
  if (run.status === "failed" || run.status === "cancelled") {
    return el("button", { type: "button", onclick: () => act(`/api/runs/${run.id}/retry`) }, "Retry");
  }
  if (run.status === "done" && run.evaluation_of_id === null) {
    return el("button", { type: "button", title: "evaluate this checkpoint 3 more times with new sampling seeds",
      onclick: () => act(`/api/runs/${run.id}/reevaluate`, { count: 3 }) }, "Re-evaluate ×3");
  }
  return null;
}

/** The share of a run's judged responses that are coherent, or "—" where coherence was not measured. */
function coherentText(rate) {
  const share = incoherentShare(rate);
  return share === null ? "—" : percent(1 - share);
}

/** The runs table, and the notice of unfinished runs. `onChange` runs after an editor's action. */
export function renderRuns(experiment, { caller, canEdit, onChange }) {
  const act = async (path, body) => {
    try {
      const result = await api(path, { method: "POST", json: body });
      if (result && result.warning) window.alert(result.warning);
    } catch (failure) {
      window.alert(failure.message);
    }
    onChange();
  };
  setRows(byId("runs"), experiment.runs.map((run) => {
    const href = runHref(run.id, caller);
    return el("tr", { dataset: { runId: run.id, status: run.status } },
      el("td", {}, href ? el("a", { href }, run.id) : run.id),
      el("td", {}, run.condition_name),
      el("td", {}, run.seed),
      el("td", {}, run.evaluation_index === 0 ? "original" : `re-evaluation ${run.evaluation_index}`),
      el("td", {}, run.added_in === 0 ? "" : `later (extension ${run.added_in})`),
      el("td", {}, statusBadge(run.status)),
      el("td", {}, TERMINAL.has(run.status) || run.status === "queued" ? "" : percent(run.progress)),
      el("td", {}, rateText(run.rate)),
      el("td", {}, coherentText(run.rate)),
      el("td", { class: run.error ? "error-text" : null }, run.error || run.progress_message),
      // An imported experiment's runs were made elsewhere: nothing here can retry or re-evaluate them.
      el("td", {}, canEdit && experiment.runs_here ? runAction(run, act) : null));
  }));
  const unfinished = unfinishedRuns(experiment).length;
  byId("cancel").hidden = unfinished === 0 || !canEdit;
  return unfinished;
}
