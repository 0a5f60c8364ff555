// The experiment's judge stress tests (every viewer, share links included: figures only), and for an editor
// the form that starts one for one of its judges and the retry of a failed one.
import { api } from "../../api.js";
import { byId, setChildren, setOptions, showError } from "../../dom.js";
import { stressTestView } from "../../stress-tests.js";

export class StressTests {
  constructor(base) {
    this.base = `${base}/stress-tests`;
    const form = byId("stress-test-form");
    form.elements.start.addEventListener("click", () => this.act(() => api(this.base, {
      method: "POST",
      json: { judge: form.elements.judge.value, size: Number(form.elements.size.value), seed: Number(form.elements.seed.value) },
    })));
  }

  async act(request) {
    const error = byId("stress-test-error");
    try {
      await request();
      showError(error, null);
    } catch (failure) {
      showError(error, failure);
    }
    await this.show(this.experiment, this.canEdit);
  }

  async show(experiment, canEdit) {
    this.experiment = experiment;
    this.canEdit = canEdit;
    const form = byId("stress-test-form");
    // An imported judge stands for another tool's scorer: nothing here can re-judge with it.
    const testable = experiment.judges.filter((judge) => judge.kind !== "imported");
    form.hidden = !canEdit || testable.length === 0;
    setOptions(form.elements.judge, testable.map((judge) => judge.ref));
    const tests = await api(this.base);
    byId("stress-tests").hidden = form.hidden && tests.length === 0;
    setChildren(byId("stress-test-list"), tests.map((test) => stressTestView(test, {
      onRetry: canEdit ? () => this.act(() => api(`${this.base}/${test.id}/retry`, { method: "POST" })) : null,
    })));
  }
}
