// The statistics as tables: each condition across seeds, the paired comparisons with both answers, where
// the noise comes from, and what more seeds would detect. Every number with its interval and n.
import { byId, el, setRows, verdictBadge } from "../../dom.js";
import { estimateText, fixed, interval, pValue, percent, points, rateText, scoreValue, sizingText } from "../../format.js";

export const comparisonVerdict = (comparison) => verdictBadge(comparison.verdict, `from the answer ${comparison.verdict_basis}`);

/** The rate corrected for the judge's errors, beside the raw one: both answers and the validation used, or
 * why it is withheld. */
function correctedCell(corrected) {
  if (!corrected) return el("td", { class: "muted" }, "—");
  if (corrected.withheld) return el("td", { class: "muted", title: corrected.withheld }, `— ${corrected.withheld}`);
  const v = corrected.validation;
  const mean = corrected.mean;
  return el("td", {},
    el("div", {}, `pooled ${estimateText(corrected.pooled.estimate, corrected.pooled.low, corrected.pooled.high, percent)}`),
    mean ? el("div", {}, `mean over seeds ${mean.low === null ? `${percent(mean.estimate)} (one seed)` : estimateText(mean.estimate, mean.low, mean.high, percent)}`) : null,
    el("div", { class: "muted" }, `${v.validation_set}: n=${v.n}, sensitivity ${fixed(v.sensitivity, 2)}, specificity ${fixed(v.specificity, 2)}`));
}

/** A condition's pooled value; the refusal-prefix score's n is its scores' (the pooled counts are a judge's
 * verdicts). */
function pooledText(analysis, condition, value) {
  if (analysis.metric !== "refusal-prefix") return rateText(condition.pooled, value);
  const pooled = condition.pooled;
  const n = condition.seeds.reduce((total, seed) => total + seed.n_scored, 0);
  return pooled ? `${value(pooled.rate)} ${interval(pooled.low, pooled.high, value)} (n=${n} scores)` : "—";
}

function renderConditions(analysis) {
  const value = analysis.metric === "rate" ? percent : scoreValue;
  byId("pooled-heading").textContent = `All ${analysis.metric === "rate" ? "verdicts" : "scores"} pooled [95% given these checkpoints]`;
  setRows(byId("summary"), analysis.conditions.map((c) =>
    el("tr", {},
      el("td", {}, c.name),
      el("td", {}, `${c.runs_done} / ${c.runs_total}`),
      el("td", {}, c.mean === null ? "—" : `${value(c.mean)} ${interval(c.low, c.high, value)} (n=${c.seeds.length} seeds)`),
      el("td", {}, points(c.sd)),
      el("td", {}, c.min === null ? "—" : `${value(c.min)}–${value(c.max)}`),
      el("td", {}, pooledText(analysis, c, value)),
      correctedCell(c.corrected),
      el("td", {}, c.evaluation_sd === null ? "—" : `${points(c.evaluation_sd)} (${c.repeats.length} checkpoints)`))));
}

function comparisonRows(comparisons) {
  return comparisons.map((c) => {
    const given = c.given_checkpoints;
    const fresh = c.new_seeds;
    return el("tr", { dataset: { verdict: c.verdict } },
      el("td", {}, `${c.a} − ${c.b}`),
      el("td", {}, points(c.estimate)),
      el("td", {}, interval(given.low, given.high, points)),
      el("td", {}, `${pValue(given.p_value)} (${pValue(given.p_adjusted)})`),
      fresh
        ? el("td", {}, interval(fresh.low, fresh.high, points))
        : el("td", { class: "muted", title: c.new_seeds_withheld }, `— ${c.new_seeds_withheld || ""}`),
      el("td", {}, fresh ? `${pValue(fresh.p_value)} (${pValue(fresh.p_adjusted)})` : "—"),
      el("td", {}, comparisonVerdict(c)),
      c.sizing ? el("td", {}, sizingText(c.sizing))
        : el("td", { class: "muted", title: c.sizing_withheld || "" }, `— ${c.sizing_withheld || ""}`),
      el("td", {}, c.n_prompts),
      el("td", {}, `${c.seeds_a} / ${c.seeds_b}`));
  });
}

function renderComparisons(analysis) {
  setRows(byId("comparisons"), comparisonRows(analysis.comparisons));
}

// The comparisons over only the fine-tuned seeds that kept their capability, when a target is set.
function renderCapabilityMatch(analysis) {
  const match = analysis.capability_match;
  byId("matched").hidden = !match;
  if (!match) return;
  const kept = match.conditions.map((c) => `${c.name}: ${c.seeds_kept.length} of ${c.seeds_kept.length + c.seeds_dropped.length} seeds`);
  byId("matched-seeds").textContent = `Seeds whose capability on ${match.capability_set} reached ${(100 * match.target).toFixed(0)}%: ${kept.join("; ")}.`;
  setRows(byId("matched-comparisons"), comparisonRows(match.comparisons));
}

function renderVariance(analysis) {
  const sd = (component) => (component
    ? `${points(Math.sqrt(component.estimate))} ${interval(Math.sqrt(component.low), Math.sqrt(component.high), points)}`
    : "— (in seed × prompt)");
  setRows(byId("variance"), analysis.variance.map((v) =>
    el("tr", {},
      el("td", {}, v.name),
      el("td", {}, estimateText(v.icc_seed.estimate, v.icc_seed.low, v.icc_seed.high, (x) => fixed(x, 3))),
      el("td", {}, sd(v.components.seed)),
      el("td", {}, sd(v.components.prompt)),
      el("td", {}, sd(v.components.seed_x_prompt)),
      el("td", {}, sd(v.components.sampling)),
      el("td", {}, `${v.n_seeds} seeds × ${v.n_prompts} prompts × ${fixed(v.cell_size, 1)} verdicts`))));
}

/** The power table; an editor gets a button per comparison to add seeds where they are needed. */
function renderPower(analysis, addSeeds) {
  setRows(byId("power"), analysis.power.map((power) =>
    el("tr", {},
      el("td", {}, `${power.a} − ${power.b}`),
      power.now ? el("td", {}, sizingText(power.now)) : el("td", { class: "muted" }, `— ${power.now_withheld}`),
      el("td", {}, power.more_seeds.map((more) => el("div", {}, sizingText(more)))),
      el("td", {}, addSeeds ? el("button", { type: "button", dataset: { addSeeds: power.a },
        title: `queue 3 more seeds of ${power.a}; they join this analysis when done`,
        onclick: () => addSeeds(power.a) }, `Add 3 seeds to ${power.a}`) : null))));
}

export function renderTables(analysis, addSeeds) {
  renderConditions(analysis);
  renderComparisons(analysis);
  renderCapabilityMatch(analysis);
  renderVariance(analysis);
  renderPower(analysis, addSeeds);
}
