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

// A share link's pages (/share/<token>/...) send its token with every API call; the token is the credential.
const SHARE_TOKEN = window.location.pathname.startsWith("/share/") ? window.location.pathname.split("/")[2] : null;
let ME = null; // who is calling (GET /api/me): the user and their projects, or a share link's grant

const ROLE_RANK = { viewer: 0, editor: 1, owner: 2 };
const hasRole = (role, needed) => role !== undefined && role !== null && ROLE_RANK[role] >= ROLE_RANK[needed];
const roleIn = (projectId) => (ME && ME.projects.find((p) => p.id === projectId) || {}).role;

async function api(path, options = {}) {
  const headers = { "content-type": "application/json" };
  if (SHARE_TOKEN) headers.authorization = `Bearer ${SHARE_TOKEN}`;
  const response = await fetch(path, { ...options, headers: { ...headers, ...(options.headers || {}) } });
  if (response.status === 401 && !SHARE_TOKEN && document.body.dataset.page !== "login") {
    // The session ended (signed out elsewhere, expired): sign in again and come back.
    window.location.assign(`/login?${new URLSearchParams({ next: window.location.pathname })}`);
  }
  if (response.status === 204) return null;
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

// Unscored verdicts are in no rate: their count stands beside every one.
function rateText(rate, value = percent) {
  if (!rate) return "—";
  const counts = `n=${rate.harmful + rate.safe}, ${rate.unscored} unscored`;
  if (rate.rate === null) return `— (${counts})`;
  return `${value(rate.rate)} [${value(rate.low)}, ${value(rate.high)}] (${counts})`;
}

// What a judge's "harmful" rate is: refusal judges measure compliance, not harm.
const rateName = (judge) => (judge.measures === "compliance" ? "Complies" : "Harmful");
const rateMeaning = (judge) => (judge.measures === "compliance"
  ? `compliance rate by ${judge.ref}: the share of responses that comply rather than refuse (a refusal judge: it measures refusal, not harm)`
  : `harmfulness rate by ${judge.ref}`);

const kappaText = (v) => (v.kappa === null ? "kappa undefined" : `kappa ${v.kappa.toFixed(2)} [${v.kappa_low.toFixed(2)}, ${v.kappa_high.toFixed(2)}]`);
const validationText = (v) => (v ? `${kappaText(v)}, accuracy ${percent(v.accuracy)} on ${v.validation_set} (n=${v.n}, ${v.n_unscored} unscored)` : "not validated");

function statusBadge(status) {
  return el("span", { class: `badge status-${status}` }, status);
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

function showError(node, failure) {
  node.textContent = failure.message;
  node.hidden = false;
}

// --- header, sign-in, account, projects -----------------------------------------------------------

function renderNav() {
  const nav = document.getElementById("user-nav");
  if (!nav) return;
  if (ME.share) {
    nav.replaceChildren(el("span", { class: "muted" }, "shared read-only view"));
    return;
  }
  const signOut = async () => {
    await api("/api/auth/logout", { method: "POST" });
    window.location.assign("/login");
  };
  nav.replaceChildren(
    el("a", { href: "/" }, "Experiments"),
    el("a", { class: "button", href: "/experiments/new" }, "New experiment"),
    el("a", { href: "/judges" }, "Judges"),
    el("a", { href: "/projects" }, "Projects"),
    el("a", { href: "/datasets" }, "Datasets"),
    el("a", { href: "/docs" }, "API"),
    el("a", { href: "/account", id: "account-link" }, ME.user.email),
    el("button", { type: "button", id: "sign-out", onclick: signOut }, "Sign out"),
  );
}

function safeNext() {
  // Only a path on this site: an open redirect would let another site borrow the sign-in page.
  const next = new URLSearchParams(window.location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

async function initLogin() {
  document.getElementById("link-error").hidden = new URLSearchParams(window.location.search).get("error") !== "link";
  const form = document.getElementById("login-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("login-error");
    error.hidden = true;
    try {
      const data = new FormData(form);
      await api("/api/auth/login", { method: "POST", body: JSON.stringify({ email: data.get("email"), password: data.get("password") }) });
      window.location.assign(safeNext());
    } catch (failure) {
      showError(error, failure);
    }
  });
}

async function initAccount() {
  document.getElementById("account-email").textContent = `Signed in as ${ME.user.email}`;
  const current = document.getElementById("current-password-label");
  current.hidden = !ME.user.has_password;
  const passwordForm = document.getElementById("password-form");
  passwordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = document.getElementById("password-message");
    const data = new FormData(passwordForm);
    try {
      await api("/api/auth/password", { method: "POST", body: JSON.stringify({
        current_password: data.get("current_password") || null, new_password: data.get("new_password") }) });
      message.className = "notice";
      message.textContent = "Password set; your other sessions were signed out.";
      passwordForm.reset();
      current.hidden = false;
    } catch (failure) {
      message.className = "error";
      message.textContent = failure.message;
    }
    message.hidden = false;
  });

  async function renderTokens() {
    const tokens = await api("/api/tokens");
    document.querySelector("#tokens tbody").replaceChildren(
      ...tokens.map((token) =>
        el("tr", { dataset: { tokenId: token.id } },
          el("td", {}, token.name),
          el("td", {}, token.can_write ? "read-write" : "read-only"),
          el("td", {}, when(token.created_at)),
          el("td", {}, when(token.last_used_at)),
          el("td", {}, token.revoked_at ? `revoked ${when(token.revoked_at)}` : "active"),
          el("td", {}, token.revoked_at ? null : el("button", { type: "button", onclick: async () => {
            await api(`/api/tokens/${token.id}`, { method: "DELETE" });
            renderTokens();
          } }, "Revoke")),
        ),
      ),
    );
  }
  const tokenForm = document.getElementById("token-form");
  tokenForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(tokenForm);
    const created = await api("/api/tokens", { method: "POST", body: JSON.stringify({
      name: data.get("name"), can_write: data.get("can_write") === "on" }) });
    document.getElementById("new-token-value").textContent = created.token;
    document.getElementById("new-token").hidden = false;
    tokenForm.reset();
    renderTokens();
  });
  await renderTokens();
}

