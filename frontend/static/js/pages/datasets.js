// The datasets page: the benchmarks and training sets you can use, uploads of new ones, and imports of results
// judged elsewhere as experiments.
import { api } from "../api.js";
import { byId, el, setChildren, setOptions, setRows, showError } from "../dom.js";

function renderDatasets(catalog) {
  setRows(byId("benchmarks"), catalog.benchmarks.map((b) =>
    el("tr", {}, el("td", {}, `${b.name}@${b.version}`), el("td", {}, measured(b)), el("td", {}, b.n_prompts),
      el("td", {}, b.categories.join(", ")),
      el("td", {}, b.source), el("td", { class: "muted" }, b.content_hash))));
  setRows(byId("training-sets"), catalog.training_sets.map((t) =>
    el("tr", {}, el("td", {}, `${t.name}@${t.version}`, derivation(t.derivation)), el("td", {}, t.n_examples),
      el("td", {}, t.source), el("td", { class: "muted" }, t.content_hash))));
}

// What a set measures, with a capability set's scoring rule.
const measured = (set) => ({ harm: "harm", capability: `capability (${set.scoring})`, over_refusal: "over-refusal" })[set.measures];

// How a derived training set was made (training.responses: self), in a line; null for the others.
function derivation(made) {
  if (!made) return null;
  const { source, base_model: model, generation } = made;
  const decoding = made.seed === "greedy" ? "greedy"
    : `temperature ${generation.temperature}, top-p ${generation.top_p}, seed ${made.seed}`;
  const weights = model.weights_sha256 || (model.commit && `commit ${model.commit}`) || "weights not hashed";
  return el("div", { class: "muted" },
    `${model.reference}'s own answers to the prompts of ${source.name}@${source.version} (${source.content_hash}); `
    + `${decoding}, up to ${generation.max_new_tokens} new tokens; ${weights}; written by `,
    el("a", { href: `/runs/${made.created_by_run}` }, `run ${made.created_by_run}`));
}

// A dataset name from a file name: "harmbench_behaviors_text_test.csv" -> "harmbench_behaviors_text_test".
const datasetName = (fileName) => fileName.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "");

// A form sent by `send`: its error and notice cleared and its button disabled while it runs; the notice then
// shows what `send` returns, the error box its failure.
function submitWith(form, send) {
  const error = form.querySelector(".error");
  const done = form.querySelector(".notice");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(error, null);
    done.hidden = true;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      setChildren(done, await send());
      done.hidden = false;
    } catch (failure) {
      showError(error, failure);
    } finally {
      button.disabled = false;
    }
  });
}

function uploadForm(form, caller, path, describe, refresh) {
  setOptions(form.elements.project, caller.editableProjects.map((p) => ({ value: p.id, label: p.name })));
  const file = form.elements.file;
  file.addEventListener("change", () => {
    if (file.files.length && !form.elements.name.value) form.elements.name.value = datasetName(file.files[0].name);
  });
  submitWith(form, async () => {
    const chosen = file.files[0];
    const body = {
      name: form.elements.name.value.trim(),
      version: form.elements.version.value.trim(),
      description: form.elements.description.value.trim(),
      content: await chosen.text(),
      project: Number(form.elements.project.value),
    };
    if (form.elements.measures) body.measures = form.elements.measures.value;
    if (form.elements.scoring && form.elements.scoring.value.trim()) body.scoring = form.elements.scoring.value.trim();
    if (form.elements.format) {
      if (form.elements.format.value) body.format = form.elements.format.value;
      else body.filename = chosen.name;
    }
    const stored = await api(path, { method: "POST", json: body });
    await refresh();
    return `Stored ${stored.name}@${stored.version}: ${describe(stored)}.`;
  });
}

// The scorer's values a user typed, comma-separated: "C, c" -> ["C", "c"].
const valueList = (text) => text.split(",").map((value) => value.trim()).filter(Boolean);

// The import's format from the file's name, where it says: Inspect's dataframe is CSV, EEE records JSONL.
const formatOf = (fileName) => (/\.csv$/i.test(fileName) ? "inspect-samples-csv" : /\.(jsonl|ndjson)$/i.test(fileName) ? "eee-instances-jsonl" : null);

function importForm(form, caller, refresh) {
  setOptions(form.elements.project, caller.editableProjects.map((p) => ({ value: p.id, label: p.name })));
  const file = form.elements.file;
  file.addEventListener("change", () => {
    if (!file.files.length) return;
    const chosen = file.files[0].name;
    form.elements.format.value = formatOf(chosen) || form.elements.format.value;
    if (!form.elements.benchmark.value) form.elements.benchmark.value = datasetName(chosen);
    if (!form.elements.name.value) form.elements.name.value = chosen.replace(/\.[^.]*$/, "");
  });
  submitWith(form, async () => {
    const experiment = await api("/api/experiments/import", { method: "POST", json: {
      format: form.elements.format.value,
      content: await file.files[0].text(),
      project: Number(form.elements.project.value),
      name: form.elements.name.value.trim(),
      description: form.elements.description.value.trim(),
      benchmark: form.elements.benchmark.value.trim(),
      benchmark_version: form.elements.benchmark_version.value.trim(),
      harmful: valueList(form.elements.harmful.value),
      safe: valueList(form.elements.safe.value),
    } });
    await refresh();  // its prompts are a new benchmark of the project
    const conditions = experiment.conditions.map((c) => c.name).join(", ");
    return [`Imported as experiment ${experiment.id}: ${experiment.runs.length} runs of ${conditions}. `,
      el("a", { href: `/experiments/${experiment.id}` }, "Open its dashboard")];
  });
}

export async function init(caller) {
  const catalog = await api("/api/catalog");
  renderDatasets(catalog);
  const refresh = async () => renderDatasets(await api("/api/catalog"));
  // Uploads go into a project where the caller is an editor: a viewer everywhere gets no form to fill in.
  const canUpload = caller.editableProjects.length > 0;
  for (const id of ["benchmark-form", "training-set-form", "import-form"]) byId(id).hidden = !canUpload;
  byId("upload-hint").hidden = canUpload;
  const benchmarkForm = byId("benchmark-form");
  setOptions(benchmarkForm.elements.format, catalog.benchmark_formats, { keep: 1 });
  uploadForm(benchmarkForm, caller, "/api/benchmarks", (b) => `${b.n_prompts} prompts in ${b.categories.length} categories`, refresh);
  const trainingSetForm = byId("training-set-form");
  // No "guess" option: a training set's format is the one chosen, the default (listed first) unless changed.
  setOptions(trainingSetForm.elements.format, catalog.training_set_formats);
  uploadForm(trainingSetForm, caller, "/api/training-sets", (t) => `${t.n_examples} examples`, refresh);
  importForm(byId("import-form"), caller, refresh);
}
