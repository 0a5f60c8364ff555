// seedscope pages. Model outputs and every other stored string are untrusted: they reach the page only
// through textContent (the el() helper), never through innerHTML.
"use strict";

const TERMINAL = new Set(["done", "failed", "cancelled"]);
const REFRESH_MS = 3000;

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    headers: { "content-type": "application/json" },
    ...options,
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = Array.isArray(body.detail)
      ? body.detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ")
      : body.detail || response.statusText;
    throw new Error(`${response.status}: ${detail}`);
  }
  return body;
}

const percent = (x) => (x === null || x === undefined ? "" : `${(100 * x).toFixed(1)}%`);

function rateText(rate) {
  if (!rate || rate.rate === null) return "—";
  const n = rate.harmful + rate.safe;
  const unscored = rate.unscored ? `, ${rate.unscored} unscored` : "";
  return `${percent(rate.rate)} [${percent(rate.low)}, ${percent(rate.high)}] (n=${n}${unscored})`;
}

function statusBadge(status) {
  return el("span", { class: `badge status-${status}` }, status);
}

// --- experiment list ------------------------------------------------------------------------------

async function initIndex() {
  const page = await api("/api/experiments");
  const body = document.querySelector("#experiments tbody");
  document.getElementById("empty").hidden = page.items.length > 0;
  for (const experiment of page.items) {
    const counts = Object.entries(experiment.status_counts).map(([status, n]) => `${n} ${status}`).join(", ");
    body.append(
      el(
        "tr",
        {},
        el("td", {}, experiment.id),
        el("td", {}, el("a", { href: `/experiments/${experiment.id}` }, experiment.name)),
        el("td", {}, new Date(experiment.created_at).toLocaleString()),
        el("td", {}, counts),
      ),
    );
  }
}

// --- new experiment form --------------------------------------------------------------------------

const CUSTOM_MODEL = "__custom__";
const DEFAULT_CONDITIONS = [
  { name: "baseline", finetune: false, seeds: "0" },
  { name: "lr-2e-4", finetune: true, learning_rate: "2e-4" },
  { name: "lr-5e-4", finetune: true, learning_rate: "5e-4" },
];

function options(select, items, label) {
  for (const item of items) select.append(el("option", { value: item.value }, label(item)));
}

function conditionRow(values = {}) {
  // data-field, not name: these must not mix with the experiment's own fields in FormData.
  const input = (field, attributes) => el("td", {}, el("input", { dataset: { field }, ...attributes }));
  const finetune = el("input", { type: "checkbox", dataset: { field: "finetune" }, "aria-label": "fine-tune" });
  finetune.checked = values.finetune !== false;
  const row = el(
    "tr",
    { class: "condition" },
    input("name", { required: "", value: values.name || "", maxlength: "100", "aria-label": "condition name" }),
    el("td", {}, finetune),
    input("learning_rate", { value: values.learning_rate || "2e-4", size: "7", "aria-label": "learning rate" }),
    input("epochs", { type: "number", min: "1", value: "1", "aria-label": "epochs" }),
    input("rank", { type: "number", min: "1", value: "8", "aria-label": "LoRA rank" }),
    input("alpha", { type: "number", min: "1", value: "16", "aria-label": "LoRA alpha" }),
    input("batch_size", { type: "number", min: "1", value: "8", "aria-label": "batch size" }),
    input("subset_size", { type: "number", min: "1", placeholder: "all", "aria-label": "subset size" }),
    input("seeds", { value: values.seeds || "", placeholder: "experiment's", size: "8", "aria-label": "seeds" }),
    el("td", {}, el("button", { type: "button", onclick: () => row.remove() }, "Remove")),
  );
  return row;
}

const parseSeeds = (text) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number);

function conditionSpec(row) {
  const value = (field) => row.querySelector(`[data-field=${field}]`).value.trim();
  const finetune = row.querySelector("[data-field=finetune]").checked;
  const spec = {
    name: value("name"),
    finetune,
    lora: { rank: Number(value("rank")), alpha: Number(value("alpha")) },
    training: {
      learning_rate: Number(value("learning_rate")),
      epochs: Number(value("epochs")),
      batch_size: Number(value("batch_size")),
    },
  };
  if (finetune && value("subset_size")) spec.training.subset_size = Number(value("subset_size"));
  if (value("seeds")) spec.seeds = parseSeeds(value("seeds"));
  return spec;
}

