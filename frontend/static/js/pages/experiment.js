// The experiment's dashboard. It polls the experiment's state (a 304 while nothing changed, so an open
// dashboard costs the server next to nothing) and redraws everything when the state moves on; a refresh
// that fails says what failed, and the polling goes on.
import { api, apiIfChanged } from "../api.js";
import { byId, setChildren, setOptions } from "../dom.js";
import { renderHeader } from "./experiment/header.js";
import { renderByJudge } from "./experiment/judges.js";
import { JudgeActions } from "./experiment/judge-actions.js";
import { LabellingSamples } from "./experiment/labelling.js";
import { StressTests } from "./experiment/stress-tests.js";
import { renderByBenchmark, renderByScoredSet, setChoices } from "./experiment/benchmarks.js";
import { PromptBrowser } from "./experiment/prompts.js";
import { Figures } from "./experiment/figures.js";
import { renderGrid } from "./experiment/grid.js";
import { erosionQuery, renderErosion } from "./experiment/erosion.js";
import { Report } from "./experiment/report.js";
import { TERMINAL, renderRuns, runHref } from "./experiment/runs.js";
import { ShareLinks } from "./experiment/sharing.js";
import { renderTables } from "./experiment/tables.js";

// How often the state is asked for: often while runs or judge jobs (a rescoring, a stress test) go on, less
// when only another user's action (more seeds, a judge's validation) can change what the page shows. Never
// while the tab is hidden.
const BUSY_MS = 5000;
const IDLE_MS = 15000;

class Poller {
  constructor(stateUrl, refresh) {
    this.stateUrl = stateUrl;
    this.refresh = refresh;
    this.etag = null;
    this.working = null;  // unfinished runs and running judge jobs, as last seen
    this.running = Promise.resolve();
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.tick(); });
  }

  /** Redraw now (a user's action), after any redraw in progress. */
  refreshNow() {
    this.running = this.running.then(() => this.attempt(this.refresh));
    return this.running;
  }

  async attempt(action) {
    const status = byId("refresh-status");
    try {
      await action();
      status.hidden = true;
    } catch (failure) {
      this.etag = null;  // the next tick redraws everything, whether or not the state moved on
      status.hidden = false;
      setChildren(status, `Could not refresh at ${new Date().toLocaleTimeString()}: ${failure.message}. Trying again.`);
    }
  }

  tick() {
    clearTimeout(this.timer);
    if (document.hidden) return;
    this.running = this.running.then(() => this.attempt(async () => {
      const state = await apiIfChanged(this.stateUrl, this.etag);
      if (state.changed) {
        await this.refresh();
        // Only once the page shows it: a failed redraw is tried again on the next tick.
        this.etag = state.etag;
        this.working = state.body.unfinished + state.body.jobs_running;
      }
    })).finally(() => {
      this.timer = setTimeout(() => this.tick(), this.working === 0 ? IDLE_MS : BUSY_MS);
    });
  }
}

function partialNotice(experiment, unfinished, stale) {
  const notice = byId("partial");
  // The intermediate checkpoints' evaluations (the erosion curve) are no condition's runs, but still work.
  const checkpoints = Object.entries(experiment.checkpoint_status_counts);
  const checkpointsLeft = checkpoints.filter(([status]) => !TERMINAL.has(status)).reduce((n, [, count]) => n + count, 0);
  notice.hidden = unfinished + checkpointsLeft === 0;
  const left = checkpointsLeft ? ` and ${checkpointsLeft} checkpoint evaluations` : "";
  notice.textContent = `${unfinished} of ${experiment.runs.length} runs${left} still running: every figure and number below shows partial data and updates by itself.`
    + (stale ? " A run is being judged: the statistics and figures are those of the runs' state before it, and move when it finishes." : "");
}

