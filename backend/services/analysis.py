"""The variance analysis of an experiment: SQL aggregates in, backend.stats on them, read models out."""

import itertools
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
from sqlalchemy.orm import Session

from backend.catalog.judges import JUDGES
from backend.domain import RunStatus
from backend.errors import InvalidInput
from backend.repositories import analysis as repository
from backend.repositories import experiments as experiment_repository
from backend.repositories.results import rate_read
from backend.schemas import (
    AgreementRead,
    AnalysisRead,
    CheckpointRepeatsRead,
    ComparisonRead,
    ComponentsRead,
    ConditionRead,
    ConditionSummaryRead,
    ExperimentRead,
    PowerPointRead,
    PowerRead,
    SeedPointRead,
    VarianceRead,
)
from backend.services.cache import AnalysisCache, experiment_state
from backend.stats.agreement import cohens_kappa
from backend.stats.cells import Cells
from backend.stats.compare import compare_conditions
from backend.stats.multitest import adjust_pvalues
from backend.stats.power import Design, minimum_detectable_difference, seeds_needed
from backend.stats.seeds import seed_summary
from backend.stats.variance import Components, variance_components

Adjustment = Literal["holm", "bh"]
Value = TypeVar("Value")
POWER_DIFFERENCES = [d / 100 for d in range(2, 41, 2)]


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass(frozen=True)
class ExperimentData:
    """What every part of the analysis reads, loaded once per request."""

    session: Session
    experiment: ExperimentRead
    judge_key: str
    cache: AnalysisCache
    state: Hashable

    def cached(self, name: str, parameters: Hashable, compute: Callable[[], Value]) -> Value:
        """`compute()`, or its result from an earlier request on the same data."""
        return self.cache.get((self.experiment.id, self.state, name, parameters), compute)

    @property
    def cells(self) -> dict[int, Cells]:
        """Verdict counts per condition, seed and prompt: read only by the parts that need them."""
        return self.cached(
            "cells",
            self.judge_key,
            lambda: repository.condition_cells(self.session, self.experiment.id, self.judge_key),
        )

    @property
    def baseline(self) -> ConditionRead | None:
        return next((c for c in self.experiment.conditions if c.is_baseline), None)

    @property
    def partial(self) -> bool:
        return any(run.status != RunStatus.DONE for run in self.experiment.runs)

    def condition(self, name: str) -> ConditionRead:
        for condition in self.experiment.conditions:
            if condition.name == name:
                return condition
        raise InvalidInput(f"no condition named {name!r} in experiment {self.experiment.id}")


def load(session: Session, experiment_id: int, cache: AnalysisCache) -> ExperimentData:
    experiment = experiment_repository.get_experiment(session, experiment_id)
    judge_key = experiment_repository.primary_judge_key(experiment.judges)
    return ExperimentData(session, experiment, judge_key, cache, experiment_state(experiment))


def condition_summaries(session: Session, data: ExperimentData) -> list[ConditionSummaryRead]:
    return data.cached("summaries", None, lambda: _condition_summaries(session, data))


def _condition_summaries(session: Session, data: ExperimentData) -> list[ConditionSummaryRead]:
    repeats = repository.evaluation_rates(session, data.experiment.id, data.judge_key)
    summaries = []
    for condition in data.experiment.conditions:
        runs = [r for r in data.experiment.runs if r.condition_id == condition.id]
        originals = sorted((r for r in runs if r.evaluation_index == 0), key=lambda r: r.seed)
        points = [
            SeedPointRead(
                run_id=r.id,
                seed=r.seed,
                rate=r.rate.rate,
                low=r.rate.low or 0.0,
                high=r.rate.high or 1.0,
                n_scored=r.rate.harmful + r.rate.safe,
            )
            for r in originals
            if r.rate is not None and r.rate.rate is not None
        ]
        spread = seed_summary([p.rate for p in points]) if points else None
        checkpoints = [
            _repeats(run.id, run.seed, [rate for _, rate in repeats[run.id]])
            for run in originals
            if run.id in repeats
        ]
        sds = [c.sd for c in checkpoints if c.sd is not None]
        # Pooled over every evaluation of the condition; the same as summing its cells.
        harmful = sum(r.rate.harmful for r in runs if r.rate)
        safe = sum(r.rate.safe for r in runs if r.rate)
        unscored = sum(r.rate.unscored for r in runs if r.rate)
        summaries.append(
            ConditionSummaryRead(
                condition_id=condition.id,
                name=condition.name,
                is_baseline=condition.is_baseline,
                runs_done=sum(r.status == RunStatus.DONE for r in runs),
                runs_total=len(runs),
                seeds=points,
                mean=_finite(spread.mean) if spread else None,
                sd=_finite(spread.sd) if spread else None,
                min=_finite(spread.min) if spread else None,
                max=_finite(spread.max) if spread else None,
                # A t-interval on a proportion can poke out of [0, 1]; the rate cannot.
                low=_finite(float(np.clip(spread.low, 0, 1))) if spread else None,
                high=_finite(float(np.clip(spread.high, 0, 1))) if spread else None,
                pooled=rate_read(harmful, safe, unscored),
                repeats=checkpoints,
                evaluation_sd=float(np.mean(sds)) if sds else None,
            )
        )
    return summaries