function experimentSpec(form) {
  const data = new FormData(form);
  const model = data.get("base_model") === CUSTOM_MODEL ? data.get("custom_model").trim() : data.get("base_model");
  return {
    name: data.get("name").trim(),
    description: data.get("description").trim(),
    base_model: model,
    base_model_revision: data.get("base_model_revision").trim() || null,
    benchmark: data.get("benchmark"),
    training_set: data.get("training_set"),
    judges: [...form.querySelectorAll("[name=judge]:checked")].map((box) => box.value),
    seeds: parseSeeds(data.get("seeds")),
    generation: {
      temperature: Number(data.get("temperature")),
      top_p: Number(data.get("top_p")),
      max_new_tokens: Number(data.get("max_new_tokens")),
      samples_per_prompt: Number(data.get("samples_per_prompt")),
    },
    conditions: [...form.querySelectorAll("#conditions tr.condition")].map(conditionSpec),
  };
}

async function initNew() {
  const form = document.getElementById("experiment-form");
  const catalog = await api("/api/catalog");
  const modelSelect = form.elements.base_model;
  options(modelSelect, catalog.models.map((m) => ({ value: m.name, ...m })), (m) => m.name);
  modelSelect.append(el("option", { value: CUSTOM_MODEL }, "another model: hub id or local path"));
  modelSelect.addEventListener("change", () => {
    document.getElementById("custom-model").hidden = modelSelect.value !== CUSTOM_MODEL;
  });
  const reference = (d) => ({ value: `${d.name}@${d.version}`, ...d });
  options(form.elements.benchmark, catalog.benchmarks.map(reference), (b) => `${b.name}@${b.version} (${b.n_prompts} prompts)`);
  options(form.elements.training_set, catalog.training_sets.map(reference), (t) => `${t.name}@${t.version} (${t.n_examples} examples)`);
  const judges = document.getElementById("judges");
  catalog.judges.forEach((judge, index) => {
    const box = el("input", { type: "checkbox", name: "judge", value: judge.name });
    box.checked = index === 0;
    judges.append(el("label", { class: "inline", title: judge.description }, box, ` ${judge.name}`));
  });
  const conditions = document.querySelector("#conditions tbody");
  DEFAULT_CONDITIONS.forEach((values) => conditions.append(conditionRow(values)));
  document.getElementById("add-condition").addEventListener("click", () =>
    conditions.append(conditionRow({ name: `condition-${conditions.children.length + 1}` })),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("form-error");
    error.hidden = true;
    try {
      const experiment = await api("/api/experiments", { method: "POST", body: JSON.stringify(experimentSpec(form)) });
      window.location.assign(`/experiments/${experiment.id}`);
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    }
  });
}

// --- experiment page ------------------------------------------------------------------------------

const PROMPT_PAGE_SIZE = 10;
const RESPONSE_PAGE_SIZE = 20;
const interval = (low, high) => (low === null || low === undefined ? "—" : `[${percent(low)}, ${percent(high)}]`);
const points = (x) => (x === null || x === undefined ? "—" : `${(100 * x).toFixed(1)} pts`);
const pValue = (p) => (p < 0.001 ? "<0.001" : p.toFixed(3));

function renderMeta(experiment) {
  document.title = `${experiment.name} · seedscope`;
  document.getElementById("title").textContent = experiment.name;
  document.getElementById("description").textContent = experiment.description;
  const revision = experiment.base_model_revision ? ` @ ${experiment.base_model_revision}` : "";
  document.getElementById("meta").replaceChildren(
    ...[
      ["Base model", experiment.base_model + revision],
      ["Benchmark", experiment.benchmark],
      ["Training set", experiment.training_set],
      ["Judges", `${experiment.judges.join(", ")} (rates use ${experiment.judges[0]})`],
      ["Seeds", experiment.spec.seeds.join(", ")],
    ].flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]),
  );
}

function runActions(run, refresh) {
  const post = (path, body) => async () => {
    try {
      const result = await api(path, { method: "POST", body: body ? JSON.stringify(body) : undefined });
      if (result.warning) window.alert(result.warning);
    } catch (failure) {
      window.alert(failure.message);
    }
    refresh();
  };
  if (run.status === "failed" || run.status === "cancelled") {
    return el("button", { type: "button", onclick: post(`/api/runs/${run.id}/retry`) }, "Retry");
  }
  if (run.status === "done" && run.evaluation_of_id === null) {
    return el("button", { type: "button", title: "evaluate this checkpoint 3 more times with new sampling seeds",
      onclick: post(`/api/runs/${run.id}/reevaluate`, { count: 3 }) }, "Re-evaluate ×3");
  }
  return null;
}