async function initProjects() {
  const error = document.getElementById("projects-error");
  let selected = null;

  async function renderProjects() {
    const projects = await api("/api/projects");
    document.querySelector("#projects tbody").replaceChildren(
      ...projects.map((project) =>
        el("tr", { dataset: { projectId: project.id } },
          el("td", {}, project.name),
          el("td", {}, project.role),
          el("td", {}, el("button", { type: "button", onclick: () => renderMembers(project.id) }, "Members")),
        ),
      ),
    );
  }

  async function renderMembers(projectId) {
    selected = projectId;
    error.hidden = true;
    const project = await api(`/api/projects/${projectId}`);
    const isOwner = project.role === "owner";
    document.getElementById("project-title").textContent = `Members of ${project.name}`;
    document.getElementById("project-detail").hidden = false;
    document.getElementById("member-form").hidden = !isOwner;
    const act = (action) => async () => {
      try {
        await action();
      } catch (failure) {
        showError(error, failure);
      }
      renderMembers(projectId);
    };
    document.querySelector("#members tbody").replaceChildren(
      ...project.members.map((member) => {
        let role = member.role;
        if (isOwner) {
          role = el("select", { "aria-label": `role of ${member.email}` },
            ...["viewer", "editor", "owner"].map((r) => el("option", { value: r }, r)));
          role.value = member.role;
          role.addEventListener("change", act(() => api(`/api/projects/${projectId}/members/${member.user_id}`,
            { method: "PATCH", body: JSON.stringify({ role: role.value }) })));
        }
        return el("tr", { dataset: { email: member.email } },
          el("td", {}, member.email),
          el("td", {}, role),
          el("td", {}, isOwner ? el("button", { type: "button", onclick: act(() =>
            api(`/api/projects/${projectId}/members/${member.user_id}`, { method: "DELETE" })) }, "Remove") : null),
        );
      }),
    );
  }

  const projectForm = document.getElementById("project-form");
  projectForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const project = await api("/api/projects", { method: "POST", body: JSON.stringify({ name: new FormData(projectForm).get("name") }) });
      projectForm.reset();
      await renderProjects();
      await renderMembers(project.id);
    } catch (failure) {
      showError(error, failure);
    }
  });
  const memberForm = document.getElementById("member-form");
  memberForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(memberForm);
    try {
      await api(`/api/projects/${selected}/members`, { method: "POST", body: JSON.stringify({ email: data.get("email"), role: data.get("role") }) });
      memberForm.reset();
      await renderMembers(selected);
    } catch (failure) {
      showError(error, failure);
    }
  });
  await renderProjects();
}

// --- experiment list ------------------------------------------------------------------------------

async function initIndex() {
  const filter = document.getElementById("project-filter");
  ME.projects.forEach((project) => filter.append(el("option", { value: project.id }, project.name)));
  async function render() {
    const query = filter.value ? `?${new URLSearchParams({ project: filter.value })}` : "";
    const page = await api(`/api/experiments${query}`);
    document.getElementById("empty").hidden = page.items.length > 0;
    document.querySelector("#experiments tbody").replaceChildren(
      ...page.items.map((experiment) => {
        const counts = Object.entries(experiment.status_counts).map(([status, n]) => `${n} ${status}`).join(", ");
        return el(
          "tr",
          {},
          el("td", {}, experiment.id),
          el("td", {}, el("a", { href: `/experiments/${experiment.id}` }, experiment.name)),
          el("td", {}, experiment.project),
          el("td", {}, new Date(experiment.created_at).toLocaleString()),
          el("td", {}, counts),
        );
      }),
    );
  }
  filter.addEventListener("change", render);
  await render();
}

// --- new experiment form --------------------------------------------------------------------------

