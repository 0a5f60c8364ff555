"""An experiment's grid: each factor's main effects with both answers, beside the seed and re-measurement
spread (backend.stats.factors does the statistics)."""

import math

import numpy as np
from sqlalchemy.orm import Session

from backend.api_models.analysis import FactorRead, GridRead, LevelEffectRead, NewSeedsAnswerRead
from backend.experiment_definition import grid_factors
from backend.services.analysis import ExperimentData, adjust_present, condition_summaries, verdict_of
from backend.stats.cells import Cells
from backend.stats.factors import FactorEffect, factor_effects


def grid(session: Session, data: ExperimentData) -> GridRead | None:
    """None without a grid, or until every grid condition has verdicts on prompts they all share."""
    return data.cached("grid", None, lambda: _grid(session, data))


def _grid(session: Session, data: ExperimentData) -> GridRead | None:
    gridded = [c for c in data.experiment.conditions if c.spec.levels is not None]
    factors = grid_factors([c.spec for c in gridded])
    cells = [data.cells.get(c.id) for c in gridded]
    if not factors or any(c is None for c in cells):
        return None
    shared = _shared_prompts([c for c in cells if c is not None])
    if shared is None:
        return None
    by_levels = {
        tuple(c.spec.levels[f] for f in factors): on_shared  # type: ignore[index]
        for c, on_shared in zip(gridded, shared, strict=True)
    }
    effects = factor_effects(factors, by_levels)
    summaries = [s for s in condition_summaries(session, data) if s.condition_id in {c.id for c in gridded}]
    seed_variances = [s.sd**2 for s in summaries if s.sd is not None]
    remeasured = [s.evaluation_sd for s in summaries if s.evaluation_sd is not None]
    return GridRead(
        factors=_factor_reads(effects),
        seed_sd=math.sqrt(float(np.mean(seed_variances))) if seed_variances else None,
        remeasurement_sd=float(np.mean(remeasured)) if remeasured else None,
        n_conditions=len(gridded),
    )


def _shared_prompts(cells: list[Cells]) -> list[Cells] | None:
    """Each condition's cells on the prompts every one of them has; None when they share fewer than 2."""
    shared = cells[0].prompt
    for c in cells[1:]:
        shared = np.intersect1d(shared, c.prompt)
    if np.unique(shared).size < 2:
        return None
    return [c.subset(np.isin(c.prompt, shared)) for c in cells]


def _clipped(x: float) -> float:
    """A difference of two averages of values in [0, 1] lies in [-1, 1]: so does its interval."""
    return min(1.0, max(-1.0, x))


def _factor_reads(effects: list[FactorEffect]) -> list[FactorRead]:
    """Verdicts from the for-new-seeds p-values, Holm-adjusted over every factor's level effects."""
    contrasts = [level.contrast for effect in effects for level in effect.effects]
    adjusted = iter(adjust_present([c.new_seeds.p_value if c.new_seeds else None for c in contrasts], "holm"))
    reads = []
    for effect in effects:
        levels = []
        for level in effect.effects:
            c, p = level.contrast, next(adjusted)
            new = c.new_seeds
            levels.append(
                LevelEffectRead(
                    level=level.level,  # type: ignore[arg-type]
                    reference=level.reference,  # type: ignore[arg-type]
                    estimate=c.estimate,
                    n_prompts=c.n_prompts,
                    given_low=_clipped(c.given_checkpoints.interval.low),
                    given_high=_clipped(c.given_checkpoints.interval.high),
                    new_seeds=None
                    if new is None or p is None
                    else NewSeedsAnswerRead(
                        se=new.se,
                        df=None if math.isinf(new.df) else new.df,
                        low=_clipped(new.interval.low),
                        high=_clipped(new.interval.high),
                        p_value=new.p_value,
                        p_adjusted=p,
                        seed_variance=new.seed_variance,
                        paired_seeds=new.paired_seeds,
                    ),
                    new_seeds_withheld=c.new_seeds_withheld,
                    verdict="cannot tell" if p is None else verdict_of(p),
                )
            )
        reads.append(
            FactorRead(
                factor=effect.factor,
                levels=effect.levels,  # type: ignore[arg-type]
                level_means=effect.level_means,
                setup_sd=float(np.std(effect.level_means, ddof=1)),
                effects=levels,
                interacts_with=effect.interacts_with,
            )
        )
    return reads
