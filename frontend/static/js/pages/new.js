// The new-experiment form. It starts from the server's draft definition and states the server's bounds
// (GET /api/experiments/draft); before launch it shows the run count and what the design could detect
// (POST /api/experiments/plan); a refused submission shows which field is wrong, in words.
import { api } from "../api.js";
import { byId, el, setChildren, setOptions } from "../dom.js";
import { detectable } from "../format.js";
import { applyBounds, fieldName, fieldSchema } from "../schema.js";

const CUSTOM_MODEL = "__custom__";
const parseNumbers = (text) => text.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
// The settings a condition row edits: [spec path, label, input attributes, (text to value, value to text)
// where the value is a list]. A baseline trains nothing, so its training and LoRA inputs are disabled (they
// would be ignored).
const TRAINING_FIELDS = [
  [["training", "learning_rate"], "learning rate", { size: "7" }],
  [["training", "epochs"], "epochs", { type: "number" }],
  [["lora", "rank"], "LoRA rank", { type: "number" }],
  [["lora", "alpha"], "LoRA alpha", { type: "number" }],
  [["training", "batch_size"], "batch size", { type: "number" }],
  [["training", "subset_size"], "subset size", { type: "number", placeholder: "all" }],
  [["training", "holdout"], "held-out share", { size: "4", placeholder: "none" }],
  [["training", "evaluate_at"], "evaluate at fractions", { size: "7", placeholder: "end" }, [parseNumbers, (list) => list.join(", ")]],
];

const at = (object, path) => path.reduce((value, key) => (value === undefined || value === null ? undefined : value[key]), object);

class ConditionRows {
  constructor(body, schema, onChange) {
    this.body = body;
    this.schema = schema;
    this.onChange = onChange;
  }

  add(condition) {
    const field = (path) => fieldSchema(this.schema, ["conditions", "*", ...path]);
    const finetune = el("input", { type: "checkbox", dataset: { field: "finetune" }, "aria-label": "fine-tune" });
    finetune.checked = condition.finetune !== false;
    // data-field, not name: these must not mix with the experiment's own fields in FormData.
    const inputs = TRAINING_FIELDS.map(([path, label, attributes, list]) => {
      const input = el("input", { dataset: { field: path.join(".") }, "aria-label": label, ...attributes });
      if (!list) applyBounds(input, field(path));
      const value = at(condition, path) ?? field(path)?.default;
      input.value = value === null || value === undefined ? "" : list ? list[1](value) : String(value);
      return input;
    });
    const name = el("input", { required: "", value: condition.name || "", maxlength: "100", dataset: { field: "name" }, "aria-label": "condition name" });
    // The condition's own setup; empty: the experiment's.
    const setup = (key, choices, label) => el("input", { value: condition[key] || "", placeholder: "default", size: "14", list: choices, dataset: { field: key }, "aria-label": label });
    const model = setup("base_model", "model-choices", "base model");
    const trainingSet = setup("training_set", "training-set-choices", "training set");
    const seeds = el("input", { value: (condition.seeds || []).join(", "), placeholder: "experiment's", size: "8", dataset: { field: "seeds" }, "aria-label": "seeds" });
    const row = el("tr", { class: "condition" },
      el("td", {}, name), el("td", {}, finetune), el("td", {}, model), el("td", {}, trainingSet),
      inputs.map((input) => el("td", {}, input)), el("td", {}, seeds),
      el("td", {}, el("button", { type: "button", onclick: () => { row.remove(); this.onChange(); } }, "Remove")));
    const showTraining = () => {
      for (const input of [trainingSet, ...inputs]) input.disabled = !finetune.checked;
      row.classList.toggle("baseline", !finetune.checked);
    };
    finetune.addEventListener("change", showTraining);
    showTraining();
    this.body.append(row);
  }

  get rows() {
    return [...this.body.querySelectorAll("tr.condition")];
  }

  specs() {
    return this.rows.map((row) => {
      const value = (field) => row.querySelector(`[data-field="${field}"]`).value.trim();
      const spec = { name: value("name"), finetune: row.querySelector("[data-field=finetune]").checked };
      if (value("base_model")) spec.base_model = value("base_model");
      if (spec.finetune && value("training_set")) spec.training_set = value("training_set");
      if (spec.finetune) {
        for (const [path, , , list] of TRAINING_FIELDS) {
          const text = value(path.join("."));
          if (text === "") continue;
          const [group, key] = path;
          spec[group] = { ...(spec[group] || {}), [key]: list ? list[0](text) : Number(text) };
        }
      }
      if (value("seeds")) spec.seeds = parseNumbers(value("seeds"));
      return spec;
    });
  }
}

