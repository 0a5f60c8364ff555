// Under each benchmark: every condition's rate and every comparison with a column per safety benchmark, the
// same checkpoints answering each benchmark's prompts. A conclusion that changes between columns is the
// benchmark's as much as the fine-tune's. Beside them, the capability and over-refusal sets, each with its
// own column.
import { byId } from "../../dom.js";
import { renderSideBySide } from "./judges.js";

export function renderByBenchmark(analysis) {
  const views = analysis.by_benchmark;
  byId("by-benchmark").hidden = views.length === 0;
  if (!views.length) return;
  renderSideBySide(byId("by-benchmark-rates"), byId("by-benchmark-comparisons"), analysis.conditions.map((c) => c.name),
    views, (v) => v.benchmark);
}

const MEASURE_WORDS = { harm: "harm", capability: "capability", over_refusal: "over-refusal" };

/** The set selector's options: each set with what it measures. */
export function setChoices(benchmarks) {
  return benchmarks.map((b) => ({ value: b.reference, label: `${b.reference} (${MEASURE_WORDS[b.measures]})` }));
}

export function renderByScoredSet(analysis) {
  const views = analysis.by_scored_set;
  byId("by-scored-set").hidden = views.length === 0;
  if (!views.length) return;
  renderSideBySide(byId("by-scored-set-rates"), byId("by-scored-set-comparisons"), analysis.conditions.map((c) => c.name),
    views, (v) => `${v.benchmark} (${MEASURE_WORDS[v.measures]})`);
}