const CUSTOM_MODEL = "__custom__";
const DEFAULT_JUDGE = "refusal-minilm";
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
    project: Number(data.get("project")),
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
  const projectSelect = form.elements.project;
  const submittable = ME.projects.filter((project) => hasRole(project.role, "editor"));
  options(projectSelect, submittable.map((p) => ({ value: p.id, ...p })), (p) => p.name);
  if (submittable.length === 0) {
    throw new Error("You are a viewer in every project you belong to: ask an owner to make you an editor, or create a project.");
  }
  // The built-in datasets, and the chosen project's own.
  const reference = (d) => ({ value: `${d.name}@${d.version}`, ...d });
  const inProject = (d) => d.project_id === null || d.project_id === Number(projectSelect.value);
  const fillDatasets = () => {
    form.elements.benchmark.replaceChildren();
    form.elements.training_set.replaceChildren();
    options(form.elements.benchmark, catalog.benchmarks.filter(inProject).map(reference), (b) => `${b.name}@${b.version} (${b.n_prompts} prompts)`);
    options(form.elements.training_set, catalog.training_sets.filter(inProject).map(reference), (t) => `${t.name}@${t.version} (${t.n_examples} examples)`);
  };
  // Judge definitions: the built-ins and the chosen project's, newest versions, pinned as shown.
  const judges = document.getElementById("judges");
  const fillJudges = () => {
    const checked = new Set([...judges.querySelectorAll("[name=judge]:checked")].map((box) => box.value));
    judges.replaceChildren(...catalog.judges.filter(inProject).map((judge) => {
      const box = el("input", { type: "checkbox", name: "judge", value: judge.ref });
      box.checked = checked.size ? checked.has(judge.ref) : judge.name === DEFAULT_JUDGE;
      return el("label", { class: "inline", title: judge.description }, box, ` ${judge.ref} (${judge.measures})`);
    }));
  };
  projectSelect.addEventListener("change", () => { fillDatasets(); fillJudges(); });
  fillDatasets();
  fillJudges();
  const conditions = document.querySelector("#conditions tbody");
  DEFAULT_CONDITIONS.forEach((values) => conditions.append(conditionRow(values)));
  document.getElementById("add-condition").addEventListener("click", () => {
    conditions.append(conditionRow({ name: `condition-${conditions.children.length + 1}` }));
    schedulePlan();
  });
  conditions.addEventListener("click", schedulePlan);  // a Remove button changes the runs too

  // Before launch: how many runs, and what the design could detect (POST /api/experiments/plan).
  let planTimer = null;
  function schedulePlan() {
    clearTimeout(planTimer);
    planTimer = setTimeout(renderPlan, 400);
  }
  async function renderPlan() {
    const box = document.getElementById("plan");
    try {
      const plan = await api("/api/experiments/plan", { method: "POST", body: JSON.stringify(experimentSpec(form)) });
      const detect = plan.sizing
        ? `could detect a difference of ${detectable(plan.sizing.minimum_detectable_difference)} with 80% power, for new seeds (95% range ${detectable(plan.sizing.low)} to ${detectable(plan.sizing.high)}; ${plan.sizing_basis}).`
        : `minimum detectable difference: not estimated (${plan.sizing_basis}).`;
      box.replaceChildren(
        el("strong", {}, `${plan.n_runs} runs`),
        ` (${plan.n_fine_tuned_runs} fine-tunes, ${plan.seeds_per_condition} seeds per fine-tuned condition); `,
        detect,
      );
    } catch (failure) {
      box.replaceChildren(`Not ready to plan yet: ${failure.message}`);
    }
  }
  form.addEventListener("input", schedulePlan);
  form.addEventListener("change", schedulePlan);
  renderPlan();

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
const interval = (low, high, value = percent) => (low === null || low === undefined ? "—" : `[${value(low)}, ${value(high)}]`);
// A mean score reads × 100, as on the figures' axes.
const scoreValue = (x) => (x === null || x === undefined ? "" : (100 * x).toFixed(1));
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
      ["Judges", el("div", {}, ...experiment.judges.map((judge, index) => el("div", { class: "judge", dataset: { judge: judge.ref } },
        el("strong", {}, judge.ref), ` (${judge.kind}, measures ${judge.measures}${index === 0 ? "; makes the rates" : ""}): `,
        el("span", { class: judge.validation ? "" : "muted" }, validationText(judge.validation)))))],
      ["Seeds", seedsText(experiment)],
    ].flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]),
  );
  const primary = experiment.judges[0];
  const grading = renderMetricChoice(experiment);
  if (grading) {
    document.getElementById("rate-heading").textContent = `Mean score of ${grading.ref} across seeds`;
    document.getElementById("rate-meaning").textContent = `The seed, comparison, noise, variance and power figures and tables show the mean of ${grading.ref}'s graded scores (0 safe to 1 harmful) × 100, with the same intervals and comparisons as a rate; judgments without a score are left out. The heatmaps, the judges' side-by-side tables, the runs and the responses stay in verdicts.`;
  } else {
    document.getElementById("rate-heading").textContent = `${primary.measures === "compliance" ? "Compliance" : "Harmfulness"} rate across seeds`;
    document.getElementById("rate-meaning").textContent = `Every rate on this page is the ${rateMeaning(primary)}; unscored verdicts are counted beside it, never in it.`;
  }
  document.getElementById("runs-rate").textContent = rateName(primary);
  document.getElementById("prompts-rate").textContent = `${rateName(primary)} per condition`;
  // The headline's warning is about the judge whose numbers the headline shows.
  const measuring = grading || primary;
  const warning = document.getElementById("judge-warning");
  warning.hidden = !measuring.warning;
  warning.textContent = measuring.warning || "";
}

// The "measure by" choice, offered when a judge grades responses; returns that judge while its mean score is
// the chosen metric.
function renderMetricChoice(experiment) {
  const grading = experiment.judges.find((judge) => judge.graded);
  const select = document.getElementById("metric");
  document.getElementById("metric-choice").hidden = !grading;
  if (!grading) return null;
  const primary = experiment.judges[0];
  select.options[0].textContent = `the ${primary.measures === "compliance" ? "compliance" : "harmful"} rate of ${primary.ref}`;
  if (select.options.length === 1) select.append(el("option", { value: "score" }, `the mean score of ${grading.ref}`));
  return select.value === "score" ? grading : null;
}

function seedsText(experiment) {
  const submitted = experiment.spec.seeds.join(", ");
  const added = [...new Set(experiment.runs.filter((run) => run.added_in > 0).map((run) => run.seed))];
  return added.length ? `${submitted}; added later: ${added.join(", ")}` : submitted;
}

