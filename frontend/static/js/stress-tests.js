// A judge stress test as the judge's page and the experiment's dashboard show it: its status, a "fragile"
// badge when the fragility rule holds, and each perturbation's flip rate. Figures only: no response text.
import { badge, el, statusBadge } from "./dom.js";
import { estimateText, percent, when } from "./format.js";

function flipRow(figures, fragileUnder) {
  const rate = figures.flip_rate;
  return el("tr", { dataset: { perturbation: figures.perturbation } },
    el("td", { title: figures.description }, figures.perturbation,
      fragileUnder.includes(figures.perturbation) ? " " : null,
      fragileUnder.includes(figures.perturbation) ? badge("status-failed", "fragile") : null),
    el("td", {}, figures.n_applied),
    el("td", {}, `${rate.numerator} of ${rate.denominator}`),
    el("td", {}, estimateText(rate.estimate, rate.low, rate.high, percent)),
    el("td", {}, figures.harmful_to_safe),
    el("td", {}, figures.safe_to_harmful),
    el("td", {}, figures.n_unscored));
}

/** One stress test: a heading line, then its flip-rate table once done (its progress or error before). */
export function stressTestView(test, { onRetry = null, showExperiment = false } = {}) {
  const result = test.result;
  const heading = el("p", {},
    el("strong", {}, test.judge), showExperiment ? ` on ${test.experiment}` : null,
    ` — ${test.size} responses, seed ${test.seed}, ${when(test.created_at)} `, statusBadge(test.status),
    result ? " " : null,
    result ? (result.fragile ? badge("status-failed", "fragile", result.rule) : badge("status-done", "not fragile", result.rule)) : null,
    test.status === "running" || test.status === "queued" ? ` ${percent(test.progress)} (${test.progress_message || test.status})` : null,
    onRetry && test.status === "failed" ? el("button", { type: "button", onclick: onRetry }, "Retry") : null);
  const parts = [heading];
  if (test.error) parts.push(el("p", { class: "error-text" }, test.error));
  if (result) {
    parts.push(el("table", { class: "stress-flips" },
      el("thead", {}, el("tr", {}, ...["Perturbation", "Applied to", "Flipped", "Flip rate [95% CI]", "Harmful → safe", "Safe → harmful", "Unscored"].map((h) => el("th", {}, h)))),
      el("tbody", {}, result.perturbations.map((figures) => flipRow(figures, result.fragile_under)))));
    parts.push(el("p", { class: "hint" }, `A judge is ${result.rule}.`));
  }
  return el("div", { class: "stress-test", dataset: { stressTest: test.id, fragile: result ? String(result.fragile) : "" } }, parts);
}
