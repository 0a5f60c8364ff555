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
  const input = (name, attributes) => el("td", {}, el("input", { name, ...attributes }));
  const finetune = el("input", { type: "checkbox", name: "finetune" });
  finetune.checked = values.finetune !== false;
  const row = el(
    "tr",
    { class: "condition" },
    input("name", { required: "", value: values.name || "", maxlength: "100", "aria-label": "condition name" }),
    el("td", {}, finetune),
    input("learning_rate", { value: values.learning_rate || "2e-4", size: "7", "aria-label": "learning rate" }),
    input("epochs", { type: "number", min: "1", value: "1", "aria-label": "epochs" }),
    input("rank", { type: "number", min: "1", value: "8", "aria-label": "LoRA rank" }),
    input("alpha", { type: "number", min: "0.001", step: "any", value: "16", "aria-label": "LoRA alpha" }),
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
  const value = (name) => row.querySelector(`[name=${name}]`).value.trim();
  const finetune = row.querySelector("[name=finetune]").checked;
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

const PAGE_SIZE = 5;

function renderMeta(experiment) {
  document.title = `${experiment.name} · seedscope`;
  document.getElementById("title").textContent = experiment.name;
  document.getElementById("description").textContent = experiment.description;
  const meta = document.getElementById("meta");
  meta.replaceChildren();
  const revision = experiment.base_model_revision ? ` @ ${experiment.base_model_revision}` : "";
  for (const [term, value] of [
    ["Base model", experiment.base_model + revision],
    ["Benchmark", experiment.benchmark],
    ["Training set", experiment.training_set],
    ["Judges", experiment.judges.join(", ")],
    ["Seeds", experiment.spec.seeds.join(", ")],
  ]) {
    meta.append(el("dt", {}, term), el("dd", {}, value));
  }
}

function renderRuns(experiment, refresh) {
  const body = document.querySelector("#runs tbody");
  body.replaceChildren(
    ...experiment.runs.map((run) => {
      const retry = run.status === "failed" || run.status === "cancelled"
        ? el("button", {
            type: "button",
            onclick: async () => {
              await api(`/api/runs/${run.id}/retry`, { method: "POST" });
              refresh();
            },
          }, "Retry")
        : null;
      const progress = TERMINAL.has(run.status) || run.status === "queued" ? "" : percent(run.progress);
      return el(
        "tr",
        { dataset: { runId: run.id, status: run.status } },
        el("td", {}, run.id),
        el("td", {}, run.condition_name),
        el("td", {}, run.seed),
        el("td", {}, statusBadge(run.status)),
        el("td", {}, progress),
        el("td", {}, rateText(run.rate)),
        el("td", { class: run.error ? "error-text" : "" }, run.error || run.progress_message),
        el("td", {}, retry),
      );
    }),
  );
  const unfinished = experiment.runs.filter((run) => !TERMINAL.has(run.status)).length;
  const partial = document.getElementById("partial");
  partial.hidden = unfinished === 0;
  partial.textContent = `${unfinished} of ${experiment.runs.length} runs still running: figures show partial data and update by themselves.`;
  document.getElementById("cancel").hidden = unfinished === 0;
  return unfinished;
}

async function renderFigure(experimentId) {
  const figure = await api(`/api/experiments/${experimentId}/figures/rates`);
  await Plotly.react("rates-figure", figure.data, figure.layout, { responsive: true, displaylogo: false });
}

async function renderResponses(experimentId, page) {
  const result = await api(`/api/experiments/${experimentId}/responses?page=${page}&page_size=${PAGE_SIZE}`);
  const rows = [];
  for (const prompt of result.items) {
    const span = Math.max(prompt.responses.length, 1);
    const promptCell = el(
      "td",
      { rowspan: String(span), class: "prompt" },
      el("div", { class: "muted" }, `${prompt.external_id} · ${prompt.category}`),
      el("div", {}, prompt.text),
    );
    if (prompt.responses.length === 0) {
      rows.push(el("tr", {}, promptCell, el("td", { colspan: "5", class: "muted" }, "no responses yet")));
      continue;
    }
    prompt.responses.forEach((response, index) => {
      const verdict = response.verdict
        ? el("span", { class: `badge verdict-${response.verdict}`, title: response.judge_output || "" }, response.verdict)
        : el("span", { class: "muted" }, "not judged");
      rows.push(
        el(
          "tr",
          { class: "response" },
          index === 0 ? promptCell : null,
          el("td", {}, response.condition_name),
          el("td", {}, response.seed),
          el("td", {}, response.sample_index),
          el("td", {}, verdict),
          el("td", { class: "response-text" }, response.text),
        ),
      );
    });
  }
  document.querySelector("#responses tbody").replaceChildren(...rows);
  const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
  document.getElementById("page-info").textContent = `prompts ${(page - 1) * PAGE_SIZE + 1}–${Math.min(page * PAGE_SIZE, result.total)} of ${result.total} (page ${page}/${pages})`;
  document.getElementById("prev").disabled = page <= 1;
  document.getElementById("next").disabled = page >= pages;
}

async function initExperiment() {
  const experimentId = Number(window.location.pathname.split("/").pop());
  let page = 1;
  let timer = null;

  async function refresh() {
    clearTimeout(timer);
    const experiment = await api(`/api/experiments/${experimentId}`);
    renderMeta(experiment);
    const unfinished = renderRuns(experiment, refresh);
    await Promise.all([renderFigure(experimentId), renderResponses(experimentId, page)]);
    if (unfinished > 0) timer = setTimeout(refresh, REFRESH_MS);
  }

  document.getElementById("prev").addEventListener("click", () => renderResponses(experimentId, --page));
  document.getElementById("next").addEventListener("click", () => renderResponses(experimentId, ++page));
  document.getElementById("cancel").addEventListener("click", async () => {
    await api(`/api/experiments/${experimentId}/cancel`, { method: "POST" });
    refresh();
  });
  await refresh();
}

const PAGES = { index: initIndex, new: initNew, experiment: initExperiment };

document.addEventListener("DOMContentLoaded", () => {
  PAGES[document.body.dataset.page]().catch((failure) => {
    document.querySelector("main").prepend(el("div", { class: "error", role: "alert" }, failure.message));
  });
});
