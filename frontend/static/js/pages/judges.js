// The judges page: definitions, validation sets, and validations of a judge against human labels.
import { api, apiWithBody } from "../api.js";
import { byId, el, setChildren, setOptions, setRows, showError, statusBadge } from "../dom.js";
import { kappaText, percent, validationText } from "../format.js";
import { stressTestView } from "../stress-tests.js";

const REFRESH_MS = 3000;

// A definition as the fields to submit: its configuration without the unset ones.
function judgeFields(judge, name) {
  const fields = { name, description: judge.description };
  for (const [key, value] of Object.entries(judge.config)) if (value !== null) fields[key] = value;
  return fields;
}

function bestValidation(judge, validations) {
  const fitting = validations.filter((v) => v.judge_id === judge.id && v.status === "done" && v.measures === judge.measures);
  fitting.sort((a, b) => (b.kappa ?? -2) - (a.kappa ?? -2) || b.n - a.n);
  return fitting[0] || null;
}

async function showDefinition(judge, caller) {
  byId("judge-detail").hidden = false;
  byId("judge-detail-title").textContent = `${judge.ref} (${caller.projectName(judge.project_id)}), ${judge.content_hash}`;
  byId("judge-detail-description").textContent = judge.description;
  byId("judge-detail-config").textContent = JSON.stringify(judge.config, null, 2);
  const detail = await api(`/api/judges/${judge.id}`);
  setChildren(byId("judge-detail-stress-tests"), detail.stress_tests.length
    ? detail.stress_tests.map((test) => stressTestView(test, { showExperiment: true }))
    : el("p", { class: "muted" }, "none yet"));
}

function judgeRow(judge, validations, caller) {
  const best = bestValidation(judge, validations);
  return el("tr", { dataset: { judge: judge.ref } },
    el("td", { title: judge.description }, judge.ref),
    el("td", {}, judge.config.kind),
    el("td", {}, judge.measures),
    el("td", {}, caller.projectName(judge.project_id)),
    el("td", {}, best ? el("a", { href: `/validations/${best.id}` }, validationText(best)) : el("span", { class: "muted" }, "not validated")),
    el("td", {}, el("button", { type: "button", onclick: () => showDefinition(judge, caller).catch((failure) => showError(byId("judges-error"), failure)) }, "Definition")));
}

function validationRow(v, caller) {
  return el("tr", { dataset: { validationId: v.id, status: v.status } },
    el("td", {}, v.judge),
    el("td", {}, `${v.validation_set} (${v.measures})`),
    el("td", {}, caller.projectName(v.project_id)),
    el("td", {}, statusBadge(v.status), v.status === "running" ? ` ${percent(v.progress)}` : null,
      v.error ? el("div", { class: "error-text" }, v.error) : null),
    el("td", {}, v.status === "done" ? kappaText(v) : ""),
    el("td", {}, v.status === "done" ? percent(v.accuracy) : ""),
    el("td", {}, v.n ?? ""),
    el("td", {}, v.n_unscored ?? ""),
    el("td", {}, el("a", { href: `/validations/${v.id}` }, "Result")));
}

// "Start from": every definition you can see, then the presets (StrongREJECT, ...).
function initStartingPoints(catalog, textarea) {
  const start = byId("judge-start");
  const starts = new Map();
  for (const judge of catalog.judges) {
    const builtIn = judge.project_id === null;
    starts.set(`definition:${judge.ref}`, judgeFields(judge, builtIn ? `my-${judge.name}` : judge.name));
    start.append(el("option", { value: `definition:${judge.ref}` }, `${judge.ref} (${builtIn ? "built-in" : "yours"})`));
  }
  for (const preset of catalog.judge_presets) {
    starts.set(`preset:${preset.name}`, preset.spec);
    start.append(el("option", { value: `preset:${preset.name}` }, `preset: ${preset.name}`));
  }
  const fill = () => { textarea.value = JSON.stringify(starts.get(start.value), null, 2); };
  start.addEventListener("change", fill);
  fill();
}

export async function init(caller) {
  const error = byId("judges-error");
  const editable = caller.editableProjects.map((p) => ({ value: p.id, label: p.name }));
  for (const form of ["judge-form", "set-form", "validate-form"]) setOptions(byId(form).elements.project, editable);
  for (const section of ["new-judge", "set-form", "validate-form"]) byId(section).hidden = editable.length === 0;
  const catalog = await api("/api/catalog");
  let timer = null;

  async function render() {
    clearTimeout(timer);
    const allVersions = byId("all-versions").checked;
    const [judges, sets, validations] = await Promise.all([
      api(`/api/judges?all_versions=${allVersions}`), api("/api/validation-sets"), api("/api/judge-validations")]);
    setRows(byId("judge-list"), judges.map((judge) => judgeRow(judge, validations, caller)));
    setRows(byId("validation-sets"), sets.map((set) =>
      el("tr", { dataset: { set: `${set.name}@${set.version}` } },
        el("td", { title: set.description }, `${set.name}@${set.version}`),
        el("td", {}, caller.projectName(set.project_id)),
        el("td", {}, set.measures),
        el("td", {}, set.n_examples),
        el("td", {}, set.n_harmful),
        el("td", {}, set.categories.join(", ")))));
    const validate = byId("validate-form");
    setOptions(validate.elements.judge, judges.map((judge) => judge.ref));
    setOptions(validate.elements.validation_set, sets.map((set) => `${set.name}@${set.version}`));
    setRows(byId("validations"), validations.map((v) => validationRow(v, caller)));
    if (validations.some((v) => v.status === "queued" || v.status === "running")) timer = setTimeout(render, REFRESH_MS);
  }

  // Each form's action, its failure shown in the page's error box.
  const onSubmit = (id, action) => byId(id).addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(error, null);
    try {
      await action(event.target);
    } catch (failure) {
      showError(error, failure);
    }
  });

  const textarea = byId("judge-form").elements.definition;
  initStartingPoints(catalog, textarea);
  onSubmit("judge-form", async (form) => {
    // JSON is YAML: the text goes to the YAML route, which takes either; the project chosen above wins.
    const text = textarea.value.trim();
    const project = Number(form.elements.project.value);
    const body = text.startsWith("{") ? JSON.stringify({ ...JSON.parse(text), project }) : `${text}\nproject: ${project}\n`;
    const judge = await apiWithBody("/api/judges/yaml", body, "application/yaml");
    const created = byId("judge-created");
    created.textContent = `Saved as ${judge.ref}.`;
    created.hidden = false;
    await render();
  });
  onSubmit("set-form", async (form) => {
    const data = new FormData(form);
    const content = await data.get("file").text();
    await api("/api/validation-sets", { method: "POST", json: {
      project: Number(data.get("project")), name: data.get("name"), version: data.get("version"),
      format: data.get("format"), measures: data.get("measures") || null, content } });
    form.reset();
    await render();
  });
  onSubmit("validate-form", async (form) => {
    const data = new FormData(form);
    await api("/api/judge-validations", { method: "POST", json: {
      project: Number(data.get("project")), judge: data.get("judge"), validation_set: data.get("validation_set") } });
    await render();
  });
  byId("all-versions").addEventListener("change", render);
  await render();
}
