// Judges after the fact: each judge added after submit with its rescoring's progress (every viewer), and for
// an editor the forms that add a judge (it judges the stored responses; nothing is generated again) and that
// choose the headline judge, whose verdicts make the rates.
import { api } from "../../api.js";
import { byId, el, setChildren, setOptions, showError } from "../../dom.js";
import { percent, when } from "../../format.js";

/** What a judge added after submit is doing, in words; null for a judge that was there at submit. */
export function rescoringText(rescoring) {
  if (!rescoring) return null;
  if (rescoring.status === "done") return `added after the runs; judged ${rescoring.n_judged} stored responses`;
  if (rescoring.status === "failed") return `added after the runs; judging the stored responses failed: ${rescoring.error}`;
  return `added after the runs; judging the stored responses: ${percent(rescoring.progress)} (${rescoring.progress_message || rescoring.status})`;
}

/** Who chose the headline judge, when an editor did after submit. */
export const headlineText = (experiment) => (experiment.headline_chosen_at
  ? `chosen${experiment.headline_chosen_by ? ` by ${experiment.headline_chosen_by}` : ""} on ${when(experiment.headline_chosen_at)}`
  : null);

export class JudgeActions {
  constructor(base, onChange) {
    this.base = base;
    this.onChange = onChange;
    this.catalog = null;
    const form = byId("judge-actions");
    form.elements.add.addEventListener("click", () => this.act(() =>
      api(`${base}/judges`, { method: "POST", json: { judges: [form.elements.judge.value] } })));
    form.elements.choose.addEventListener("click", () => this.act(() =>
      api(`${base}/headline-judge`, { method: "PUT", json: { judge: form.elements.headline.value } })));
  }

  async act(request) {
    const error = byId("judge-actions-error");
    try {
      await request();
      showError(error, null);
    } catch (failure) {
      showError(error, failure);
    }
    await this.onChange();
  }

  /** The forms for an editor (hidden for anyone else): judges not yet on the experiment, and its judges. */
  async show(experiment, canEdit) {
    const form = byId("judge-actions");
    form.hidden = !canEdit;
    if (!canEdit) return;
    this.catalog = this.catalog || await api("/api/judges");
    const present = new Set(experiment.judges.map((judge) => judge.ref));
    // The reference-answer scorer judges capability sets, never safety responses (the server refuses it and
    // any other grading judge, saying why).
    const addable = this.catalog.filter((judge) => !present.has(judge.ref) && judge.config.kind !== "reference-answer"
      && (judge.project_id === null || judge.project_id === experiment.project_id));
    setOptions(form.elements.judge, addable.map((judge) => ({ value: judge.ref, label: `${judge.ref} (${judge.config.kind})` })));
    form.elements.add.disabled = addable.length === 0;
    const unfinished = new Set(experiment.rescorings.filter((r) => r.status !== "done").map((r) => r.judge));
    setOptions(form.elements.headline, experiment.judges.slice(1).filter((judge) => !unfinished.has(judge.ref)).map((judge) => judge.ref));
    form.elements.choose.disabled = form.elements.headline.options.length === 0;
    setChildren(byId("retry-rescorings"), experiment.rescorings.filter((r) => r.status === "failed").map((r) =>
      el("button", { type: "button", onclick: () => this.act(() => api(`${this.base}/rescorings/${r.id}/retry`, { method: "POST" })) },
        `Retry ${r.judge}`)));
  }
}
