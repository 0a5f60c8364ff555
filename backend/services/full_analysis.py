"""The whole analysis of an experiment, as the dashboard, the report and the stored snapshots read it: the
statistics of backend.services.analysis and, with a grid, its factors (backend.services.grid_analysis)."""

from sqlalchemy.orm import Session

from backend.api_models.analysis import AnalysisRead
from backend.services.analysis import (
    Adjustment,
    Metric,
    agreement,
    by_benchmark,
    by_judge,
    by_scored_set,
    capability_match,
    comparisons,
    condition_summaries,
    default_pairs,
    judge_variance,
    load,
    power,
    variance,
)
from backend.services.cache import AnalysisCache
from backend.services.grid_analysis import grid


def analyse(
    session: Session,
    experiment_id: int,
    cache: AnalysisCache,
    pairs: list[tuple[str, str]] | None = None,
    adjustment: Adjustment = "holm",
    metric: Metric = "rate",
    benchmark: str | None = None,
    capability_at_least: float | None = None,
    capability_set: str | None = None,
) -> AnalysisRead:
    """Every statistic, in the metric asked for, on the benchmark asked for (the first by default); the
    judges' side-by-side views and agreement are of their verdicts either way."""
    data = load(session, experiment_id, cache, metric, benchmark)
    verdicts = data.for_judge(data.experiment.judges[0].id)
    return AnalysisRead(
        experiment_id=experiment_id,
        judge=data.judge,
        metric=metric,
        benchmark=data.benchmark,
        partial=data.partial,
        conditions=condition_summaries(session, data),
        comparisons=comparisons(data, default_pairs(data) + (pairs or []), adjustment),
        adjustment=adjustment,
        variance=variance(data),
        power=power(data),
        agreement=agreement(session, verdicts),
        by_judge=by_judge(session, verdicts, adjustment),
        judge_variance=judge_variance(verdicts),
        by_benchmark=by_benchmark(session, data, adjustment),
        by_scored_set=by_scored_set(session, data, adjustment),
        grid=grid(session, data),
        capability_match=None
        if capability_at_least is None
        else capability_match(data, capability_at_least, capability_set, adjustment),
    )
