// The front page: the experiments of your projects.
import { api } from "../api.js";
import { byId, el, setOptions, setRows } from "../dom.js";
import { when } from "../format.js";

export async function init(caller) {
  const filter = byId("project-filter");
  setOptions(filter, caller.projects.map((project) => ({ value: project.id, label: project.name })), { keep: 1 });
  byId("new-link").hidden = caller.editableProjects.length === 0;
  async function render() {
    const query = filter.value ? `?${new URLSearchParams({ project: filter.value })}` : "";
    const page = await api(`/api/experiments${query}`);
    byId("empty").hidden = page.items.length > 0;
    setRows(byId("experiments"), page.items.map((experiment) => {
      const counts = Object.entries(experiment.status_counts).map(([status, n]) => `${n} ${status}`).join(", ");
      return el("tr", {},
        el("td", {}, experiment.id),
        el("td", {}, el("a", { href: `/experiments/${experiment.id}` }, experiment.name)),
        el("td", {}, experiment.project),
        el("td", {}, when(experiment.created_at)),
        el("td", {}, counts));
    }));
  }
  filter.addEventListener("change", render);
  await render();
}
