// A response's verdicts and coherence, as the run page and the prompt browser show them: every judge's verdict
// and output, and the coherence rule's mark with the base model's log-likelihood behind it.
import { badge, el, verdictBadge } from "./dom.js";
import { fixed } from "./format.js";

export const judgmentsCell = (judgments) => el("td", {}, judgments.map((j) =>
  el("div", {}, verdictBadge(j.verdict, j.output), ` ${j.judge}: `, el("span", { class: "muted" }, j.output))));

/** The coherence rule's mark, or "—" for a response generated before coherence was measured. */
export function coherenceCell(response) {
  if (response.incoherent === null || response.incoherent === undefined) return el("td", {}, "—");
  const likelihood = `mean log-likelihood ${fixed(response.coherence, 2)} nats per token under the base model`;
  const mark = response.incoherent ? "incoherent" : "coherent";
  return el("td", {}, badge(`coherence-${mark}`, mark, likelihood));
}
