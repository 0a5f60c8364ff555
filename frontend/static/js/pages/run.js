// One run: its status, rate, seeds and condition's settings, every response with its verdicts, its provenance.
import { api, shareToken } from "../api.js";
import { byId, el, setDefinitions, setRows } from "../dom.js";
import { rateText } from "../format.js";
import { coherenceCell, judgmentsCell } from "../responses.js";
import { settingsList } from "../settings.js";

const PAGE_SIZE = 25;

export async function init() {
  const runId = Number(window.location.pathname.split("/").pop());
  const run = await api(`/api/runs/${runId}`);
  const experiment = await api(`/api/experiments/${run.experiment_id}`);
  const measure = experiment.metrics[0];
  document.title = `Run ${run.id} · seedscope`;
  byId("title").textContent = `Run ${run.id}: ${run.condition_name}, seed ${run.seed}`;
  byId("back").setAttribute("href", shareToken ? `/share/${shareToken}` : `/experiments/${run.experiment_id}`);
  const timings = Object.entries(run.timings).map(([stage, seconds]) => `${stage} ${seconds}`).join(", ");
  setDefinitions(byId("meta"), [
    ["Status", run.status + (run.error ? `: ${run.error}` : "")],
    [measure.column, `${rateText(run.rate)}: ${measure.meaning}`],
    ["Evaluation", run.evaluation_index === 0 ? "original" : `re-evaluation ${run.evaluation_index} of run ${run.evaluation_of_id}`],
    ["Condition", settingsList(run.condition_settings, run.is_baseline)],
    ["Seeds", `LoRA init ${run.lora_init_seed}, data order ${run.data_order_seed}, subset ${run.data_subset_seed}, sampling ${run.sampling_seed}`],
    ["Timings (s)", timings || "—"],
  ]);
  byId("provenance").textContent = JSON.stringify(run.provenance, null, 2);
  let page = 1;
  async function renderGenerations() {
    const result = await api(`/api/runs/${runId}/generations?page=${page}&page_size=${PAGE_SIZE}`);
    setRows(byId("generations"), result.items.map((g) =>
      el("tr", { class: "response" },
        el("td", { class: "prompt" }, el("div", { class: "muted" }, g.prompt_external_id), el("div", {}, g.prompt_text)),
        el("td", {}, g.sample_index),
        judgmentsCell(g.judgments),
        coherenceCell(g),
        el("td", { class: "response-text" }, g.text))));
    const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
    byId("page-info").textContent = `page ${page}/${pages} (${result.total} responses)`;
    byId("prev").disabled = page <= 1;
    byId("next").disabled = page >= pages;
  }
  byId("prev").addEventListener("click", () => { page -= 1; renderGenerations(); });
  byId("next").addEventListener("click", () => { page += 1; renderGenerations(); });
  await renderGenerations();
}