class GridFactors {
  /** `fields`: the condition fields a grid may vary (from the schema); `examples`: example levels of the
   * fields whose levels are names (base_model, training_set, training.responses), as text. */
  constructor(body, fields, examples, onChange) {
    this.body = body;
    this.fields = fields;
    this.examples = examples;
    this.onChange = onChange;
  }

  add() {
    const field = el("select", { dataset: { field: "factor" }, "aria-label": "factor" });
    setOptions(field, this.fields);
    const levels = el("input", { dataset: { field: "levels" }, size: "40", "aria-label": "levels" });
    const showExample = () => { levels.placeholder = this.examples[field.value] ?? "0.0002, 0.0005"; };
    field.addEventListener("change", showExample);
    showExample();
    const row = el("tr", { class: "factor" }, el("td", {}, field), el("td", {}, levels),
      el("td", {}, el("button", { type: "button", onclick: () => { row.remove(); this.onChange(); } }, "Remove")));
    this.body.append(row);
  }

  /** The grid, or null without factors. A level that is not a number goes as typed: the server names it. */
  spec() {
    const rows = [...this.body.querySelectorAll("tr.factor")];
    if (!rows.length) return null;
    const factors = {};
    for (const row of rows) {
      const text = row.querySelector("[data-field=levels]").value;
      factors[row.querySelector("[data-field=factor]").value] = text.split(",").map((s) => s.trim()).filter((s) => s !== "")
        .map((s) => (Number.isNaN(Number(s)) ? s : Number(s)));
    }
    return { factors };
  }
}

function experimentSpec(form, conditions, grid) {
  const data = new FormData(form);
  const model = data.get("base_model") === CUSTOM_MODEL ? data.get("custom_model").trim() : data.get("base_model");
  return {
    project: Number(data.get("project")),
    name: data.get("name").trim(),
    description: data.get("description").trim(),
    base_model: model,
    base_model_revision: data.get("base_model_revision").trim() || null,
    // One benchmark by its field, several as a list: the definition then reads as a person would write it.
    ...(data.getAll("benchmark").length > 1 ? { benchmarks: data.getAll("benchmark") } : { benchmark: data.get("benchmark") }),
    capability: data.getAll("capability"),
    over_refusal: data.getAll("over_refusal"),
    training_set: data.get("training_set"),
    judges: [...form.querySelectorAll("[name=judge]:checked")].map((box) => box.value),
    seeds: parseNumbers(data.get("seeds")),
    generation: Object.fromEntries(["temperature", "top_p", "max_new_tokens", "samples_per_prompt"].map((key) => [key, Number(data.get(key))])),
    conditions: conditions.specs(),
    grid: grid.spec(),
  };
}

/** A refusal in words: which condition (by its name) and which field, and what is wrong with it. */
function describeRefusal(failure, schema, conditionNames) {
  if (!failure.problems.length) return failure.message;
  return failure.problems.map((problem) => {
    const path = (problem.loc || []).slice(1);
    const words = [];
    const condition = path.indexOf("conditions");
    if (condition >= 0 && typeof path[condition + 1] === "number") {
      const index = path[condition + 1];
      words.push(`condition "${conditionNames[index] ?? index + 1}"`);
    }
    const field = path.filter((key) => typeof key !== "number");
    if (field.length && field[field.length - 1] !== "conditions") {
      words.push(fieldName(schema, path.map((key) => (typeof key === "number" ? "*" : key))));
    }
    const message = problem.msg.replace(/^Value error, /, "");
    return words.length ? `${words.join(", ")}: ${message}` : message;
  }).join("\n");
}

function fillGeneralFields(form, draft, schema) {
  form.elements.name.value = draft.name;
  form.elements.seeds.value = draft.seeds.join(", ");
  for (const key of ["temperature", "top_p", "max_new_tokens", "samples_per_prompt"]) {
    applyBounds(form.elements[key], fieldSchema(schema, ["generation", key]));
    form.elements[key].value = String(draft.generation[key]);
  }
}

