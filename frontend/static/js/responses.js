// A response's verdicts, as the run page and the prompt browser show them: every judge's verdict and output.
import { el, verdictBadge } from "./dom.js";

export const judgmentsCell = (judgments) => el("td", {}, judgments.map((j) =>
  el("div", {}, verdictBadge(j.verdict, j.output), ` ${j.judge}: `, el("span", { class: "muted" }, j.output))));
