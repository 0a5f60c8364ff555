from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from backend.api.auth import Access, InExperiment
from backend.api.deps import AdjustmentDep, BenchmarkDep, CacheDep, ExperimentId, SessionDep, SettingsDep
from backend.api_models.analysis import AnalysisRead, ErosionRead
from backend.config import Settings
from backend.domain import Role, ShareScope
from backend.errors import InvalidInput
from backend.figures.common import FigureJSON
from backend.limits import enforce
from backend.services import analysis, full_analysis, snapshots
from backend.services import erosion as erosion_service
from backend.services import figures as figure_service
from backend.services.cache import AnalysisCache

router = APIRouter(prefix="/api/experiments/{experiment_id}", tags=["analysis"])
# Figures and tables: share links of either scope may read them (the flips figure drops prompt texts for
# "figures only" links).
ReaderDep = Annotated[Access, Depends(InExperiment(Role.VIEWER, share=ShareScope.FIGURES))]

MetricDep = Annotated[
    analysis.Metric,
    Query(
        description="'rate': the share of the first judge's verdicts called harmful; 'score': the mean "
        "graded score of the first judge that grades (422 when none does); 'refusal-prefix': the mean "
        "refusal-prefix probability, no judge, higher = more refusing (422 when the runs have none)"
    ),
]
PairsDep = Annotated[
    list[str], Query(alias="pair", description="extra comparisons, each 'A:B' (condition names); repeatable")
]


def _pairs(raw: list[str], settings: Settings) -> list[tuple[str, str]]:
    enforce(settings, "max_pairs_per_request", len(raw), "the number of 'pair' parameters")
    pairs = []
    for item in raw:
        a, separator, b = item.partition(":")
        if not separator or not a or not b:
            raise InvalidInput(f"pair {item!r} must be two condition names separated by ':'")
        pairs.append((a, b))
    return pairs


# The figures drawn in either metric, computed on request for the mean score.
_MEASURED_FIGURES = {
    "seeds": figure_service.seeds,
    "noise": figure_service.noise,
    "variance": figure_service.variance,
    "power": figure_service.power,
    "setup-spread": figure_service.setup_spread,
}


def _is_default_view(pairs: list[tuple[str, str]], adjust: str, metric: analysis.Metric) -> bool:
    """Whether the request asks for a view the worker stores (on each benchmark) when a run finishes
    (services.snapshots)."""
    return not pairs and adjust == "holm" and metric == "rate"


def _in_view(
    session: Session,
    cache: AnalysisCache,
    experiment_id: int,
    name: str,
    metric: analysis.Metric,
    benchmark: str | None,
) -> FigureJSON:
    """The figure's stored default view for the rate on the first benchmark; any other, computed (and
    memoised)."""
    if _is_default_view([], "holm", metric):
        return snapshots.serve(session, cache, experiment_id, f"figure:{name}", benchmark)
    return _MEASURED_FIGURES[name](session, cache, experiment_id, metric, benchmark)


@router.get("/analysis")
def get_analysis(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    adjust: AdjustmentDep = "holm",
    pair: PairsDep = [],  # noqa: B006
    metric: MetricDep = "rate",
    benchmark: BenchmarkDep = None,
    capability_at_least: Annotated[
        float | None,
        Query(
            ge=0,
            le=1,
            description="also compare over only the fine-tuned seeds whose capability rate is at least this "
            "(capability_match)",
        ),
    ] = None,
    capability_set: Annotated[
        str | None, Query(max_length=260, description="the capability set it is on; default: the first")
    ] = None,
) -> AnalysisRead:
    """Every statistic of the experiment, each with its interval and n."""
    pairs = _pairs(pair, settings)
    if capability_at_least is not None:
        return full_analysis.analyse(
            session,
            experiment_id,
            cache,
            pairs,
            adjust,
            metric,
            benchmark,
            capability_at_least,
            capability_set,
        )
    if _is_default_view(pairs, adjust, metric):
        return AnalysisRead.model_validate(
            snapshots.serve(session, cache, experiment_id, "analysis", benchmark)
        )
    return full_analysis.analyse(session, experiment_id, cache, pairs, adjust, metric, benchmark)