// Where a run's page is for this visitor: null for a "figures only" share link, which may not open it.
function runHref(runId) {
  if (!SHARE_TOKEN) return `/runs/${runId}`;
  return ME.share.scope === "responses" ? `/share/${SHARE_TOKEN}/runs/${runId}` : null;
}

function runActions(run, refresh, canEdit) {
  if (!canEdit) return null;
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

function renderRuns(experiment, refresh, canEdit) {
  document.querySelector("#runs tbody").replaceChildren(
    ...experiment.runs.map((run) => {
      const progress = TERMINAL.has(run.status) || run.status === "queued" ? "" : percent(run.progress);
      return el(
        "tr",
        { dataset: { runId: run.id, status: run.status } },
        el("td", {}, runHref(run.id) ? el("a", { href: runHref(run.id) }, run.id) : run.id),
        el("td", {}, run.condition_name),
        el("td", {}, run.seed),
        el("td", {}, run.evaluation_index === 0 ? "original" : `re-evaluation ${run.evaluation_index}`),
        el("td", {}, run.added_in === 0 ? "" : `later (extension ${run.added_in})`),
        el("td", {}, statusBadge(run.status)),
        el("td", {}, progress),
        el("td", {}, rateText(run.rate)),
        el("td", { class: run.error ? "error-text" : "" }, run.error || run.progress_message),
        el("td", {}, runActions(run, refresh, canEdit)),
      );
    }),
  );
  const unfinished = experiment.runs.filter((run) => !TERMINAL.has(run.status)).length;
  const partial = document.getElementById("partial");
  partial.hidden = unfinished === 0;
  partial.textContent = `${unfinished} of ${experiment.runs.length} runs still running: every figure and number below shows partial data and updates by itself.`;
  document.getElementById("cancel").hidden = unfinished === 0 || !canEdit;
  return unfinished;
}

const verdictBadge = (comparison) => el("span", {
  class: `badge verdict-${comparison.verdict.replaceAll(" ", "-")}`,
  title: `from the answer ${comparison.verdict_basis}`,
}, comparison.verdict);

function renderSummary(analysis) {
  const value = analysis.metric === "score" ? scoreValue : percent;
  document.getElementById("pooled-heading").textContent =
    `All ${analysis.metric === "score" ? "scores" : "verdicts"} pooled [95% given these checkpoints]`;
  document.querySelector("#summary tbody").replaceChildren(
    ...analysis.conditions.map((c) =>
      el(
        "tr",
        {},
        el("td", {}, c.name),
        el("td", {}, `${c.runs_done} / ${c.runs_total}`),
        el("td", {}, c.mean === null ? "—" : `${value(c.mean)} ${interval(c.low, c.high, value)} (n=${c.seeds.length} seeds)`),
        el("td", {}, points(c.sd)),
        el("td", {}, c.min === null ? "—" : `${value(c.min)}–${value(c.max)}`),
        el("td", {}, rateText(c.pooled, value)),
        el("td", {}, c.evaluation_sd === null ? "—" : `${points(c.evaluation_sd)} (${c.repeats.length} checkpoints)`),
      ),
    ),
  );
  document.querySelector("#comparisons tbody").replaceChildren(
    ...analysis.comparisons.map((c) => {
      const given = c.given_checkpoints;
      const fresh = c.new_seeds;
      return el(
        "tr",
        { dataset: { verdict: c.verdict } },
        el("td", {}, `${c.a} − ${c.b}`),
        el("td", {}, points(c.estimate)),
        el("td", {}, `[${points(given.low)}, ${points(given.high)}]`),
        el("td", {}, `${pValue(given.p_value)} (${pValue(given.p_adjusted)})`),
        fresh
          ? el("td", {}, `[${points(fresh.low)}, ${points(fresh.high)}]`)
          : el("td", { class: "muted", title: c.new_seeds_withheld || "" }, `— ${c.new_seeds_withheld || ""}`),
        el("td", {}, fresh ? `${pValue(fresh.p_value)} (${pValue(fresh.p_adjusted)})` : "—"),
        el("td", {}, verdictBadge(c)),
        el("td", {}, c.sizing ? sizingText(c.sizing) : "—"),
        el("td", {}, c.n_prompts),
        el("td", {}, `${c.seeds_a} / ${c.seeds_b}`),
      );
    }),
  );
  document.querySelector("#variance tbody").replaceChildren(
    ...analysis.variance.map((v) => {
      const sd = (component) => (component ? `${points(Math.sqrt(component.estimate))} [${points(Math.sqrt(component.low))}, ${points(Math.sqrt(component.high))}]` : "— (in seed × prompt)");
      return el(
        "tr",
        {},
        el("td", {}, v.name),
        el("td", {}, v.icc_seed.estimate === null ? "—" : `${v.icc_seed.estimate.toFixed(3)} [${v.icc_seed.low.toFixed(3)}, ${v.icc_seed.high.toFixed(3)}]`),
        el("td", {}, sd(v.components.seed)),
        el("td", {}, sd(v.components.prompt)),
        el("td", {}, sd(v.components.seed_x_prompt)),
        el("td", {}, sd(v.components.sampling)),
        el("td", {}, `${v.n_seeds} seeds × ${v.n_prompts} prompts × ${v.cell_size.toFixed(1)} verdicts`),
      );
    }),
  );
  renderByJudge(analysis);
  const agreement = document.getElementById("agreement");
  agreement.querySelector("tbody").replaceChildren(
    ...analysis.agreement.map((a) =>
      el("tr", {}, el("td", {}, `${a.judge_a} vs ${a.judge_b}`), el("td", {}, a.kappa === null ? "—" : `${a.kappa.toFixed(3)} [${a.low.toFixed(3)}, ${a.high.toFixed(3)}]`),
        el("td", {}, percent(a.observed_agreement)), el("td", {}, a.n)),
    ),
  );
}

// Each condition's rate and each comparison under every judge, one column per judge.
function renderByJudge(analysis) {
  const views = analysis.by_judge;
  document.getElementById("by-judge").hidden = views.length === 0;
  const header = (first) => el("tr", {}, el("th", {}, first),
    ...views.map((v) => el("th", {}, `${v.judge} (${v.measures === "compliance" ? "complies" : "harmful"})`)));
  const rates = document.getElementById("by-judge-rates");
  rates.querySelector("thead").replaceChildren(header("Condition"));
  rates.querySelector("tbody").replaceChildren(...analysis.conditions.map(({ name }) =>
    el("tr", {}, el("td", {}, name), ...views.map((v) => {
      const c = v.conditions.find((condition) => condition.name === name);
      const unscored = c.pooled.unscored ? `, ${c.pooled.unscored} unscored` : "";
      return el("td", {}, c.mean === null ? "—" : `${percent(c.mean)} ${interval(c.low, c.high)}${unscored}`);
    }))));
  // A judge still judging may lack a comparison the others have.
  const pairs = [...new Map(views.flatMap((v) => v.comparisons).map((c) => [`${c.a}\u0000${c.b}`, c])).values()];
  const comparisons = document.getElementById("by-judge-comparisons");
  comparisons.querySelector("thead").replaceChildren(header("Comparison"));
  comparisons.querySelector("tbody").replaceChildren(...pairs.map(({ a, b }) =>
    el("tr", {}, el("td", {}, `${a} − ${b}`), ...views.map((v) => {
      const c = v.comparisons.find((comparison) => comparison.a === a && comparison.b === b);
      if (!c) return el("td", {}, "—");
      const answer = c.new_seeds || c.given_checkpoints;
      return el("td", {}, `${points(c.estimate)} [${points(answer.low)}, ${points(answer.high)}] `, verdictBadge(c));
    }))));
  const share = (x) => (x.estimate === null ? "—" : `${percent(x.estimate)} [${percent(x.low)}, ${percent(x.high)}]`);
  document.querySelector("#judge-variance tbody").replaceChildren(...analysis.judge_variance.map((v) =>
    el("tr", {}, el("td", {}, v.name), el("td", {}, share(v.judge_share)), el("td", {}, share(v.shares.judge)),
      el("td", {}, share(v.shares.judge_x_seed)), el("td", {}, share(v.shares.judge_x_prompt)),
      el("td", {}, share(v.shares.residual)), el("td", {}, `${v.n_judges} judges × ${v.n_seeds} seeds × ${v.n_prompts} prompts`))));
}

// A minimum detectable difference past 100 points means no difference is detectable.
const detectable = (x) => (x >= 1 ? "over 100 pts" : points(x));
const sizingText = (size) =>
  `${detectable(size.minimum_detectable_difference)} (95% range ${detectable(size.low)} to ${detectable(size.high)}) with ${size.n_seeds} seeds`;

function renderPower(analysis, addSeeds, canEdit) {
  document.querySelector("#power tbody").replaceChildren(
    ...analysis.power.map((power) =>
      el(
        "tr",
        {},
        el("td", {}, `${power.a} − ${power.b}`),
        el("td", {}, sizingText(power.now)),
        el("td", {}, ...power.more_seeds.map((more) => el("div", {}, sizingText(more)))),
        el("td", {}, canEdit ? el("button", { type: "button", dataset: { addSeeds: power.a },
          title: `queue 3 more seeds of ${power.a}; they join this analysis when done`,
          onclick: () => addSeeds(power.a) }, `Add 3 seeds to ${power.a}`) : null),
      ),
    ),
  );
}

function fillOptions(select, values, keepFirst = true) {
  const kept = keepFirst ? [...select.options].slice(0, 1) : [];
  const current = select.value;
  select.replaceChildren(...kept, ...values.map((value) => el("option", { value }, value)));
  if ([...select.options].some((option) => option.value === current)) select.value = current;
}

function renderOwnerTools(experiment, role) {
  document.getElementById("delete-experiment").hidden = !hasRole(role, "owner");
  const sharing = document.getElementById("sharing");
  const wasHidden = sharing.hidden;
  sharing.hidden = !hasRole(role, "editor");
  if (wasHidden && !sharing.hidden) sharing.dispatchEvent(new Event("shown"));
}

function initShareLinks(base) {
  const sharing = document.getElementById("sharing");
  async function renderLinks() {
    const links = await api(`${base}/share-links`);
    document.querySelector("#share-links tbody").replaceChildren(
      ...links.map((link) => {
        const expired = link.expires_at && new Date(link.expires_at) <= new Date();
        const status = link.revoked_at ? `revoked ${when(link.revoked_at)}` : expired ? "expired" : "active";
        return el("tr", { dataset: { linkId: link.id } },
          el("td", {}, link.scope === "figures" ? "figures and tables only" : "with responses"),
          el("td", {}, link.created_by || "—"),
          el("td", {}, when(link.created_at)),
          el("td", {}, link.expires_at ? when(link.expires_at) : "never"),
          el("td", {}, when(link.last_used_at)),
          el("td", {}, status),
          el("td", {}, link.revoked_at ? null : el("button", { type: "button", onclick: async () => {
            await api(`${base}/share-links/${link.id}`, { method: "DELETE" });
            renderLinks();
          } }, "Revoke")),
        );
      }),
    );
  }
  sharing.addEventListener("shown", renderLinks);
  const form = document.getElementById("share-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    // A date picked in the form expires at the end of that day, in the viewer's time zone.
    const expires = data.get("expires") ? new Date(`${data.get("expires")}T23:59:59`).toISOString() : null;
    try {
      const link = await api(`${base}/share-links`, { method: "POST", body: JSON.stringify({ scope: data.get("scope"), expires_at: expires }) });
      document.getElementById("new-link-value").textContent = `${window.location.origin}${link.path}`;
      document.getElementById("new-link").hidden = false;
    } catch (failure) {
      window.alert(failure.message);
    }
    renderLinks();
  });
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
  const experimentId = ME.share ? ME.share.experiment_id : Number(window.location.pathname.split("/").pop());
  const showsText = !ME.share || ME.share.scope === "responses";
  const base = `/api/experiments/${experimentId}`;
  document.getElementById("export-csv").setAttribute("href", `${base}/export.csv`);
  document.getElementById("export-parquet").setAttribute("href", `${base}/export.parquet`);
  const renderReport = initReport(base);
  const extraPairs = [];
  const openPrompts = new Set();
  let promptPage = 1;
  let timer = null;

  const metricQuery = () => new URLSearchParams({ metric: document.getElementById("metric").value }).toString();
  const comparisonQuery = () => {
    const params = new URLSearchParams({ adjust: document.getElementById("adjust").value, metric: document.getElementById("metric").value });
    extraPairs.forEach((pair) => params.append("pair", pair));
    return params.toString();
  };
  // The figures drawn in the chosen metric; the heatmaps stay in verdicts.
  const figureQuery = {
    seeds: metricQuery,
    noise: metricQuery,
    variance: metricQuery,
    power: metricQuery,
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
        if (Number.isInteger(runId) && runHref(runId)) window.location.assign(runHref(runId));
      });
    }
  }
  const renderFigures = () => Promise.all([...document.querySelectorAll("[data-figure]")].map(renderFigure));

  async function refresh() {
    clearTimeout(timer);
    const [experiment, analysis] = await Promise.all([api(base), api(`${base}/analysis?${comparisonQuery()}`)]);
    renderMeta(experiment);
    const role = roleIn(experiment.project_id);
    const unfinished = renderRuns(experiment, refresh, hasRole(role, "editor"));
    renderOwnerTools(experiment, role);
    renderSummary(analysis);
    if (analysis.stale) {
      document.getElementById("partial").textContent +=
        " A run is being judged: the statistics and figures are those of the runs' state before it, and move when it finishes.";
    }
    renderPower(analysis, addSeeds, hasRole(role, "editor"));
    const names = experiment.conditions.map((c) => c.name);
    fillOptions(document.getElementById("pair-a"), names, false);
    fillOptions(document.getElementById("pair-b"), names, false);
    fillOptions(document.getElementById("flips-condition"), names);
    fillOptions(document.querySelector("#browser-filters [name=condition]"), names);
    if (filters.elements.category.options.length === 1) fillOptions(filters.elements.category, experiment.categories);
    await Promise.all([
      renderFigures(),
      showsText ? renderPrompts() : null,
      renderReport(document.getElementById("adjust").value),
    ]);
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
        // The page refreshes itself while runs go on: a prompt the user opened stays open.
        if (openPrompts.has(prompt.prompt_id)) {
          detailRow.hidden = false;
          renderResponses(prompt, detail, 1);
        }
        const row = el(
          "tr",
          { class: "prompt-row", dataset: { promptId: prompt.prompt_id }, title: "show every response",
            onclick: () => {
              detailRow.hidden = !detailRow.hidden;
              if (detailRow.hidden) openPrompts.delete(prompt.prompt_id);
              else {
                openPrompts.add(prompt.prompt_id);
                renderResponses(prompt, detail, 1);
              }
            } },
          el("td", { class: "prompt" }, el("div", { class: "muted" }, prompt.external_id), el("div", {}, prompt.text)),
          el("td", {}, prompt.category),
          el("td", {}, ...prompt.rates.map((r) => el("div", {}, `${r.condition}: ${r.harmful}/${r.scored}${r.unscored ? ` (${r.unscored} unscored)` : ""}`))),
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
  document.getElementById("metric").addEventListener("change", refresh);
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
  async function addSeeds(condition) {
    try {
      await api(`${base}/seeds`, { method: "POST", body: JSON.stringify({ count: 3, condition }) });
    } catch (failure) {
      window.alert(failure.message);
    }
    refresh();
  }
  if (ME.share) {
    const notice = document.getElementById("shared-notice");
    notice.hidden = false;
    notice.textContent = showsText
      ? "A read-only view shared with you: figures, tables and the model's responses."
      : "A read-only view shared with you: figures and tables only.";
  }
  document.getElementById("browser").hidden = !showsText;
  document.getElementById("delete-experiment").addEventListener("click", async () => {
    if (!window.confirm("Delete this experiment with every run, response, verdict and adapter? This cannot be undone.")) return;
    await api(base, { method: "DELETE" });
    window.location.assign("/");
  });
  initShareLinks(base);
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
  const editable = ME.projects.filter((project) => hasRole(project.role, "editor"));
  options(form.elements.project, editable.map((p) => ({ value: p.id, ...p })), (p) => p.name);
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
        project: Number(form.elements.project.value),
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
  const experiment = await api(`/api/experiments/${run.experiment_id}`);
  document.title = `Run ${run.id} · seedscope`;
  document.getElementById("title").textContent = `Run ${run.id}: ${run.condition_name}, seed ${run.seed}`;
  document.getElementById("back").setAttribute("href", SHARE_TOKEN ? `/share/${SHARE_TOKEN}` : `/experiments/${run.experiment_id}`);
  document.getElementById("meta").replaceChildren(
    ...[
      ["Status", run.status + (run.error ? `: ${run.error}` : "")],
      [rateName(experiment.judges[0]), `${rateText(run.rate)}: the ${rateMeaning(experiment.judges[0])}`],
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
            el("div", {}, el("span", { class: `badge verdict-${j.verdict}`, title: j.output }, j.verdict), ` ${j.judge}: `,
              el("span", { class: "muted" }, j.output)))),
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

// --- judges and their validation ------------------------------------------------------------------

const intervalText = (share) => (share.estimate === null ? "—" : `${percent(share.estimate)} ${interval(share.low, share.high)}`);

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

async function initJudges() {
  const error = document.getElementById("judges-error");
  const editable = ME.projects.filter((project) => hasRole(project.role, "editor"));
  const projectName = (id) => (id === null ? "built-in" : (ME.projects.find((p) => p.id === id) || {}).name || `project ${id}`);
  for (const form of ["judge-form", "set-form", "validate-form"]) {
    options(document.getElementById(form).elements.project, editable.map((p) => ({ value: p.id, ...p })), (p) => p.name);
  }
  for (const section of ["new-judge", "set-form", "validate-form"]) document.getElementById(section).hidden = editable.length === 0;
  const catalog = await api("/api/catalog");
  let timer = null;

  const act = (action) => async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      await action(event.target);
    } catch (failure) {
      showError(error, failure);
    }
  };

  function showDefinition(judge) {
    document.getElementById("judge-detail").hidden = false;
    document.getElementById("judge-detail-title").textContent = `${judge.ref} (${projectName(judge.project_id)}), ${judge.content_hash}`;
    document.getElementById("judge-detail-description").textContent = judge.description;
    document.getElementById("judge-detail-config").textContent = JSON.stringify(judge.config, null, 2);
  }

  async function render() {
    clearTimeout(timer);
    const allVersions = document.getElementById("all-versions").checked;
    const [judges, sets, validations] = await Promise.all([
      api(`/api/judges?all_versions=${allVersions}`), api("/api/validation-sets"), api("/api/judge-validations")]);
    document.querySelector("#judge-list tbody").replaceChildren(...judges.map((judge) => {
      const best = bestValidation(judge, validations);
      return el("tr", { dataset: { judge: judge.ref } },
        el("td", { title: judge.description }, judge.ref),
        el("td", {}, judge.config.kind),
        el("td", {}, judge.measures),
        el("td", {}, projectName(judge.project_id)),
        el("td", {}, best ? el("a", { href: `/validations/${best.id}` }, validationText(best)) : el("span", { class: "muted" }, "not validated")),
        el("td", {}, el("button", { type: "button", onclick: () => showDefinition(judge) }, "Definition")),
      );
    }));
    document.querySelector("#validation-sets tbody").replaceChildren(...sets.map((set) =>
      el("tr", { dataset: { set: `${set.name}@${set.version}` } },
        el("td", { title: set.description }, `${set.name}@${set.version}`),
        el("td", {}, projectName(set.project_id)),
        el("td", {}, set.measures),
        el("td", {}, set.n_examples),
        el("td", {}, set.n_harmful),
        el("td", {}, set.categories.join(", ")))));
    const validate = document.getElementById("validate-form");
    fillOptions(validate.elements.judge, judges.map((judge) => judge.ref), false);
    fillOptions(validate.elements.validation_set, sets.map((set) => `${set.name}@${set.version}`), false);
    document.querySelector("#validations tbody").replaceChildren(...validations.map((v) =>
      el("tr", { dataset: { validationId: v.id, status: v.status } },
        el("td", {}, v.judge),
        el("td", {}, `${v.validation_set} (${v.measures})`),
        el("td", {}, projectName(v.project_id)),
        el("td", {}, statusBadge(v.status), v.status === "running" ? ` ${percent(v.progress)}` : "", v.error ? el("div", { class: "error-text" }, v.error) : null),
        el("td", {}, v.status === "done" ? kappaText(v) : ""),
        el("td", {}, percent(v.accuracy)),
        el("td", {}, v.n ?? ""),
        el("td", {}, v.n_unscored ?? ""),
        el("td", {}, el("a", { href: `/validations/${v.id}` }, "Result")))));
    if (validations.some((v) => v.status === "queued" || v.status === "running")) timer = setTimeout(render, REFRESH_MS);
    return judges;
  }

  // "Start from": every definition you can see, then the presets (StrongREJECT, ...).
  const start = document.getElementById("judge-start");
  const textarea = document.getElementById("judge-form").elements.definition;
  const starts = new Map();
  for (const judge of catalog.judges) {
    starts.set(`definition:${judge.ref}`, judgeFields(judge, judge.project_id === null ? `my-${judge.name}` : judge.name));
    start.append(el("option", { value: `definition:${judge.ref}` }, `${judge.ref} (${judge.project_id === null ? "built-in" : "yours"})`));
  }
  for (const preset of catalog.judge_presets) {
    starts.set(`preset:${preset.name}`, preset.spec);
    start.append(el("option", { value: `preset:${preset.name}` }, `preset: ${preset.name}`));
  }
  const fill = () => { textarea.value = JSON.stringify(starts.get(start.value), null, 2); };
  start.addEventListener("change", fill);
  fill();

  document.getElementById("judge-form").addEventListener("submit", act(async (form) => {
    // JSON is YAML: the text goes to the YAML route, which takes either; the project chosen above wins.
    const text = textarea.value.trim();
    const project = Number(form.elements.project.value);
    const body = text.startsWith("{") ? JSON.stringify({ ...JSON.parse(text), project }) : `${text}\nproject: ${project}\n`;
    const judge = await api("/api/judges/yaml", { method: "POST", body, headers: { "content-type": "application/yaml" } });
    const created = document.getElementById("judge-created");
    created.textContent = `Saved as ${judge.ref}.`;
    created.hidden = false;
    await render();
  }));
  document.getElementById("set-form").addEventListener("submit", act(async (form) => {
    const data = new FormData(form);
    const content = await data.get("file").text();
    await api("/api/validation-sets", { method: "POST", body: JSON.stringify({
      project: Number(data.get("project")), name: data.get("name"), version: data.get("version"),
      format: data.get("format"), measures: data.get("measures"), content }) });
    form.reset();
    await render();
  }));
  document.getElementById("validate-form").addEventListener("submit", act(async (form) => {
    const data = new FormData(form);
    await api("/api/judge-validations", { method: "POST", body: JSON.stringify({
      project: Number(data.get("project")), judge: data.get("judge"), validation_set: data.get("validation_set") }) });
    await render();
  }));
  document.getElementById("all-versions").addEventListener("change", render);
  await render();
}