def _repeats(run_id: int, seed: int, rates: list[float]) -> CheckpointRepeatsRead:
    return CheckpointRepeatsRead(
        run_id=run_id,
        seed=seed,
        rates=rates,
        n_evaluations=len(rates),
        min=min(rates),
        max=max(rates),
        sd=float(np.std(rates, ddof=1)) if len(rates) > 1 else None,
    )


def _on_shared_prompts(a: Cells, b: Cells) -> tuple[Cells, Cells]:
    """Both conditions restricted to the prompts both have verdicts on (they differ while runs are going)."""
    shared = np.intersect1d(a.prompt, b.prompt)

    def keep(cells: Cells) -> Cells:
        mask = np.isin(cells.prompt, shared)
        return Cells(cells.seed[mask], cells.prompt[mask], cells.harmful[mask], cells.scored[mask])

    return keep(a), keep(b)


def default_pairs(data: ExperimentData) -> list[tuple[str, str]]:
    """Each condition against the baseline, or against the first condition when there is no baseline."""
    conditions = data.experiment.conditions
    reference = data.baseline or (conditions[0] if conditions else None)
    if reference is None:
        return []
    return [(c.name, reference.name) for c in conditions if c.id != reference.id]


def comparisons(
    data: ExperimentData, pairs: list[tuple[str, str]], adjustment: Adjustment = "holm"
) -> list[ComparisonRead]:
    """Paired differences for the given (A, B) pairs, p-values adjusted across all of them."""
    return data.cached(
        "comparisons", (tuple(pairs), adjustment), lambda: _comparisons(data, pairs, adjustment)
    )


def _comparisons(
    data: ExperimentData, pairs: list[tuple[str, str]], adjustment: Adjustment
) -> list[ComparisonRead]:
    results = []
    for name_a, name_b in pairs:
        a, b = data.condition(name_a), data.condition(name_b)
        cells_a, cells_b = data.cells.get(a.id), data.cells.get(b.id)
        if cells_a is None or cells_b is None:
            continue
        shared_a, shared_b = _on_shared_prompts(cells_a, cells_b)
        if shared_a.prompt.size == 0:
            continue
        # A baseline's seed is unrelated to a fine-tune's seed of the same number: pair seeds only
        # between fine-tuned conditions, where the same seed means the same init, order and subset.
        pair_seeds = not (a.is_baseline or b.is_baseline)
        results.append((name_a, name_b, compare_conditions(shared_a, shared_b, pair_seeds=pair_seeds)))
    if not results:
        return []
    adjusted = adjust_pvalues([c.test.p_value for _, _, c in results], adjustment)
    return [
        ComparisonRead(
            a=name_a,
            b=name_b,
            estimate=c.estimate,
            rate_a=c.rate_a,
            rate_b=c.rate_b,
            se_prompt=c.se_prompt,
            prompt_low=c.prompt_interval.low,
            prompt_high=c.prompt_interval.high,
            se_seed_aware=_finite(c.se_seed_aware),
            seed_low=_finite(c.seed_aware_interval.low),
            seed_high=_finite(c.seed_aware_interval.high),
            p_value=c.test.p_value,
            p_adjusted=float(p_adjusted),
            n_permutations=c.test.n_permutations,
            exact=c.test.exact,
            n_prompts=c.n_prompts,
            n_seed_clusters=c.n_seed_clusters,
        )
        for (name_a, name_b, c), p_adjusted in zip(results, adjusted, strict=True)
    ]


def _components_read(components: Components) -> ComponentsRead:
    return ComponentsRead(
        seed=components.seed,
        prompt=components.prompt,
        seed_x_prompt=components.seed_x_prompt,
        sampling=_finite(components.sampling),
    )


