// The dashboard's figures, built by the server (Plotly JSON) and drawn here. Each is as tall as the server
// made it: its container takes that height, so a responsive redraw after a window resize (which follows
// the container) changes the width only and never collapses the plot to the container's minimum.
import { api } from "../../api.js";

const CONFIG = { responsive: true, displaylogo: false };

export class Figures {
  /** `queries`: figure name -> () => its query string; `onSeedClick(runId)`: a run's point in a figure. */
  constructor(base, queries, onSeedClick) {
    this.base = base;
    this.queries = queries;
    this.onSeedClick = onSeedClick;
    this.containers = [...document.querySelectorAll("[data-figure]")];
  }

  async render(container) {
    const name = container.dataset.figure;
    const query = this.queries[name] ? this.queries[name]() : "";
    const figure = await api(`${this.base}/figures/${name}${query ? `?${query}` : ""}`);
    const { height, ...layout } = figure.layout;
    container.style.height = `${height}px`;
    container.dataset.height = height;
    await Plotly.react(container, figure.data, { ...layout, autosize: true }, CONFIG);
    // A point of the seeds or the trade-off figure is a run: customdata[0] is its id.
    if ((name === "seeds" || name === "trade-off") && !container.dataset.clickable) {
      container.dataset.clickable = "yes";
      container.on("plotly_click", (event) => {
        const runId = event.points[0].customdata && event.points[0].customdata[0];
        if (Number.isInteger(runId)) this.onSeedClick(runId);
      });
    }
  }

  byName(name) {
    return this.containers.find((container) => container.dataset.figure === name);
  }

  /** Every figure of a shown section (a grid's figure waits for a grid); a figure that fails leaves the
   * others drawn. The failures, named. */
  async renderAll() {
    const shown = this.containers.filter((container) => !container.closest("[hidden]"));
    const outcomes = await Promise.allSettled(shown.map((container) => this.render(container)));
    return outcomes.flatMap((outcome, index) => (outcome.status === "rejected"
      ? [`the ${shown[index].dataset.figure} figure: ${outcome.reason.message}`]
      : []));
  }
}
