"""Each dashboard figure from just the part of the analysis it needs, memoised on the experiment's state."""

from collections.abc import Callable, Hashable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.domain import SetMeasure
from backend.figures import comparisons as comparison_figures
from backend.figures import design, distribution, grid, heatmaps, tradeoff
from backend.figures.common import FigureJSON, empty_figure, on_benchmark
from backend.judging.measures import (
    Measure,
    rate_measure,
    refusal_prefix_measure,
    score_measure,
    set_measure,
)
from backend.models import Prompt
from backend.repositories import analysis as repository
from backend.services import analysis, grid_analysis
from backend.services.analysis import ExperimentData
from backend.services.cache import AnalysisCache
from backend.stats.prompts import prompt_stability


def _figure(
    session: Session,
    cache: AnalysisCache,
    experiment_id: int,
    name: str,
    parameters: Hashable,
    build: Callable[[ExperimentData], FigureJSON],
    metric: analysis.Metric = "rate",
    benchmark: str | None = None,
) -> FigureJSON:
    data = analysis.load(session, experiment_id, cache, metric, benchmark)

    def built() -> FigureJSON:
        figure = build(data)
        if data.benchmark_id is None:
            return figure
        return on_benchmark(figure, data.benchmark)

    return data.cached(f"figure:{name}", parameters, built)


def _measure(data: ExperimentData) -> Measure:
    """The words for the figure's numbers: the judge's rate, named for what it measures, its mean score, or
    the refusal-prefix probability; on a capability or over-refusal set, its scorer's rate."""
    if data.measures != SetMeasure.HARM:
        return set_measure(data.measures, data.judge)
    if data.metric == "refusal-prefix":
        return refusal_prefix_measure()
    judge = next(judge for judge in data.experiment.judges if judge.id == data.judge_id)
    return rate_measure(judge.measures, judge.ref) if data.metric == "rate" else score_measure(judge.ref)


def seeds(
    session: Session,
    cache: AnalysisCache,
    experiment_id: int,
    metric: analysis.Metric = "rate",
    benchmark: str | None = None,
) -> FigureJSON:
    def build(data: ExperimentData) -> FigureJSON:
        return distribution.seed_distribution(analysis.condition_summaries(session, data), _measure(data))

    return _figure(session, cache, experiment_id, "seeds", None, build, metric, benchmark)


def noise(
    session: Session,
    cache: AnalysisCache,
    experiment_id: int,
    metric: analysis.Metric = "rate",
    benchmark: str | None = None,
) -> FigureJSON:
    def build(data: ExperimentData) -> FigureJSON:
        summaries = analysis.condition_summaries(session, data)
        return distribution.evaluation_vs_training_noise(summaries, _measure(data))

    return _figure(session, cache, experiment_id, "noise", None, build, metric, benchmark)


def forest(
    session: Session,
    cache: AnalysisCache,
    experiment_id: int,
    pairs: list[tuple[str, str]],
    adjustment: analysis.Adjustment,
    metric: analysis.Metric = "rate",
    benchmark: str | None = None,
) -> FigureJSON:
    def build(data: ExperimentData) -> FigureJSON:
        chosen = analysis.comparisons(data, analysis.default_pairs(data) + pairs, adjustment)
        if not chosen:
            return empty_figure(
                "Paired differences",
                "no comparison yet: it needs two conditions with verdicts on the same prompts",
            )
        return comparison_figures.forest(chosen, adjustment, _measure(data))

    return _figure(
        session, cache, experiment_id, "forest", (tuple(pairs), adjustment), build, metric, benchmark
    )


def categories(
    session: Session, cache: AnalysisCache, experiment_id: int, benchmark: str | None = None
) -> FigureJSON:
    def build(data: ExperimentData) -> FigureJSON:
        names = {c.id: c.name for c in data.experiment.conditions}
        rows = repository.category_counts(
            session, experiment_id, data.judge_id, data.benchmark_id, data.counted
        )
        counts = {(names[condition_id], category): (h, h + s) for condition_id, category, h, s, _ in rows}
        ordered_categories = sorted({category for _, category, *_ in rows})
        return heatmaps.category_heatmap(list(names.values()), ordered_categories, counts, _measure(data))

    return _figure(session, cache, experiment_id, "categories", None, build, benchmark=benchmark)