def variance(data: ExperimentData) -> list[VarianceRead]:
    """Variance components of every condition with at least two seeds and two prompts judged."""
    return data.cached("variance", None, lambda: _variance(data))


def _variance(data: ExperimentData) -> list[VarianceRead]:
    results = []
    for condition in data.experiment.conditions:
        cells = data.cells.get(condition.id)
        if cells is None or np.unique(cells.seed).size < 2 or np.unique(cells.prompt).size < 2:
            continue
        decomposition = variance_components(cells)
        results.append(
            VarianceRead(
                condition_id=condition.id,
                name=condition.name,
                components=_components_read(decomposition.components),
                shares=_components_read(decomposition.shares),
                icc_seed=_finite(decomposition.icc_seed),
                interaction_confounded=decomposition.interaction_confounded,
                n_seeds=decomposition.n_seeds,
                n_prompts=decomposition.n_prompts,
                cell_size=decomposition.cell_size,
            )
        )
    return results


def power(data: ExperimentData, variances: list[VarianceRead]) -> PowerRead | None:
    """Seeds needed per detectable difference, from the fine-tuned conditions' average components."""
    return data.cached("power", None, lambda: _power(data, variances))


def _power(data: ExperimentData, variances: list[VarianceRead]) -> PowerRead | None:
    basis = [v for v in variances if not data.condition(v.name).is_baseline]
    if not basis:
        return None

    def mean_of(name: str) -> float:
        values = [getattr(v.components, name) for v in basis]
        return math.nan if any(x is None for x in values) else float(np.mean(values))

    components = Components(mean_of("seed"), mean_of("prompt"), mean_of("seed_x_prompt"), mean_of("sampling"))
    n_seeds = max(2, max(v.n_seeds for v in basis))
    n_prompts = max(v.n_prompts for v in basis)
    n_samples = max(1, round(float(np.mean([v.cell_size for v in basis]))))
    try:
        detectable = minimum_detectable_difference(components, Design(n_seeds, n_prompts, n_samples))
        curve = [
            PowerPointRead(difference=d, seeds_needed=seeds_needed(components, d, n_prompts, n_samples))
            for d in POWER_DIFFERENCES
        ]
    except ValueError:  # no seed, interaction or sampling variance at all: nothing to size
        return None
    return PowerRead(
        based_on=[v.name for v in basis],
        n_seeds=n_seeds,
        n_prompts=n_prompts,
        n_samples=n_samples,
        minimum_detectable_difference=_finite(detectable),
        curve=curve,
    )


def agreement(session: Session, data: ExperimentData) -> list[AgreementRead]:
    """Cohen's kappa between every two of the experiment's judges, on the generations both judged."""
    return data.cached("agreement", None, lambda: _agreement(session, data))


def _agreement(session: Session, data: ExperimentData) -> list[AgreementRead]:
    results = []
    for name_a, name_b in itertools.combinations(data.experiment.judges, 2):
        key_a, key_b = JUDGES[name_a].key, JUDGES[name_b].key
        counts = repository.agreement_counts(session, data.experiment.id, key_a, key_b)
        n = sum(counts.values())
        if n == 0:
            continue
        labels_a = np.repeat([a.value for a, _ in counts], list(counts.values()))
        labels_b = np.repeat([b.value for _, b in counts], list(counts.values()))
        kappa = cohens_kappa(labels_a.tolist(), labels_b.tolist())
        results.append(
            AgreementRead(
                judge_a=key_a,
                judge_b=key_b,
                kappa=_finite(kappa.kappa),
                low=_finite(kappa.low),
                high=_finite(kappa.high),
                observed_agreement=kappa.observed_agreement,
                n=n,
            )
        )
    return results


def analyse(
    session: Session,
    experiment_id: int,
    cache: AnalysisCache,
    pairs: list[tuple[str, str]] | None = None,
    adjustment: Adjustment = "holm",
) -> AnalysisRead:
    data = load(session, experiment_id, cache)
    variances = variance(data)
    return AnalysisRead(
        experiment_id=experiment_id,
        judge=data.judge_key,
        partial=data.partial,
        conditions=condition_summaries(session, data),
        comparisons=comparisons(data, default_pairs(data) + (pairs or []), adjustment),
        adjustment=adjustment,
        variance=variances,
        power=power(data, variances),
        agreement=agreement(session, data),
    )