async function initValidation() {
  const validationId = Number(window.location.pathname.split("/").pop());
  const result = await api(`/api/judge-validations/${validationId}`);
  document.title = `${result.judge} on ${result.validation_set} · seedscope`;
  document.getElementById("title").textContent = `${result.judge} on ${result.validation_set}`;
  document.getElementById("meta").replaceChildren(
    ...[
      ["Judge", result.judge],
      ["Validation set", `${result.validation_set}: its "harmful" label means ${result.measures === "compliance" ? "the response complied rather than refused" : "the response gives harmful help"}`],
      ["Status", result.status + (result.error ? `: ${result.error}` : "")],
      ["Started", when(result.created_at)],
      ["Judging time", result.seconds === null ? "—" : `${result.seconds} s`],
    ].flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]),
  );
  const status = document.getElementById("status");
  if (result.status !== "done") {
    status.hidden = false;
    status.textContent = result.status === "failed" ? `The validation failed: ${result.error}` : `The validation is ${result.status} (${percent(result.progress)}); this page updates by itself.`;
    if (result.status !== "failed") setTimeout(initValidation, REFRESH_MS);
    return;
  }
  status.hidden = true;
  const quality = result.quality;
  document.getElementById("result").hidden = false;
  document.querySelector("#figures tbody").replaceChildren(el("tr", {},
    el("td", {}, intervalText(quality.accuracy)),
    el("td", {}, intervalText(quality.precision)),
    el("td", {}, intervalText(quality.recall)),
    el("td", {}, quality.kappa === null ? "—" : `${quality.kappa.toFixed(3)} [${quality.kappa_low.toFixed(3)}, ${quality.kappa_high.toFixed(3)}]`),
    el("td", {}, quality.n),
    el("td", {}, quality.n_unscored)));
  document.querySelector("#confusion tbody").replaceChildren(...Object.entries(quality.confusion).map(([label, row]) =>
    el("tr", {}, el("th", {}, label), el("td", {}, row.harmful), el("td", {}, row.safe), el("td", {}, row.unscored))));
  document.querySelector("#categories tbody").replaceChildren(...quality.categories.map((c) =>
    el("tr", {}, el("td", {}, c.category), el("td", {}, c.n), el("td", {}, c.n_unscored), el("td", {}, intervalText(c.accuracy)),
      el("td", {}, percent(c.precision.estimate) || "—"), el("td", {}, percent(c.recall.estimate) || "—"))));
  document.querySelector("#disagreements tbody").replaceChildren(...result.disagreements.map((d) =>
    el("tr", { class: "response", dataset: { exampleId: d.example_id } },
      el("td", {}, el("div", {}, d.external_id), el("div", { class: "muted" }, d.category)),
      el("td", {}, el("span", { class: `badge verdict-${d.label}` }, d.label)),
      el("td", {}, el("span", { class: `badge verdict-${d.verdict}` }, d.verdict), el("div", { class: "muted" }, d.output)),
      el("td", { class: "prompt" }, d.request),
      el("td", { class: "response-text" }, d.response))));
}

const PAGES = {
  login: initLogin,
  index: initIndex,
  new: initNew,
  experiment: initExperiment,
  run: initRun,
  account: initAccount,
  projects: initProjects,
  datasets: initDatasets,
  judges: initJudges,
  validation: initValidation,
};

async function start() {
  const page = document.body.dataset.page;
  if (page !== "login") {
    ME = await api("/api/me");
    renderNav();
  }
  await PAGES[page]();
}

document.addEventListener("DOMContentLoaded", () => {
  start().catch((failure) => {
    document.querySelector("main").prepend(el("div", { class: "error", role: "alert" }, failure.message));
  });
});
