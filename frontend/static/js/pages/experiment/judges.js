// Under each judge: every condition's rate and every comparison with a column per judge, the judges' share
// of the variance and their agreement. A judge whose validation is weak or missing is flagged in its
// column and on each of its verdicts: its "real" is worth no more than its agreement with people.
import { byId, el, setChildren, setRows } from "../../dom.js";
import { estimateText, fixed, interval, percent, points } from "../../format.js";
import { comparisonVerdict } from "./tables.js";

const share = (x) => estimateText(x.estimate, x.low, x.high, percent);

/**
 * Every condition's rate and every comparison with a column per view (a judge, a benchmark), into the
 * tables `rates` and `comparisons`. `heading(view)` and `mark(view)` give a column's heading and the mark
 * each of its verdicts carries (or null).
 */
export function renderSideBySide(rates, comparisons, conditionNames, views, heading, mark = () => null) {
  const header = (first) => el("tr", {}, el("th", {}, first), views.map((v) => el("th", {}, heading(v))));
  setChildren(rates.querySelector("thead"), header("Condition"));
  setRows(rates, conditionNames.map((name) =>
    el("tr", {}, el("td", {}, name), views.map((v) => {
      const c = v.conditions.find((condition) => condition.name === name);
      if (!c) return el("td", {}, "—");
      const unscored = c.pooled.unscored ? `, ${c.pooled.unscored} unscored` : "";
      return el("td", {}, c.mean === null ? "—" : `${percent(c.mean)} ${interval(c.low, c.high)}${unscored}`);
    }))));
  // A view still being judged may lack a comparison the others have.
  const pairs = [...new Map(views.flatMap((v) => v.comparisons).map((c) => [`${c.a}\u0000${c.b}`, c])).values()];
  setChildren(comparisons.querySelector("thead"), header("Comparison"));
  setRows(comparisons, pairs.map(({ a, b }) =>
    el("tr", {}, el("td", {}, `${a} − ${b}`), views.map((v) => {
      const c = v.comparisons.find((comparison) => comparison.a === a && comparison.b === b);
      if (!c) return el("td", {}, "—");
      const answer = c.new_seeds || c.given_checkpoints;
      return el("td", {}, `${points(c.estimate)} ${interval(answer.low, answer.high, points)} `, comparisonVerdict(c), mark(v));
    }))));
}

export function renderByJudge(analysis, experiment) {
  const views = analysis.by_judge;
  byId("by-judge").hidden = views.length === 0;
  const warnings = new Map(experiment.judges.map((judge) => [judge.ref, judge.warning]));
  // The column says it in words; each of its verdicts carries the mark, its title the reason.
  const caution = (view, words) => (warnings.get(view.judge)
    ? el("span", { class: "caution", title: warnings.get(view.judge), dataset: { caution: view.judge } }, words ? " ⚠ weak or unvalidated" : " ⚠")
    : null);
  renderSideBySide(byId("by-judge-rates"), byId("by-judge-comparisons"), analysis.conditions.map((c) => c.name), views,
    (v) => [`${v.judge} (${v.measures === "compliance" ? "complies" : "harmful"})`, caution(v, true)],
    (v) => caution(v, false));
  const flagged = views.filter((v) => warnings.get(v.judge));
  const notice = byId("by-judge-warnings");
  notice.hidden = flagged.length === 0;
  setChildren(notice, flagged.map((v) => el("div", {}, warnings.get(v.judge))));
  setRows(byId("judge-variance"), analysis.judge_variance.map((v) =>
    el("tr", {}, el("td", {}, v.name), el("td", {}, share(v.judge_share)), el("td", {}, share(v.shares.judge)),
      el("td", {}, share(v.shares.judge_x_seed)), el("td", {}, share(v.shares.judge_x_prompt)),
      el("td", {}, share(v.shares.residual)), el("td", {}, `${v.n_judges} judges × ${v.n_seeds} seeds × ${v.n_prompts} prompts`))));
  setRows(byId("agreement"), analysis.agreement.map((a) =>
    el("tr", {}, el("td", {}, `${a.judge_a} vs ${a.judge_b}`), el("td", {}, a.responses),
      el("td", {}, estimateText(a.kappa, a.low, a.high, (x) => fixed(x, 3))),
      el("td", {}, percent(a.observed_agreement)), el("td", {}, a.n))));
}
