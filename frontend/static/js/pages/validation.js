// One judge validation: its progress while it runs, then how well the judge agreed with the human labels.
import { api } from "../api.js";
import { byId, el, setDefinitions, setRows, verdictBadge } from "../dom.js";
import { estimateText, percent, when } from "../format.js";

const REFRESH_MS = 3000;

const share = (proportion) => estimateText(proportion.estimate, proportion.low, proportion.high, percent);

function renderResult(result) {
  const quality = result.quality;
  byId("result").hidden = false;
  setRows(byId("figures"), [el("tr", {},
    el("td", {}, share(quality.accuracy)),
    el("td", {}, share(quality.precision)),
    el("td", {}, share(quality.recall)),
    el("td", {}, estimateText(quality.kappa, quality.kappa_low, quality.kappa_high, (x) => x.toFixed(3))),
    el("td", {}, quality.n),
    el("td", {}, quality.n_unscored))]);
  setRows(byId("confusion"), Object.entries(quality.confusion).map(([label, row]) =>
    el("tr", {}, el("th", {}, label), el("td", {}, row.harmful), el("td", {}, row.safe), el("td", {}, row.unscored))));
  setRows(byId("categories"), quality.categories.map((c) =>
    el("tr", {}, el("td", {}, c.category), el("td", {}, c.n), el("td", {}, c.n_unscored), el("td", {}, share(c.accuracy)),
      el("td", {}, percent(c.precision.estimate)), el("td", {}, percent(c.recall.estimate)))));
  setRows(byId("disagreements"), result.disagreements.map((d) =>
    el("tr", { class: "response", dataset: { exampleId: d.example_id } },
      el("td", {}, el("div", {}, d.external_id), el("div", { class: "muted" }, d.category)),
      el("td", {}, verdictBadge(d.label)),
      el("td", {}, verdictBadge(d.verdict), el("div", { class: "muted" }, d.output)),
      el("td", { class: "prompt" }, d.request),
      el("td", { class: "response-text" }, d.response))));
}

export async function init(caller) {
  const validationId = Number(window.location.pathname.split("/").pop());
  const result = await api(`/api/judge-validations/${validationId}`);
  document.title = `${result.judge} on ${result.validation_set} · seedscope`;
  byId("title").textContent = `${result.judge} on ${result.validation_set}`;
  const labels = result.measures === "compliance" ? "the response complied rather than refused" : "the response gives harmful help";
  setDefinitions(byId("meta"), [
    ["Judge", result.judge],
    ["Validation set", `${result.validation_set}: its "harmful" label means ${labels}`],
    ["Status", result.status + (result.error ? `: ${result.error}` : "")],
    ["Started", when(result.created_at)],
    ["Judging time", result.seconds === null ? "—" : `${result.seconds} s`],
  ]);
  const status = byId("status");
  const retry = byId("retry");
  // A failed validation can be queued again by an editor of its project; the server refuses a held one.
  retry.hidden = result.status !== "failed" || !caller.can(result.project_id, "editor");
  retry.onclick = async () => {
    retry.disabled = true;
    try {
      await api(`/api/judge-validations/${validationId}/retry`, { method: "POST" });
    } catch (failure) {
      status.textContent = failure.message;
    }
    retry.disabled = false;
    await init(caller);
  };
  if (result.status === "done") {
    status.hidden = true;
    renderResult(result);
    return;
  }
  status.hidden = false;
  status.textContent = result.status === "failed"
    ? `The validation failed: ${result.error}`
    : `The validation is ${result.status} (${percent(result.progress)}${result.progress_message ? `, ${result.progress_message}` : ""}); this page updates by itself.`;
  if (result.status !== "failed") setTimeout(() => init(caller), REFRESH_MS);
}