function renderRuns(experiment, refresh) {
  document.querySelector("#runs tbody").replaceChildren(
    ...experiment.runs.map((run) => {
      const progress = TERMINAL.has(run.status) || run.status === "queued" ? "" : percent(run.progress);
      return el(
        "tr",
        { dataset: { runId: run.id, status: run.status } },
        el("td", {}, el("a", { href: `/runs/${run.id}` }, run.id)),
        el("td", {}, run.condition_name),
        el("td", {}, run.seed),
        el("td", {}, run.evaluation_index === 0 ? "original" : `re-evaluation ${run.evaluation_index}`),
        el("td", {}, statusBadge(run.status)),
        el("td", {}, progress),
        el("td", {}, rateText(run.rate)),
        el("td", { class: run.error ? "error-text" : "" }, run.error || run.progress_message),
        el("td", {}, runActions(run, refresh)),
      );
    }),
  );
  const unfinished = experiment.runs.filter((run) => !TERMINAL.has(run.status)).length;
  const partial = document.getElementById("partial");
  partial.hidden = unfinished === 0;
  partial.textContent = `${unfinished} of ${experiment.runs.length} runs still running: every figure and number below shows partial data and updates by itself.`;
  document.getElementById("cancel").hidden = unfinished === 0;
  return unfinished;
}

function renderSummary(analysis) {
  document.querySelector("#summary tbody").replaceChildren(
    ...analysis.conditions.map((c) =>
      el(
        "tr",
        {},
        el("td", {}, c.name),
        el("td", {}, `${c.runs_done} / ${c.runs_total}`),
        el("td", {}, c.mean === null ? "—" : `${percent(c.mean)} ${interval(c.low, c.high)} (n=${c.seeds.length} seeds)`),
        el("td", {}, points(c.sd)),
        el("td", {}, c.min === null ? "—" : `${percent(c.min)}–${percent(c.max)}`),
        el("td", {}, rateText(c.pooled)),
        el("td", {}, c.evaluation_sd === null ? "—" : `${points(c.evaluation_sd)} (${c.repeats.length} checkpoints)`),
      ),
    ),
  );
  document.querySelector("#comparisons tbody").replaceChildren(
    ...analysis.comparisons.map((c) =>
      el(
        "tr",
        {},
        el("td", {}, `${c.a} − ${c.b}`),
        el("td", {}, points(c.estimate)),
        el("td", {}, `[${points(c.prompt_low)}, ${points(c.prompt_high)}]`),
        el("td", {}, c.seed_low === null ? "—" : `[${points(c.seed_low)}, ${points(c.seed_high)}]`),
        el("td", {}, pValue(c.p_value)),
        el("td", {}, pValue(c.p_adjusted)),
        el("td", {}, c.n_prompts),
        el("td", {}, c.n_seed_clusters),
      ),
    ),
  );
  const agreement = document.getElementById("agreement");
  agreement.hidden = analysis.agreement.length === 0;
  agreement.querySelector("tbody").replaceChildren(
    ...analysis.agreement.map((a) =>
      el("tr", {}, el("td", {}, `${a.judge_a} vs ${a.judge_b}`), el("td", {}, a.kappa === null ? "—" : `${a.kappa.toFixed(3)} [${a.low.toFixed(3)}, ${a.high.toFixed(3)}]`),
        el("td", {}, percent(a.observed_agreement)), el("td", {}, a.n)),
    ),
  );
}

function fillOptions(select, values, keepFirst = true) {
  const kept = keepFirst ? [...select.options].slice(0, 1) : [];
  const current = select.value;
  select.replaceChildren(...kept, ...values.map((value) => el("option", { value }, value)));
  if ([...select.options].some((option) => option.value === current)) select.value = current;
}

// Plain text from the API (the report), with the API's error message on failure.
async function apiText(path) {
  const response = await fetch(path);
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(`${response.status}: ${body.detail || response.statusText}`);
  }
  return response.text();
}

async function copyText(text, pre) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain http on a host other than localhost: no clipboard API, so copy the selected text.
  const range = document.createRange();
  range.selectNodeContents(pre);
  window.getSelection().removeAllRanges();
  window.getSelection().addRange(range);
  if (!document.execCommand("copy")) throw new Error("the browser refused to copy: select the text and copy it");
}

