// The experiment's header: what it is, its judges (each with the warning its validation earns), its
// conditions' settings, and the words for what the numbers measure. All of it as the server decided.
import { byId, el, setChildren, setDefinitions, setOptions, setRows } from "../../dom.js";
import { validationText } from "../../format.js";
import { settingsList } from "../../settings.js";
import { headlineText, rescoringText } from "./judge-actions.js";

function seedsText(experiment) {
  const submitted = experiment.spec.seeds.join(", ");
  const added = [...new Set(experiment.runs.filter((run) => run.added_in > 0).map((run) => run.seed))];
  return added.length ? `${submitted}; added later: ${added.join(", ")}` : submitted;
}

function judgeLine(experiment, judge, index) {
  const headline = index === 0 ? `; makes the rates${headlineText(experiment) ? `, ${headlineText(experiment)}` : ""}` : "";
  const added = rescoringText(experiment.rescorings.find((r) => r.judge === judge.ref));
  return el("div", { class: "judge", dataset: { judge: judge.ref } },
    el("strong", {}, judge.ref), ` (${judge.kind}, measures ${judge.measures}${headline}): `,
    el("span", { class: judge.validation ? null : "muted" }, validationText(judge.validation)),
    added ? el("div", { class: "hint", dataset: { rescoring: judge.ref } }, added) : null,
    judge.warning ? el("div", { class: "judge-warning", role: "note" }, judge.warning) : null);
}

/** The metric the page shows now: the chosen one of the experiment's metrics (the first by default). */
export function chosenMetric(experiment) {
  const select = byId("metric");
  return experiment.metrics.find((m) => m.metric === select.value) || experiment.metrics[0];
}

// The scorer's stored verdicts in the words of what a set measures (safe: correct, or refused).
const VERDICT_WORDS = {
  harm: { harmful: "harmful", safe: "safe" },
  capability: { harmful: "wrong", safe: "correct" },
  over_refusal: { harmful: "complies", safe: "refuses" },
};

const SET_WORDS = { harm: "Benchmark", capability: "Capability set", over_refusal: "Over-refusal set" };

/** Each kind of set the runs answer, with its prompts and (for a scored set) its scorer. */
function setLines(experiment) {
  return Object.entries(SET_WORDS).flatMap(([measures, word]) => {
    const sets = experiment.benchmarks.filter((b) => b.measures === measures);
    if (!sets.length) return [];
    const described = sets.map((b) => `${b.reference} (${b.n_prompts} prompts${b.scorer ? `, scored by ${b.scorer}${b.scoring ? `: ${b.scoring}` : ""}` : ""})`);
    return [[sets.length > 1 ? `${word}s` : word, described.join(", ")]];
  });
}

/** Renders the header; the numbers measure `shown`'s rate when it is a capability or over-refusal set. */
export function renderHeader(experiment, shown) {
  document.title = `${experiment.name} · seedscope`;
  byId("title").textContent = experiment.name;
  byId("description").textContent = experiment.description;
  const revision = experiment.base_model_revision ? ` @ ${experiment.base_model_revision}` : "";
  setDefinitions(byId("meta"), [
    ["Base model", experiment.base_model + revision],
    ...setLines(experiment),
    ["Training set", experiment.training_set],
    ["Judges", el("div", {}, experiment.judges.map((judge, index) => judgeLine(experiment, judge, index)))],
    ["Seeds", seedsText(experiment)],
  ]);
  setRows(byId("conditions"), experiment.conditions.map((condition) =>
    el("tr", { dataset: { condition: condition.name } },
      el("td", {}, condition.name),
      el("td", {}, settingsList(condition.settings, condition.is_baseline)))));

  const select = byId("metric");
  setOptions(select, experiment.metrics.map((m) => ({ value: m.metric, label: m.label })));
  byId("metric-choice").hidden = experiment.metrics.length < 2 || Boolean(shown.measure);
  const metric = shown.measure || chosenMetric(experiment);
  byId("rate-heading").textContent = `${metric.title} across seeds`;
  byId("rate-meaning").textContent = metric.metric === "rate"
    ? `Every rate on this page is ${metric.meaning}; unscored verdicts are counted beside it, never in it.`
    : `The seed, comparison, noise, variance and power figures and tables show ${metric.meaning}. The heatmaps, the judges' side-by-side tables, the runs and the responses stay in verdicts.`;
  const rates = experiment.metrics[0];
  byId("runs-rate").textContent = rates.column;
  // The browser counts what the shown set counts: a capability set's correct answers, an over-refusal set's
  // refusals; its verdict filter is in the same words.
  byId("prompts-rate").textContent = `${(shown.measure || rates).column} per condition`;
  const verdictWords = VERDICT_WORDS[shown.measures] || VERDICT_WORDS.harm;
  for (const option of byId("browser-filters").elements.verdict.options) {
    if (option.value in verdictWords) option.textContent = verdictWords[option.value];
  }
  // The headline's warning is about the judge whose numbers the headline shows.
  const warning = byId("judge-warning");
  warning.hidden = !metric.warning;
  setChildren(warning, metric.warning);
  return metric;
}
