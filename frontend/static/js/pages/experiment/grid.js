// A grid experiment's factors: each level's effect against the factor's first level with both answers, and
// how far each setup change moves the rate beside how far seeds and re-measurement move it. Hidden without
// a grid.
import { byId, el, setRows, verdictBadge } from "../../dom.js";
import { interval, pValue, percent, points, scoreValue } from "../../format.js";

const level = (value) => (value === null ? "all" : String(value));

export function renderGrid(analysis) {
  const grid = analysis.grid;
  byId("grid").hidden = !grid;
  if (!grid) return;
  const difference = analysis.metric === "rate" ? points : (x) => `${scoreValue(x)} pts`;
  const value = analysis.metric === "rate" ? percent : scoreValue;
  setRows(byId("factors"), grid.factors.flatMap((factor) => factor.effects.map((effect) => {
    const basis = effect.new_seeds ? "from the answer for new seeds" : effect.new_seeds_withheld;
    return el("tr", {},
      el("td", {}, factor.factor),
      el("td", {}, `${level(effect.level)} − ${level(effect.reference)}`),
      el("td", {}, difference(effect.estimate)),
      el("td", {}, interval(effect.given_low, effect.given_high, difference)),
      el("td", {}, effect.new_seeds ? interval(effect.new_seeds.low, effect.new_seeds.high, difference) : effect.new_seeds_withheld),
      el("td", {}, effect.new_seeds ? pValue(effect.new_seeds.p_adjusted) : "—"),
      el("td", {}, verdictBadge(effect.verdict, basis)),
      el("td", {}, factor.interacts_with.length ? factor.interacts_with.join(", ") : "—"));
  })));
  const sd = (x) => (x === null ? "—" : difference(x));
  setRows(byId("spread"), [
    ...grid.factors.map((factor) => el("tr", {},
      el("td", {}, `setup: ${factor.factor}`), el("td", {}, sd(factor.setup_sd)),
      el("td", {}, factor.levels.map((l, i) => `${level(l)}: ${value(factor.level_means[i])}`).join(", ")))),
    el("tr", {}, el("td", {}, "seeds (a condition's rate across seeds, pooled)"), el("td", {}, sd(grid.seed_sd)), el("td", {}, "—")),
    el("tr", {}, el("td", {}, "re-measurement (one checkpoint evaluated again)"),
      el("td", {}, grid.remeasurement_sd === null ? "no re-evaluations yet" : sd(grid.remeasurement_sd)), el("td", {}, "—")),
  ]);
}