def flips(
    session: Session,
    cache: AnalysisCache,
    experiment_id: int,
    condition_name: str | None,
    limit: int,
    *,
    with_text: bool = True,
    benchmark: str | None = None,
) -> FigureJSON:
    """The chosen condition, or by default the first fine-tuned one with verdicts. Without `with_text`
    (a "figures only" share link), prompts are named by their ids alone, and their texts stay out."""

    def build(data: ExperimentData) -> FigureJSON:
        if condition_name is not None:
            condition = data.condition(condition_name)
        else:
            cells_of = data.cells
            judged = [c for c in data.experiment.conditions if c.id in cells_of]
            fine_tuned = [c for c in judged if not c.is_baseline]
            if not judged:
                return empty_figure("Verdicts per prompt and seed", "no verdicts yet")
            condition = (fine_tuned or judged)[0]
        if condition.id not in data.cells:
            return empty_figure("Verdicts per prompt and seed", f"no verdicts yet for {condition.name}")
        cells = data.cells[condition.id]
        labels = {
            prompt_id: (external_id, text if with_text else "")
            for prompt_id, external_id, text in session.execute(
                select(Prompt.id, Prompt.external_id, Prompt.text).where(Prompt.id.in_(cells.prompt.tolist()))
            )
        }
        return heatmaps.flip_heatmap(
            condition.name, cells, prompt_stability(cells), labels, limit, _measure(data)
        )

    return _figure(
        session, cache, experiment_id, "flips", (condition_name, limit, with_text), build, benchmark=benchmark
    )


def variance(
    session: Session,
    cache: AnalysisCache,
    experiment_id: int,
    metric: analysis.Metric = "rate",
    benchmark: str | None = None,
) -> FigureJSON:
    def build(data: ExperimentData) -> FigureJSON:
        variances = analysis.variance(data)
        if not variances:
            return empty_figure(
                "Variance components", "needs a condition with two seeds and two prompts judged"
            )
        return design.variance_bars(variances, _measure(data))

    return _figure(session, cache, experiment_id, "variance", None, build, metric, benchmark)


def power(
    session: Session,
    cache: AnalysisCache,
    experiment_id: int,
    metric: analysis.Metric = "rate",
    benchmark: str | None = None,
) -> FigureJSON:
    def build(data: ExperimentData) -> FigureJSON:
        sizings = analysis.power(data)
        if not sizings:
            return empty_figure("Seeds needed", "needs a fine-tuned condition with two seeds judged")
        return design.power_curve(sizings, _measure(data))

    return _figure(session, cache, experiment_id, "power", None, build, metric, benchmark)


def setup_spread(
    session: Session,
    cache: AnalysisCache,
    experiment_id: int,
    metric: analysis.Metric = "rate",
    benchmark: str | None = None,
) -> FigureJSON:
    def build(data: ExperimentData) -> FigureJSON:
        factors = grid_analysis.grid(session, data)
        if factors is None:
            return empty_figure(
                "Setup spread vs seed spread",
                "no grid, or not every grid condition has verdicts yet",
            )
        return grid.setup_vs_seed_spread(factors, _measure(data))

    return _figure(session, cache, experiment_id, "setup-spread", None, build, metric, benchmark)


def trade_off(session: Session, cache: AnalysisCache, experiment_id: int) -> FigureJSON:
    """Each run's harm rate (the headline's: the first judge on the first benchmark) against its rate on
    each capability and over-refusal set, a panel per set."""
    data = analysis.load(session, experiment_id, cache)
    scored = [b for b in data.experiment.benchmarks if b.scorer_id is not None]

    def build() -> FigureJSON:
        if not scored:
            return empty_figure(
                "Harm against capability and over-refusal",
                "no capability or over-refusal set: name one under `capability` or `over_refusal`",
            )
        panels = []
        for evaluation_set in scored:
            on = data.on_scored_set(evaluation_set)
            panels.append(
                tradeoff.Panel(
                    _measure(on), evaluation_set.reference, analysis.condition_summaries(session, on)
                )
            )
        return tradeoff.trade_off(analysis.condition_summaries(session, data), _measure(data), panels)

    return data.cached("figure:trade-off", None, build)
