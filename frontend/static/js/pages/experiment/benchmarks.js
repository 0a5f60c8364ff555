// Under each benchmark: every condition's rate and every comparison with a column per benchmark, the same
// checkpoints answering each benchmark's prompts. A conclusion that changes between columns is the
// benchmark's as much as the fine-tune's.
import { byId } from "../../dom.js";
import { renderSideBySide } from "./judges.js";

export function renderByBenchmark(analysis) {
  const views = analysis.by_benchmark;
  byId("by-benchmark").hidden = views.length === 0;
  if (!views.length) return;
  renderSideBySide(byId("by-benchmark-rates"), byId("by-benchmark-comparisons"), analysis.conditions.map((c) => c.name),
    views, (v) => v.benchmark);
}