export async function init(caller) {
  const form = byId("experiment-form");
  const editable = caller.editableProjects;
  if (editable.length === 0) {
    form.hidden = true;
    byId("viewer-notice").hidden = false;
    return;
  }
  const [catalog, { spec: draft, json_schema: schema }] = await Promise.all([api("/api/catalog"), api("/api/experiments/draft")]);
  fillGeneralFields(form, draft, schema);
  form.hidden = false;  // only once it holds the draft: nothing typed before is overwritten
  const modelSelect = form.elements.base_model;
  setOptions(modelSelect, [...catalog.models.map((m) => m.name), { value: CUSTOM_MODEL, label: "another model: hub id or local path" }]);
  modelSelect.value = draft.base_model;
  setChildren(byId("model-choices"), catalog.models.map((m) => el("option", { value: m.name })));
  modelSelect.addEventListener("change", () => { byId("custom-model").hidden = modelSelect.value !== CUSTOM_MODEL; });
  const projectSelect = form.elements.project;
  setOptions(projectSelect, editable.map((p) => ({ value: p.id, label: p.name })));

  // The built-in datasets and judges, and the chosen project's own; the draft's choices first.
  const inProject = (item) => item.project_id === null || item.project_id === Number(projectSelect.value);
  const draftJudges = new Set(draft.judges.map((ref) => ref.split("@")[0]));
  const judges = byId("judges");
  const fillChoices = () => {
    const sets = (measures) => catalog.benchmarks.filter((b) => inProject(b) && b.measures === measures)
      .map((b) => ({ value: `${b.name}@${b.version}`, label: `${b.name}@${b.version} (${b.n_prompts} prompts)` }));
    setOptions(form.elements.benchmark, sets("harm"));
    setOptions(form.elements.capability, sets("capability"));
    setOptions(form.elements.over_refusal, sets("over_refusal"));
    const trainingSets = catalog.training_sets.filter(inProject).map((t) => ({ value: `${t.name}@${t.version}`, label: `${t.name}@${t.version} (${t.n_examples} examples)` }));
    setOptions(form.elements.training_set, trainingSets);
    setChildren(byId("training-set-choices"), trainingSets.map((t) => el("option", { value: t.value }, t.label)));
    const checked = new Set([...judges.querySelectorAll("[name=judge]:checked")].map((box) => box.value));
    setChildren(judges, catalog.judges.filter(inProject).map((judge) => {
      const box = el("input", { type: "checkbox", name: "judge", value: judge.ref });
      box.checked = checked.size ? checked.has(judge.ref) : draftJudges.has(judge.name);
      return el("label", { class: "inline", title: judge.description }, box, ` ${judge.ref} (${judge.measures})`);
    }));
  };
  projectSelect.addEventListener("change", fillChoices);
  fillChoices();
  for (const [select, chosen] of [[form.elements.benchmark, draft.benchmark], [form.elements.training_set, draft.training_set]]) {
    if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
  }

  let planTimer = null;
  const schedulePlan = () => {
    clearTimeout(planTimer);
    planTimer = setTimeout(renderPlan, 400);
  };
  const conditions = new ConditionRows(document.querySelector("#conditions tbody"), schema, schedulePlan);
  draft.conditions.forEach((condition) => conditions.add(condition));
  byId("add-condition").addEventListener("click", () => {
    conditions.add({ name: `condition-${conditions.rows.length + 1}` });
    schedulePlan();
  });
  const gridFields = fieldSchema(schema, ["grid", "factors"])?.propertyNames?.enum ?? [];
  const examples = {
    base_model: catalog.models.map((m) => m.name).slice(0, 2).join(", "),
    training_set: catalog.training_sets.map((t) => t.name).slice(0, 2).join(", "),
    "training.responses": "human, self",
  };
  const grid = new GridFactors(document.querySelector("#grid-factors tbody"), gridFields, examples, schedulePlan);
  byId("add-factor").addEventListener("click", () => {
    grid.add();
    schedulePlan();
  });

  // Before launch: how many runs, and what the design could detect, from whose noise.
  async function renderPlan() {
    const box = byId("plan");
    try {
      const plan = await api("/api/experiments/plan", { method: "POST", json: experimentSpec(form, conditions, grid) });
      const basis = plan.basis_experiment_id
        ? el("a", { href: `/experiments/${plan.basis_experiment_id}` }, plan.sizing_basis)
        : plan.sizing_basis;
      const detect = plan.sizing
        ? [`could detect a difference of ${detectable(plan.sizing.minimum_detectable_difference)} with 80% power, for new seeds (95% range ${detectable(plan.sizing.low)} to ${detectable(plan.sizing.high)}; `, basis, ")."]
        : ["minimum detectable difference: not estimated (", basis, ")."];
      setChildren(box, el("strong", {}, `${plan.n_runs} runs`),
        ` (${plan.n_fine_tuned_runs} fine-tunes, ${plan.seeds_per_condition} seeds per fine-tuned condition); `, detect);
    } catch (failure) {
      setChildren(box, `Not ready to plan yet: ${describeRefusal(failure, schema, conditions.specs().map((c) => c.name))}`);
    }
  }
  form.addEventListener("input", schedulePlan);
  form.addEventListener("change", schedulePlan);
  renderPlan();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = byId("form-error");
    error.hidden = true;
    const spec = experimentSpec(form, conditions, grid);
    try {
      const experiment = await api("/api/experiments", { method: "POST", json: spec });
      window.location.assign(`/experiments/${experiment.id}`);
    } catch (failure) {
      error.textContent = describeRefusal(failure, schema, spec.conditions.map((c) => c.name));
      error.hidden = false;
    }
  });
}
