// The experiment's labelling samples (members only: a share link sees none): each with the caller's
// progress and a link to label it, and for an editor the form that draws a new one.
import { api } from "../../api.js";
import { byId, el, setRows, showError } from "../../dom.js";

export class LabellingSamples {
  constructor(base, experimentId) {
    this.base = `${base}/labelling-samples`;
    this.experimentId = experimentId;
    const form = byId("labelling-form");
    form.elements.draw.addEventListener("click", async () => {
      const measures = form.elements.measures.value || null;
      try {
        await api(this.base, { method: "POST", json: { size: Number(form.elements.size.value), seed: Number(form.elements.seed.value), measures } });
        showError(byId("labelling-error"), null);
      } catch (failure) {
        showError(byId("labelling-error"), failure);
      }
      await this.show(this.canEdit);
    });
  }

  async show(canEdit) {
    this.canEdit = canEdit;
    byId("labelling").hidden = false;
    byId("labelling-form").hidden = !canEdit;
    const samples = await api(this.base);
    setRows(byId("labelling-samples"), samples.map((s) => el("tr", { dataset: { sample: s.id } },
      el("td", {}, `#${s.id}`), el("td", {}, s.size), el("td", {}, s.measures), el("td", {}, s.seed),
      el("td", {}, `${s.labelled_by_me} of ${s.size}`), el("td", {}, s.finished_labellers),
      el("td", {}, el("a", { href: `/experiments/${this.experimentId}/labelling/${s.id}` },
        s.labelled_by_me === s.size ? "Results" : "Label")))));
  }
}