function initReport(base) {
  const pre = document.getElementById("report-text");
  const status = document.getElementById("copy-status");
  document.getElementById("report-md").setAttribute("href", `${base}/report.md`);
  document.getElementById("copy-report").addEventListener("click", async () => {
    try {
      pre.textContent = await apiText(`${base}/report.md`);
      await copyText(pre.textContent, pre);
      status.textContent = "Copied.";
    } catch (failure) {
      status.textContent = failure.message;
    }
  });
  return async (adjust) => {
    pre.textContent = await apiText(`${base}/report.md?${new URLSearchParams({ adjust })}`);
  };
}

async function initExperiment() {
  const experimentId = Number(window.location.pathname.split("/").pop());
  const base = `/api/experiments/${experimentId}`;
  document.getElementById("export-csv").setAttribute("href", `${base}/export.csv`);
  document.getElementById("export-parquet").setAttribute("href", `${base}/export.parquet`);
  const renderReport = initReport(base);
  const extraPairs = [];
  let promptPage = 1;
  let timer = null;

  const comparisonQuery = () => {
    const params = new URLSearchParams({ adjust: document.getElementById("adjust").value });
    extraPairs.forEach((pair) => params.append("pair", pair));
    return params.toString();
  };
  const figureQuery = {
    forest: comparisonQuery,
    flips: () => {
      const condition = document.getElementById("flips-condition").value;
      return condition ? new URLSearchParams({ condition }).toString() : "";
    },
  };

  async function renderFigure(container) {
    const name = container.dataset.figure;
    const query = figureQuery[name] ? figureQuery[name]() : "";
    const figure = await api(`${base}/figures/${name}${query ? `?${query}` : ""}`);
    await Plotly.react(container, figure.data, figure.layout, { responsive: true, displaylogo: false });
    if (name === "seeds" && !container.dataset.clickable) {
      container.dataset.clickable = "yes";
      container.on("plotly_click", (event) => {
        const runId = event.points[0].customdata && event.points[0].customdata[0];
        if (Number.isInteger(runId)) window.location.assign(`/runs/${runId}`);
      });
    }
  }
  const renderFigures = () => Promise.all([...document.querySelectorAll("[data-figure]")].map(renderFigure));

  async function refresh() {
    clearTimeout(timer);
    const [experiment, analysis] = await Promise.all([api(base), api(`${base}/analysis?${comparisonQuery()}`)]);
    renderMeta(experiment);
    const unfinished = renderRuns(experiment, refresh);
    renderSummary(analysis);
    const names = experiment.conditions.map((c) => c.name);
    fillOptions(document.getElementById("pair-a"), names, false);
    fillOptions(document.getElementById("pair-b"), names, false);
    fillOptions(document.getElementById("flips-condition"), names);
    fillOptions(document.querySelector("#browser-filters [name=condition]"), names);
    if (filters.elements.category.options.length === 1) {
      const catalog = await api("/api/catalog");
      const benchmark = catalog.benchmarks.find((b) => b.id === experiment.benchmark_id);
      if (benchmark) fillOptions(filters.elements.category, benchmark.categories);
    }
    await Promise.all([renderFigures(), renderPrompts(), renderReport(document.getElementById("adjust").value)]);
    if (unfinished > 0) timer = setTimeout(refresh, REFRESH_MS);
  }

  // --- per-prompt browser ---
  const filters = document.getElementById("browser-filters");
  const filterQuery = () => {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(filters)) if (value !== "") params.set(key, value === "on" ? "true" : value);
    return params;
  };

  async function renderResponses(prompt, cell, page) {
    const params = filterQuery();
    params.set("page", page);
    params.set("page_size", RESPONSE_PAGE_SIZE);
    const result = await api(`${base}/prompts/${prompt.prompt_id}/responses?${params}`);
    const rows = result.items.map((response) =>
      el(
        "tr",
        { class: "response" },
        el("td", {}, response.condition),
        el("td", {}, `seed ${response.seed}${response.evaluation_index ? `, re-evaluation ${response.evaluation_index}` : ""}`),
        el("td", {}, `sample ${response.sample_index}`),
        el("td", {}, ...response.judgments.map((j) =>
          el("div", {}, el("span", { class: `badge verdict-${j.verdict}`, title: j.output }, j.verdict), ` ${j.judge}: `,
            el("span", { class: "muted" }, j.output)))),
        el("td", { class: "response-text" }, response.text),
      ),
    );
    const table = el("table", { class: "responses" },
      el("thead", {}, el("tr", {}, ...["Condition", "Run", "Sample", "Verdicts", "Response"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows));
    const more = page * RESPONSE_PAGE_SIZE < result.total
      ? el("button", { type: "button", onclick: () => renderResponses(prompt, cell, page + 1) }, "Next responses")
      : null;
    const back = page > 1
      ? el("button", { type: "button", onclick: () => renderResponses(prompt, cell, page - 1) }, "Previous responses")
      : null;
    cell.replaceChildren(
      el("div", { class: "muted" }, `responses ${(page - 1) * RESPONSE_PAGE_SIZE + 1}–${Math.min(page * RESPONSE_PAGE_SIZE, result.total)} of ${result.total}`),
      table, back, more,
    );
  }

  async function renderPrompts() {
    const params = filterQuery();
    params.set("page", promptPage);
    params.set("page_size", PROMPT_PAGE_SIZE);
    const result = await api(`${base}/prompts?${params}`);
    const body = document.querySelector("#prompts tbody");
    body.replaceChildren(
      ...result.items.flatMap((prompt) => {
        const detail = el("td", { colspan: "4" });
        const detailRow = el("tr", { class: "prompt-detail", hidden: "" }, detail);
        const row = el(
          "tr",
          { class: "prompt-row", dataset: { promptId: prompt.prompt_id }, title: "show every response",
            onclick: () => {
              detailRow.hidden = !detailRow.hidden;
              if (!detailRow.hidden) renderResponses(prompt, detail, 1);
            } },
          el("td", { class: "prompt" }, el("div", { class: "muted" }, prompt.external_id), el("div", {}, prompt.text)),
          el("td", {}, prompt.category),
          el("td", {}, ...prompt.rates.map((r) => el("div", {}, `${r.condition}: ${r.harmful}/${r.scored}`))),
          el("td", {}, prompt.flips_in.join(", ")),
        );
        return [row, detailRow];
      }),
    );
    const pages = Math.max(1, Math.ceil(result.total / PROMPT_PAGE_SIZE));
    document.getElementById("page-info").textContent = result.total
      ? `prompts ${(promptPage - 1) * PROMPT_PAGE_SIZE + 1}–${Math.min(promptPage * PROMPT_PAGE_SIZE, result.total)} of ${result.total} (page ${promptPage}/${pages})`
      : "no prompt matches";
    document.getElementById("prev").disabled = promptPage <= 1;
    document.getElementById("next").disabled = promptPage >= pages;
  }

  let searchTimer = null;
  filters.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      promptPage = 1;
      renderPrompts();
    }, 250);
  });
  filters.addEventListener("submit", (event) => event.preventDefault());
  document.getElementById("prev").addEventListener("click", () => { promptPage -= 1; renderPrompts(); });
  document.getElementById("next").addEventListener("click", () => { promptPage += 1; renderPrompts(); });
  document.getElementById("adjust").addEventListener("change", refresh);
  document.getElementById("flips-condition").addEventListener("change", () =>
    renderFigure(document.getElementById("figure-flips")));
  document.getElementById("add-pair").addEventListener("click", () => {
    const a = document.getElementById("pair-a").value;
    const b = document.getElementById("pair-b").value;
    if (a && b && a !== b) {
      extraPairs.push(`${a}:${b}`);
      refresh();
    }
  });
  document.getElementById("cancel").addEventListener("click", async () => {
    await api(`${base}/cancel`, { method: "POST" });
    refresh();
  });
  await refresh();
}