@router.get("/figures/seeds")
def seeds_figure(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    metric: MetricDep = "rate",
    benchmark: BenchmarkDep = None,
) -> FigureJSON:
    """Harmfulness rate per seed, grouped by condition, with intervals, means and the baseline."""
    return _in_view(session, cache, experiment_id, "seeds", metric, benchmark)


@router.get("/figures/noise")
def noise_figure(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    metric: MetricDep = "rate",
    benchmark: BenchmarkDep = None,
) -> FigureJSON:
    """SD between seeds beside SD between re-evaluations of one checkpoint."""
    return _in_view(session, cache, experiment_id, "noise", metric, benchmark)


@router.get("/figures/forest")
def forest_figure(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    adjust: AdjustmentDep = "holm",
    pair: PairsDep = [],  # noqa: B006
    metric: MetricDep = "rate",
    benchmark: BenchmarkDep = None,
) -> FigureJSON:
    """Paired differences against the baseline (and the chosen pairs), adjusted p-values."""
    pairs = _pairs(pair, settings)
    if _is_default_view(pairs, adjust, metric):
        return snapshots.serve(session, cache, experiment_id, "figure:forest", benchmark)
    return figure_service.forest(session, cache, experiment_id, pairs, adjust, metric, benchmark)


@router.get("/figures/categories")
def categories_figure(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    benchmark: BenchmarkDep = None,
) -> FigureJSON:
    return snapshots.serve(session, cache, experiment_id, "figure:categories", benchmark)


@router.get("/figures/flips")
def flips_figure(
    experiment_id: ExperimentId,
    access: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    condition: Annotated[
        str | None, Query(description="condition name; default: the first fine-tuned")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 60,
    benchmark: BenchmarkDep = None,
) -> FigureJSON:
    """Verdicts per prompt and seed for one condition, prompts that flip between seeds first."""
    if condition is None and limit == 60 and benchmark is None:
        view = "figure:flips" if access.shows_text else "figure:flips:no-text"
        return snapshots.serve(session, cache, experiment_id, view)
    return figure_service.flips(
        session, cache, experiment_id, condition, limit, with_text=access.shows_text, benchmark=benchmark
    )


@router.get("/figures/variance")
def variance_figure(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    metric: MetricDep = "rate",
    benchmark: BenchmarkDep = None,
) -> FigureJSON:
    return _in_view(session, cache, experiment_id, "variance", metric, benchmark)


@router.get("/figures/power")
def power_figure(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    metric: MetricDep = "rate",
    benchmark: BenchmarkDep = None,
) -> FigureJSON:
    return _in_view(session, cache, experiment_id, "power", metric, benchmark)


@router.get("/figures/setup-spread")
def setup_spread_figure(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    metric: MetricDep = "rate",
    benchmark: BenchmarkDep = None,
) -> FigureJSON:
    """A grid's factors: the SD of each one's level means, beside the seed SD and the re-measurement SD."""
    return _in_view(session, cache, experiment_id, "setup-spread", metric, benchmark)


@router.get("/figures/trade-off")
def trade_off_figure(
    experiment_id: ExperimentId, _: ReaderDep, session: SessionDep, cache: CacheDep
) -> FigureJSON:
    """Each run's harm rate against its capability and over-refusal rates, a panel per set, with both
    intervals; the untuned baseline's runs marked."""
    return figure_service.trade_off(session, cache, experiment_id)


ErosionConditionDep = Annotated[
    str | None,
    Query(description="a condition with training.evaluate_at; default: the first one (422 when none has it)"),
]
ErosionSetDep = Annotated[
    str | None, Query(description="one evaluation set, 'name@version' or its name; default: every set")
]


@router.get("/erosion")
def erosion(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    condition: ErosionConditionDep = None,
    benchmark: ErosionSetDep = None,
) -> ErosionRead:
    """A condition's rates at its checkpoints along training, seed by seed and set by set, each seed's loss
    per step and the step where it converged."""
    return erosion_service.erosion(session, cache, experiment_id, condition, benchmark)


@router.get("/figures/erosion")
def erosion_figure(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    condition: ErosionConditionDep = None,
    benchmark: ErosionSetDep = None,
) -> FigureJSON:
    """The erosion curve: a panel per set, one line per seed against training progress, with intervals and
    each seed's converged step marked."""
    return erosion_service.erosion_figure(session, cache, experiment_id, condition, benchmark)
