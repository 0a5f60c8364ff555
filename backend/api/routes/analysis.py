from typing import Annotated

from fastapi import APIRouter, Depends, Query

from backend.api.auth import Access, InExperiment
from backend.api.deps import AdjustmentDep, CacheDep, ExperimentId, SessionDep, SettingsDep
from backend.config import Settings
from backend.domain import Role, ShareScope
from backend.errors import InvalidInput
from backend.figures.common import FigureJSON
from backend.limits import enforce
from backend.schemas import AnalysisRead
from backend.services import analysis
from backend.services import figures as figure_service

router = APIRouter(prefix="/api/experiments/{experiment_id}", tags=["analysis"])
# Figures and tables: share links of either scope may read them (the flips figure drops prompt texts for
# "figures only" links).
ReaderDep = Annotated[Access, Depends(InExperiment(Role.VIEWER, share=ShareScope.FIGURES))]

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


@router.get("/analysis")
def get_analysis(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    adjust: AdjustmentDep = "holm",
    pair: PairsDep = [],  # noqa: B006
) -> AnalysisRead:
    """Every statistic of the experiment, each with its interval and n."""
    return analysis.analyse(session, experiment_id, cache, _pairs(pair, settings), adjust)


@router.get("/figures/seeds")
def seeds_figure(
    experiment_id: ExperimentId, _: ReaderDep, session: SessionDep, cache: CacheDep
) -> FigureJSON:
    """Harmfulness rate per seed, grouped by condition, with intervals, means and the baseline."""
    return figure_service.seeds(session, cache, experiment_id)


@router.get("/figures/noise")
def noise_figure(
    experiment_id: ExperimentId, _: ReaderDep, session: SessionDep, cache: CacheDep
) -> FigureJSON:
    """SD between seeds beside SD between re-evaluations of one checkpoint."""
    return figure_service.noise(session, cache, experiment_id)


@router.get("/figures/forest")
def forest_figure(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    adjust: AdjustmentDep = "holm",
    pair: PairsDep = [],  # noqa: B006
) -> FigureJSON:
    """Paired differences against the baseline (and the chosen pairs), adjusted p-values."""
    return figure_service.forest(session, cache, experiment_id, _pairs(pair, settings), adjust)


@router.get("/figures/categories")
def categories_figure(
    experiment_id: ExperimentId, _: ReaderDep, session: SessionDep, cache: CacheDep
) -> FigureJSON:
    return figure_service.categories(session, cache, experiment_id)


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
) -> FigureJSON:
    """Verdicts per prompt and seed for one condition, prompts that flip between seeds first."""
    return figure_service.flips(session, cache, experiment_id, condition, limit, with_text=access.shows_text)


@router.get("/figures/variance")
def variance_figure(
    experiment_id: ExperimentId, _: ReaderDep, session: SessionDep, cache: CacheDep
) -> FigureJSON:
    return figure_service.variance(session, cache, experiment_id)


@router.get("/figures/power")
def power_figure(
    experiment_id: ExperimentId, _: ReaderDep, session: SessionDep, cache: CacheDep
) -> FigureJSON:
    return figure_service.power(session, cache, experiment_id)
