// The erosion curve: a condition's rates at checkpoints along its training (training.evaluate_at), one line
// per seed and a panel per evaluation set, with where each seed's task loss converged. Hidden unless a
// condition evaluates checkpoints; the figure is the server's.
import { byId, setOptions } from "../../dom.js";

/** The conditions that evaluate checkpoints, in the section's selector; the section hidden without one. */
export function renderErosion(experiment) {
  const names = experiment.conditions.filter((c) => c.checkpoints.length > 0).map((c) => c.name);
  byId("erosion").hidden = names.length === 0;
  setOptions(byId("erosion-condition"), names);
}

/** The figure's query: the chosen condition (the server's default before the selector is filled). */
export function erosionQuery() {
  const condition = byId("erosion-condition").value;
  return condition ? new URLSearchParams({ condition }).toString() : "";
}