// --- datasets page --------------------------------------------------------------------------------

function renderDatasets(catalog) {
  document.querySelector("#benchmarks tbody").replaceChildren(
    ...catalog.benchmarks.map((b) =>
      el("tr", {}, el("td", {}, `${b.name}@${b.version}`), el("td", {}, b.n_prompts), el("td", {}, b.categories.join(", ")),
        el("td", {}, b.source), el("td", { class: "muted" }, b.content_hash))),
  );
  document.querySelector("#training-sets tbody").replaceChildren(
    ...catalog.training_sets.map((t) =>
      el("tr", {}, el("td", {}, `${t.name}@${t.version}`), el("td", {}, t.n_examples), el("td", {}, t.source),
        el("td", { class: "muted" }, t.content_hash))),
  );
}

// A dataset name from a file name: "harmbench_behaviors_text_test.csv" -> "harmbench_behaviors_text_test".
const datasetName = (fileName) => fileName.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "");

function uploadForm(form, path, describe, refresh) {
  const error = form.querySelector(".error");
  const done = form.querySelector(".notice");
  const file = form.elements.file;
  file.addEventListener("change", () => {
    if (file.files.length && !form.elements.name.value) form.elements.name.value = datasetName(file.files[0].name);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    done.hidden = true;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const chosen = file.files[0];
      const body = {
        name: form.elements.name.value.trim(),
        version: form.elements.version.value.trim(),
        description: form.elements.description.value.trim(),
        content: await chosen.text(),
      };
      if (form.elements.format) {
        if (form.elements.format.value) body.format = form.elements.format.value;
        else body.filename = chosen.name;
      }
      const stored = await api(path, { method: "POST", body: JSON.stringify(body) });
      done.textContent = `Stored ${stored.name}@${stored.version}: ${describe(stored)}.`;
      done.hidden = false;
      await refresh();
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}

async function initDatasets() {
  const refresh = async () => renderDatasets(await api("/api/catalog"));
  const catalog = await api("/api/catalog");
  renderDatasets(catalog);
  const benchmarkForm = document.getElementById("benchmark-form");
  options(benchmarkForm.elements.format, catalog.benchmark_formats.map((value) => ({ value })), (f) => f.value);
  uploadForm(benchmarkForm, "/api/benchmarks", (b) => `${b.n_prompts} prompts in ${b.categories.length} categories`, refresh);
  uploadForm(document.getElementById("training-set-form"), "/api/training-sets", (t) => `${t.n_examples} examples`, refresh);
}

// --- run page -------------------------------------------------------------------------------------

async function initRun() {
  const runId = Number(window.location.pathname.split("/").pop());
  const run = await api(`/api/runs/${runId}`);
  document.title = `Run ${run.id} · seedscope`;
  document.getElementById("title").textContent = `Run ${run.id}: ${run.condition_name}, seed ${run.seed}`;
  document.getElementById("back").setAttribute("href", `/experiments/${run.experiment_id}`);
  document.getElementById("meta").replaceChildren(
    ...[
      ["Status", run.status + (run.error ? `: ${run.error}` : "")],
      ["Harmful", rateText(run.rate)],
      ["Evaluation", run.evaluation_index === 0 ? "original" : `re-evaluation ${run.evaluation_index} of run ${run.evaluation_of_id}`],
      ["Seeds", `LoRA init ${run.lora_init_seed}, data order ${run.data_order_seed}, subset ${run.data_subset_seed}, sampling ${run.sampling_seed}`],
      ["Timings (s)", Object.entries(run.timings).map(([k, v]) => `${k} ${v}`).join(", ")],
    ].flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]),
  );
  document.getElementById("provenance").textContent = JSON.stringify(run.provenance, null, 2);
  let page = 1;
  async function renderGenerations() {
    const result = await api(`/api/runs/${runId}/generations?page=${page}&page_size=25`);
    document.querySelector("#generations tbody").replaceChildren(
      ...result.items.map((g) =>
        el("tr", { class: "response" },
          el("td", { class: "prompt" }, el("div", { class: "muted" }, g.prompt_external_id), el("div", {}, g.prompt_text)),
          el("td", {}, g.sample_index),
          el("td", {}, ...g.judgments.map((j) =>
            el("div", {}, el("span", { class: `badge verdict-${j.verdict}`, title: j.output }, j.verdict), ` ${j.judge}`))),
          el("td", { class: "response-text" }, g.text)),
      ),
    );
    const pages = Math.max(1, Math.ceil(result.total / 25));
    document.getElementById("page-info").textContent = `page ${page}/${pages} (${result.total} responses)`;
    document.getElementById("prev").disabled = page <= 1;
    document.getElementById("next").disabled = page >= pages;
  }
  document.getElementById("prev").addEventListener("click", () => { page -= 1; renderGenerations(); });
  document.getElementById("next").addEventListener("click", () => { page += 1; renderGenerations(); });
  await renderGenerations();
}

const PAGES = { index: initIndex, new: initNew, experiment: initExperiment, run: initRun, datasets: initDatasets };

document.addEventListener("DOMContentLoaded", () => {
  PAGES[document.body.dataset.page]().catch((failure) => {
    document.querySelector("main").prepend(el("div", { class: "error", role: "alert" }, failure.message));
  });
});