export async function init(caller) {
  const experimentId = caller.share ? caller.share.experiment_id : Number(window.location.pathname.split("/").pop());
  const base = `/api/experiments/${experimentId}`;
  const showsText = !caller.share || caller.share.scope === "responses";
  const extraPairs = [];
  const adjust = byId("adjust");
  const metric = byId("metric");
  const benchmark = byId("benchmark");
  const flipsCondition = byId("flips-condition");

  // The chosen benchmark, sent only when it is not the first (the server's default, whose views it stores).
  const onBenchmark = (params) => {
    if (benchmark.selectedIndex > 0) params.set("benchmark", benchmark.value);
    return params;
  };
  // A capability or over-refusal set is measured by its scorer's rate, never by a graded score.
  const scoredSets = new Set();
  const metricParam = () => (scoredSets.has(benchmark.value) ? "rate" : metric.value || "rate");
  const metricQuery = () => onBenchmark(new URLSearchParams({ metric: metricParam() })).toString();
  const matchedTarget = byId("matched-target");
  const comparisonQuery = () => {
    const params = onBenchmark(new URLSearchParams({ adjust: adjust.value, metric: metricParam() }));
    extraPairs.forEach((pair) => params.append("pair", pair));
    return params.toString();
  };
  // The analysis asks for the capability-matched comparisons too when a target is set (the forest does not).
  const analysisQuery = () => {
    const params = new URLSearchParams(comparisonQuery());
    if (matchedTarget.value !== "") params.set("capability_at_least", String(Number(matchedTarget.value) / 100));
    return params.toString();
  };
  // The figures drawn in the chosen metric; the heatmaps stay in verdicts.
  const figures = new Figures(base, {
    seeds: metricQuery,
    noise: metricQuery,
    variance: metricQuery,
    power: metricQuery,
    "setup-spread": metricQuery,
    erosion: erosionQuery,
    forest: comparisonQuery,
    categories: () => onBenchmark(new URLSearchParams()).toString(),
    flips: () => onBenchmark(new URLSearchParams(flipsCondition.value ? { condition: flipsCondition.value } : {})).toString(),
  }, (runId) => {
    const href = runHref(runId, caller);
    if (href) window.location.assign(href);
  });
  const prompts = showsText ? new PromptBrowser(base) : null;
  const report = new Report(base, experimentId);
  const sharing = new ShareLinks(base);
  let poller = null;
  const judgeActions = new JudgeActions(base, () => poller.refreshNow());
  const labelling = caller.share ? null : new LabellingSamples(base, experimentId);
  const stressTests = new StressTests(base);

  async function addSeeds(condition) {
    try {
      await api(`${base}/seeds`, { method: "POST", json: { count: 3, condition } });
    } catch (failure) {
      window.alert(failure.message);
    }
    await poller.refreshNow();
  }

  async function refresh() {
    const [experiment, analysis] = await Promise.all([api(base), api(`${base}/analysis?${analysisQuery()}`)]);
    const canEdit = caller.can(experiment.project_id, "editor");
    if (!benchmark.options.length) {
      setOptions(benchmark, setChoices(experiment.benchmarks));
      experiment.benchmarks.filter((b) => b.measure).forEach((b) => scoredSets.add(b.reference));
      byId("benchmark-choice").hidden = experiment.benchmarks.length < 2;
    }
    const shown = experiment.benchmarks.find((b) => b.reference === benchmark.value) || experiment.benchmarks[0];
    renderHeader(experiment, shown);
    byId("matched-choice").hidden = !experiment.benchmarks.some((b) => b.measures === "capability");
    const unfinished = renderRuns(experiment, { caller, canEdit, onChange: () => poller.refreshNow() });
    partialNotice(experiment, unfinished, analysis.stale);
    byId("delete-experiment").hidden = !caller.can(experiment.project_id, "owner");
    renderTables(analysis, canEdit ? addSeeds : null);
    renderByJudge(analysis, experiment);
    renderByBenchmark(analysis);
    renderByScoredSet(analysis);
    renderGrid(analysis);
    renderErosion(experiment);
    const names = experiment.conditions.map((c) => c.name);
    setOptions(byId("pair-a"), names);
    setOptions(byId("pair-b"), names);
    setOptions(flipsCondition, names, { keep: 1 });
    const filters = byId("browser-filters");
    setOptions(filters.elements.condition, names, { keep: 1 });
    setOptions(filters.elements.category, shown.categories, { keep: 1 });
    filters.elements.benchmark.value = benchmark.selectedIndex > 0 ? benchmark.value : "";
    if (prompts) prompts.countsSafe = Boolean(shown.measure);
    const parts = [
      ["the figures", figures.renderAll().then((failed) => { if (failed.length) throw new Error(failed.join("; ")); })],
      ["the prompts", prompts ? prompts.render() : null],
      ["the report", report.render(adjust.value)],
      ["the share links", sharing.show(canEdit)],
      ["the judges' forms", judgeActions.show(experiment, canEdit)],
      ["the labelling samples", labelling ? labelling.show(canEdit) : null],
      ["the stress tests", stressTests.show(experiment, canEdit)],
    ];
    const outcomes = await Promise.allSettled(parts.map(([, part]) => part));
    const failed = outcomes.flatMap((outcome, index) => (outcome.status === "rejected" ? [`${parts[index][0]} (${outcome.reason.message})`] : []));
    if (failed.length) throw new Error(failed.join("; "));
  }

  poller = new Poller(`${base}/state`, refresh);
  if (caller.share) {
    const notice = byId("shared-notice");
    notice.hidden = false;
    notice.textContent = showsText
      ? "A read-only view shared with you: figures, tables and the model's responses."
      : "A read-only view shared with you: figures and tables only.";
  }
  byId("browser").hidden = !showsText;
  adjust.addEventListener("change", () => poller.refreshNow());
  matchedTarget.addEventListener("change", () => poller.refreshNow());
  metric.addEventListener("change", () => poller.refreshNow());
  benchmark.addEventListener("change", () => poller.refreshNow());
  flipsCondition.addEventListener("change", () => figures.render(figures.byName("flips")));
  byId("erosion-condition").addEventListener("change", () => figures.render(figures.byName("erosion")));
  byId("add-pair").addEventListener("click", () => {
    const a = byId("pair-a").value;
    const b = byId("pair-b").value;
    if (a && b && a !== b) {
      extraPairs.push(`${a}:${b}`);
      poller.refreshNow();
    }
  });
  byId("delete-experiment").addEventListener("click", async () => {
    if (!window.confirm("Delete this experiment with every run, response, verdict and adapter? This cannot be undone.")) return;
    await api(base, { method: "DELETE" });
    window.location.assign("/");
  });
  byId("cancel").addEventListener("click", async () => {
    await api(`${base}/cancel`, { method: "POST" });
    await poller.refreshNow();
  });
  // No further polling once the page is left.
  window.addEventListener("pagehide", () => clearTimeout(poller.timer));
  poller.tick();
  await poller.running;
}
