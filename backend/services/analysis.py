"""The variance analysis of an experiment: SQL aggregates in, backend.stats on them, read models out."""

import dataclasses
import itertools
import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Literal, TypeVar

import numpy as np
from sqlalchemy.orm import Session

from backend.api_models.analysis import (
    AgreementRead,
    BenchmarkAnalysisRead,
    CapabilityMatchRead,
    CheckpointRepeatsRead,
    CheckpointsAnswerRead,
    ComparisonRead,
    ComponentsRead,
    ConditionSummaryRead,
    IntervalRead,
    JudgeAnalysisRead,
    JudgeComponentsRead,
    JudgeVarianceRead,
    MatchedConditionRead,
    NewSeedsAnswerRead,
    PowerPointRead,
    PowerRead,
    SeedPointRead,
    SizingRead,
    VarianceRead,
)
from backend.api_models.experiments import (
    ConditionRead,
    ExperimentBenchmarkRead,
    ExperimentRead,
    RateRead,
    RunRead,
)
from backend.domain import RunStatus, SetMeasure, Verdict
from backend.errors import InvalidInput
from backend.refusal_openings import REFUSAL_OPENINGS
from backend.repositories import analysis as repository
from backend.repositories import validations as validation_repository
from backend.repositories.results import rate_read, rates_of_runs
from backend.services.cache import AnalysisCache, experiment_state
from backend.services.corrected_rates import Judged, corrected_read, validation_counts
from backend.services.experiment_state import current_state, read_experiment
from backend.stats.agreement import cohens_kappa
from backend.stats.cells import Cells
from backend.stats.compare import Comparison, compare_conditions
from backend.stats.judge_variance import judge_table, judge_variance_components
from backend.stats.multitest import adjust_pvalues
from backend.stats.power import Design, Undetectable, seeds_needed, sizing
from backend.stats.rates import PromptMoments, pooled_rate
from backend.stats.seeds import seed_summary
from backend.stats.variance import Components, VarianceDecomposition, variance_components

Adjustment = Literal["holm", "bh"]
Metric = Literal["rate", "score", "refusal-prefix"]
Value = TypeVar("Value")
POWER_DIFFERENCES = [d / 100 for d in range(2, 41, 2)]
# The power panel's "what if": this many more seeds per fine-tuned condition.
MORE_SEEDS = (3, 10)
ALPHA = 0.05


def _possible(bound: float) -> float:
    """An interval's bound on a difference of two values in [0, 1], within [-1, 1]: a normal or t interval
    may reach past what any difference can be (the truth never lies there, so coverage is unchanged)."""
    return bound if math.isnan(bound) else min(1.0, max(-1.0, bound))


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass(frozen=True)
class ExperimentData:
    """What every part of the analysis reads, loaded once per request."""

    session: Session
    experiment: ExperimentRead
    # The definition id of the judge whose verdicts make the rates: the first judge unless `for_judge`.
    judge_id: int
    cache: AnalysisCache
    state: Hashable
    # "rate": the share of the judge's scored verdicts called harmful; "score": the mean of its graded scores;
    # "refusal-prefix": the mean refusal-prefix score (no judge: `judge_id` stays the first judge, whose
    # verdict counts the pooled rates carry beside it).
    metric: Metric = "rate"
    # The benchmark whose prompts the numbers are on, when the experiment has several (the first unless
    # `for_benchmark`); None with one benchmark, whose prompts are all there is.
    benchmark_id: int | None = None
    # What that set measures: harm (its rates count the judge's harmful verdicts), or capability or
    # over-refusal (they count its scorer's safe verdicts: correct answers, refusals).
    measures: SetMeasure = SetMeasure.HARM
    # Capability-matched: the fine-tuned seeds kept, by condition id (None: every seed), and what kept
    # them ("name@version ≥ target"), for the memo's key.
    kept_seeds: Mapping[int, frozenset[int]] | None = None
    kept_by: str | None = None

    @property
    def counted(self) -> Verdict:
        return self.measures.counted

    @property
    def judge(self) -> str:
        """The judge (or scorer) whose verdicts the numbers are, "name@version"; for the refusal-prefix
        score, its phrase set's."""
        if self.metric == "refusal-prefix":
            return REFUSAL_OPENINGS
        judges = {judge.id: judge.ref for judge in self.experiment.judges}
        scorers = {b.scorer_id: b.scorer for b in self.experiment.benchmarks if b.scorer is not None}
        return judges.get(self.judge_id) or scorers[self.judge_id]

    def cached(self, name: str, parameters: Hashable, compute: Callable[[], Value]) -> Value:
        """`compute()`, or its result from an earlier request on the same data and view (judge, metric,
        benchmark)."""
        key = (
            self.experiment.id,
            self.state,
            self.judge_id,
            self.metric,
            self.benchmark_id,
            self.kept_by,
            name,
            parameters,
        )
        return self.cache.get(key, compute)

    def for_judge(self, judge_id: int, metric: Metric = "rate") -> "ExperimentData":
        """The same data measured by another of the experiment's judges (or by its scores)."""
        return dataclasses.replace(self, judge_id=judge_id, metric=metric)

    def for_benchmark(self, benchmark_id: int) -> "ExperimentData":
        """The same data on another of the experiment's safety benchmarks."""
        return dataclasses.replace(self, benchmark_id=benchmark_id)

    def on_scored_set(self, evaluation_set: ExperimentBenchmarkRead) -> "ExperimentData":
        """The data on a capability or over-refusal set, measured by its scorer."""
        if evaluation_set.scorer_id is None:
            raise ValueError(f"{evaluation_set.reference} has no scorer: it is a safety benchmark")
        return dataclasses.replace(
            self,
            benchmark_id=evaluation_set.id,
            judge_id=evaluation_set.scorer_id,
            measures=evaluation_set.measures,
        )

    @property
    def benchmark(self) -> str:
        """The benchmark the numbers are on, "name@version"."""
        chosen = self.benchmark_id or self.experiment.benchmark_id
        return next(b.reference for b in self.experiment.benchmarks if b.id == chosen)

    @property
    def cells(self) -> dict[int, Cells]:
        """Verdict counts (or score sums) per condition, seed and prompt; read only where needed."""
        if self.metric == "refusal-prefix":
            return self.cached(
                "cells",
                None,
                lambda: repository.condition_refusal_prefix_cells(
                    self.session, self.experiment.id, self.benchmark_id
                ),
            )
        if self.metric == "score":
            return self.cached(
                "cells",
                None,
                lambda: repository.condition_score_cells(
                    self.session, self.experiment.id, self.judge_id, self.benchmark_id
                ),
            )
        return self.cached(
            "cells",
            None,
            lambda: self._kept(
                repository.condition_cells(
                    self.session, self.experiment.id, self.judge_id, self.benchmark_id, self.counted
                )
            ),
        )

    def _kept(self, cells: dict[int, Cells]) -> dict[int, Cells]:
        """The cells of the kept seeds only, where seeds are kept; a condition without any is left out."""
        if self.kept_seeds is None:
            return cells
        kept = {}
        for condition_id, condition_cells in cells.items():
            seeds = self.kept_seeds.get(condition_id)
            if seeds is None:
                kept[condition_id] = condition_cells
            elif (mask := np.isin(condition_cells.seed, list(seeds))).any():
                kept[condition_id] = condition_cells.subset(mask)
        return kept

    @property
    def run_rates(self) -> dict[int, RateRead]:
        """Each judged run's rate under the judge (the first judge's on the first benchmark come with the
        experiment)."""
        if self.judge_id == self.experiment.judges[0].id and self.benchmark_id in (
            None,
            self.experiment.benchmark_id,
        ):
            return {run.id: run.rate for run in self.experiment.runs if run.rate is not None}
        run_ids = [run.id for run in self.experiment.runs]
        return self.cached(
            "run rates",
            None,
            lambda: rates_of_runs(self.session, run_ids, self.judge_id, self.benchmark_id, self.counted),
        )

    def reference_of(self, condition: ConditionRead) -> ConditionRead | None:
        """What a condition is compared with by default: the untuned baseline of its own base model, the
        one decoding as it does when the model has several; a baseline, with an earlier baseline (of its
        model, else the first); without baselines, the first condition. None for the first of them."""
        conditions = self.experiment.conditions
        baselines = [c for c in conditions if c.is_baseline]
        if not baselines:
            return None if conditions[0].id == condition.id else conditions[0]
        if condition.id == baselines[0].id:
            return None
        candidates = (
            list(itertools.takewhile(lambda c: c.id != condition.id, baselines))
            if condition.is_baseline
            else baselines
        )
        same_model = [c for c in candidates if c.spec.model_key == condition.spec.model_key]
        same_decoding = [c for c in same_model if c.spec.generation == condition.spec.generation]
        return next(iter(same_decoding or same_model or candidates))

    @property
    def partial(self) -> bool:
        return any(run.status != RunStatus.DONE for run in self.experiment.runs)

    def condition(self, name: str) -> ConditionRead:
        for condition in self.experiment.conditions:
            if condition.name == name:
                return condition
        raise InvalidInput(f"no condition named {name!r} in experiment {self.experiment.id}")


def load(
    session: Session,
    experiment_id: int,
    cache: AnalysisCache,
    metric: Metric = "rate",
    benchmark: str | None = None,
) -> ExperimentData:
    """The experiment's data, measured by its first judge's verdicts, with metric "score" by the scores of
    its first judge that grades (InvalidInput when none does), with "refusal-prefix" by the runs'
    refusal-prefix scores (InvalidInput when it has none and will compute none); on its first benchmark's
    prompts, or on `benchmark`'s ("name@version", or its name; InvalidInput when the experiment has no such
    benchmark)."""
    stored = current_state(session, experiment_id)
    experiment = read_experiment(session, cache, experiment_id, stored)
    others = cache.get(
        ("verdict totals", experiment_id, stored.data_version),
        lambda: repository.verdict_totals(
            session, experiment_id, [judge.id for judge in experiment.judges[1:]]
        ),
    )
    data = ExperimentData(
        session,
        experiment,
        experiment.judges[0].id,
        cache,
        experiment_state(experiment, tuple(others)),
        benchmark_id=_benchmark_id(experiment, benchmark),
    )
    chosen = benchmark_of(experiment, benchmark)
    if chosen.scorer_id is not None:
        if metric != "rate":
            raise InvalidInput(
                f"{chosen.reference} is a {chosen.measures.value.replace('_', '-')} set: its numbers are "
                f"rates of {chosen.scorer}'s verdicts, without a graded score"
            )
        return data.on_scored_set(chosen)
    if metric == "rate":
        return data
    if metric == "refusal-prefix":
        if not any(offered.metric == metric for offered in experiment.metrics):
            raise InvalidInput(
                f"experiment {experiment_id} has no refusal-prefix scores: its runs were generated before "
                "seedscope computed them"
            )
        return dataclasses.replace(data, metric=metric)
    graded = next((judge for judge in experiment.judges if judge.graded), None)
    if graded is None:
        names = ", ".join(judge.ref for judge in experiment.judges)
        raise InvalidInput(
            f"metric 'score' needs a judge that grades responses in [0, 1] (a sequence classifier, or a "
            f"score or StrongREJECT parse rule); experiment {experiment_id}'s judges are {names}"
        )
    return data.for_judge(graded.id, "score")


def benchmark_of(experiment: ExperimentRead, benchmark: str | None) -> ExperimentBenchmarkRead:
    """The experiment's benchmark named "name@version" or "name", or its first; InvalidInput naming its
    benchmarks when it has no such one."""
    if benchmark is None:
        return experiment.benchmarks[0]
    chosen = [b for b in experiment.benchmarks if benchmark in (b.reference, b.reference.split("@")[0])]
    if not chosen:
        known = ", ".join(b.reference for b in experiment.benchmarks)
        raise InvalidInput(
            f"experiment {experiment.id} is not evaluated on {benchmark!r}; its benchmarks: {known}"
        )
    return chosen[0]


def _benchmark_id(experiment: ExperimentRead, benchmark: str | None) -> int | None:
    """The chosen benchmark's id, or the first's; None when the experiment has only one."""
    chosen = benchmark_of(experiment, benchmark)
    return chosen.id if len(experiment.benchmarks) > 1 else None


def condition_summaries(session: Session, data: ExperimentData) -> list[ConditionSummaryRead]:
    return data.cached("summaries", None, lambda: _condition_summaries(session, data))


def _rate_step(cells: Cells | None) -> float:
    """How far one verdict flipped moves a seed's rate, at least: 1 / the largest count of a seed; 0 for
    scores."""
    if cells is None or not cells.binary:
        return 0.0
    return 1.0 / float(
        np.bincount(np.unique(cells.seed, return_inverse=True)[1].reshape(-1), weights=cells.scored).max()
    )


def _condition_summaries(session: Session, data: ExperimentData) -> list[ConditionSummaryRead]:
    # Re-evaluation spread is a spread of verdict rates: not shown in mean scores.
    repeats = (
        repository.evaluation_rates(
            session, data.experiment.id, data.judge_id, data.benchmark_id, data.counted
        )
        if data.metric == "rate"
        else {}
    )
    rates = data.run_rates
    # Corrected for the errors of the judge or scorer whose verdicts the rates count, with its validation.
    judge = _judged(data)
    counts = (
        validation_counts(validation_repository.confusion(session, judge.validation.id))
        if judge is not None and judge.validation is not None
        else None
    )
    summaries = []
    for condition in data.experiment.conditions:
        runs = [r for r in data.experiment.runs if r.condition_id == condition.id]
        originals = sorted((r for r in runs if r.evaluation_index == 0), key=lambda r: r.seed)
        cells = data.cells.get(condition.id)
        points = _seed_points(data, originals, cells)
        spread = seed_summary([p.rate for p in points], step=_rate_step(cells)) if points else None
        checkpoints = [
            _repeats(run.id, run.seed, [rate for _, rate in repeats[run.id]])
            for run in originals
            if run.id in repeats
        ]
        sds = [c.sd for c in checkpoints if c.sd is not None]
        # Pooled over every evaluation of the condition, clustered by prompt.
        judged = [rates[r.id] for r in runs if r.id in rates]
        harmful = sum(rate.harmful for rate in judged)
        safe = sum(rate.safe for rate in judged)
        unscored = sum(rate.unscored for rate in judged)
        marked = [rate.incoherent for rate in judged if rate.incoherent is not None]
        # The share of the verdict the set counts (a capability set's: correct answers), as the run rates
        # are, with the cells' moments, which count that verdict too; the counts stay the verdicts'.
        counted, other = (harmful, safe) if data.counted == Verdict.HARMFUL else (safe, harmful)
        moments = PromptMoments.of(cells) if cells else None
        pooled = rate_read(counted, other, unscored, moments, sum(marked) if marked else None)
        pooled = pooled.model_copy(update={"harmful": harmful, "safe": safe})
        if data.metric != "rate":
            pooled = _mean_score(pooled, cells)
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
                pooled=pooled,
                repeats=checkpoints,
                evaluation_sd=float(np.mean(sds)) if sds else None,
                corrected=corrected_read(judge, counts, data.metric, pooled, spread, data.counted)
                if judge is not None
                else None,
            )
        )
    return summaries


def _judged(data: ExperimentData) -> Judged | None:
    """The experiment's judge or the scored set's scorer whose verdicts the rates count, with its
    validation (None for a capability set's reference-answer scorer, which has nothing to validate)."""
    judge = next((judge for judge in data.experiment.judges if judge.id == data.judge_id), None)
    if judge is not None:
        return Judged(judge.ref, judge.measures, judge.validation)
    scored = next((b for b in data.experiment.benchmarks if b.scorer_id == data.judge_id), None)
    if scored is None or scored.scorer is None or scored.scorer_measures is None:
        return None
    return Judged(scored.scorer, scored.scorer_measures, scored.scorer_validation)


def _seed_points(data: ExperimentData, originals: list[RunRead], cells: Cells | None) -> list[SeedPointRead]:
    """One point per seed: its run's rate, or in mean scores the mean of the seed's scores (its checkpoint's
    re-evaluations pooled in), each with its interval."""
    points = []
    for run in originals:
        if data.metric != "rate":
            if cells is None or run.seed not in cells.seed:
                continue
            score = pooled_rate(cells.subset(cells.seed == run.seed))
            value, low, high, n_scored = score.rate, score.low, score.high, score.n_scored
        else:
            rate = data.run_rates.get(run.id)
            if rate is None or rate.rate is None:
                continue
            value, low, high, n_scored = (
                rate.rate,
                rate.low or 0.0,
                rate.high or 1.0,
                rate.harmful + rate.safe,
            )
        points.append(
            SeedPointRead(
                run_id=run.id,
                seed=run.seed,
                rate=value,
                low=low,
                high=high,
                n_scored=n_scored,
                added_in=run.added_in,
            )
        )
    return points


def _mean_score(verdicts: RateRead, cells: Cells | None) -> RateRead:
    """The pooled verdict counts, with the condition's mean score and its interval in place of the rate."""
    if cells is None:
        return verdicts.model_copy(update={"rate": None, "low": None, "high": None})
    score = pooled_rate(cells)
    return verdicts.model_copy(
        update={
            "rate": score.rate,
            "low": score.low,
            "high": score.high,
            "design_effect": score.design_effect,
        }
    )


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


def _on_shared_prompts(a: Cells, b: Cells) -> tuple[Cells, Cells] | None:
    """Both conditions restricted to the prompts both have verdicts on (they differ while runs are going);
    None when they share none."""
    shared = np.intersect1d(a.prompt, b.prompt)
    if shared.size == 0:
        return None
    return a.subset(np.isin(a.prompt, shared)), b.subset(np.isin(b.prompt, shared))


def default_pairs(data: ExperimentData) -> list[tuple[str, str]]:
    """Each condition against its reference (ExperimentData.reference_of: its base model's baseline), and
    each evaluation-only condition against the condition whose checkpoints it evaluates."""
    conditions = data.experiment.conditions
    pairs = [(c.name, reference.name) for c in conditions if (reference := data.reference_of(c)) is not None]
    evaluations = [(c.name, c.spec.evaluates) for c in conditions if c.spec.evaluates is not None]
    return pairs + [pair for pair in evaluations if pair not in pairs]


def comparison_stats(data: ExperimentData, pairs: list[tuple[str, str]]) -> list[tuple[str, str, Comparison]]:
    """(A, B, comparison) for each pair with verdicts on shared prompts, in order; memoised per pair."""
    results = []
    for name_a, name_b in pairs:
        comparison = data.cached("comparison", (name_a, name_b), partial(_compare, data, name_a, name_b))
        if comparison is not None:
            results.append((name_a, name_b, comparison))
    return results


def _compare(data: ExperimentData, name_a: str, name_b: str) -> Comparison | None:
    a, b = data.condition(name_a), data.condition(name_b)
    cells_a, cells_b = data.cells.get(a.id), data.cells.get(b.id)
    if cells_a is None or cells_b is None:
        return None
    shared = _on_shared_prompts(cells_a, cells_b)
    if shared is None:
        return None
    shared_a, shared_b = shared
    # The same seed on two base models shares nothing: such arms pair on prompts only.
    return compare_conditions(
        shared_a,
        shared_b,
        trained=(not a.is_baseline, not b.is_baseline),
        seeds_comparable=a.spec.model_key == b.spec.model_key,
    )


def comparisons(
    data: ExperimentData, pairs: list[tuple[str, str]], adjustment: Adjustment = "holm"
) -> list[ComparisonRead]:
    """Paired differences for the given (A, B) pairs, p-values adjusted across all of them.

    The two answers are adjusted apart: the checkpoints' permutation p-values among themselves, the
    for-new-seeds p-values among the comparisons that have one.
    """
    return data.cached(
        "comparisons", (tuple(pairs), adjustment), lambda: _comparisons(data, pairs, adjustment)
    )


def adjust_present(pvalues: list[float | None], adjustment: Adjustment) -> list[float | None]:
    present = [p for p in pvalues if p is not None]
    if not present:
        return [None] * len(pvalues)
    adjusted = iter(adjust_pvalues(present, adjustment).tolist())
    return [None if p is None else next(adjusted) for p in pvalues]


def _comparisons(
    data: ExperimentData, pairs: list[tuple[str, str]], adjustment: Adjustment
) -> list[ComparisonRead]:
    results = comparison_stats(data, pairs)
    given_adjusted = adjust_present([c.given_checkpoints.test.p_value for _, _, c in results], adjustment)
    new_adjusted = adjust_present(
        [c.new_seeds.p_value if c.new_seeds else None for _, _, c in results], adjustment
    )
    reads = []
    for (name_a, name_b, c), given_p, new_p in zip(results, given_adjusted, new_adjusted, strict=True):
        a, b = data.condition(name_a), data.condition(name_b)
        fine_tuned = not (a.is_baseline and b.is_baseline)
        given = c.given_checkpoints
        new = c.new_seeds
        assert given_p is not None
        if not fine_tuned:
            verdict, basis = verdict_of(given_p), "given these checkpoints"
        elif new is None or new_p is None:
            verdict, basis = "cannot tell", "for new seeds"
        else:
            verdict, basis = verdict_of(new_p), "for new seeds"
        sized, sizing_withheld = sizing_read(c, _current_design(c))
        reads.append(
            ComparisonRead(
                a=name_a,
                b=name_b,
                a_fine_tuned=not a.is_baseline,
                b_fine_tuned=not b.is_baseline,
                estimate=c.estimate,
                rate_a=c.rate_a,
                rate_b=c.rate_b,
                n_prompts=c.n_prompts,
                seeds_a=c.seeds_a,
                seeds_b=c.seeds_b,
                given_checkpoints=CheckpointsAnswerRead(
                    se=given.se,
                    df=given.df,
                    low=_possible(given.interval.low),
                    high=_possible(given.interval.high),
                    p_value=given.test.p_value,
                    p_adjusted=given_p,
                    n_permutations=given.test.n_permutations,
                    exact=given.test.exact,
                ),
                new_seeds=None
                if new is None or new_p is None
                else NewSeedsAnswerRead(
                    se=new.se,
                    df=None if math.isinf(new.df) else new.df,
                    low=_possible(new.interval.low),
                    high=_possible(new.interval.high),
                    p_value=new.p_value,
                    p_adjusted=new_p,
                    seed_variance=new.seed_variance,
                    paired_seeds=new.paired_seeds,
                ),
                new_seeds_withheld=c.new_seeds_withheld,
                verdict=verdict,
                verdict_basis=basis,
                sizing=sized,
                sizing_withheld=sizing_withheld,
            )
        )
    return reads


def verdict_of(p_adjusted: float) -> str:
    return "real" if p_adjusted < ALPHA else "could be noise"


def _current_design(comparison: Comparison) -> Design | None:
    """The seeds per fine-tuned arm (the fewest, when they differ) and prompts the comparison ran with."""
    seeds = [n.df_seed + 1 for n in comparison.training_noise]
    if not seeds or comparison.n_prompts < 2:
        return None
    return Design(min(seeds), comparison.n_prompts)


def sizing_read(comparison: Comparison, design: Design | None) -> tuple[SizingRead | None, str | None]:
    """The design's MDD as read, or None with the reason when no reachable difference is detectable
    (None, None without an answer for new seeds)."""
    size = sizing(comparison, design) if design is not None else None
    if design is None or size is None:
        return None, None
    if isinstance(size, Undetectable):
        return None, size.reason
    return SizingRead(
        n_seeds=design.n_seeds,
        n_prompts=design.n_prompts,
        minimum_detectable_difference=size.minimum_detectable_difference,
        low=size.low,
        high=size.high,
        largest_possible=size.largest_possible,
    ), None


def _interval(estimate: float, low: float, high: float) -> IntervalRead:
    return IntervalRead(estimate=_finite(estimate), low=_finite(low), high=_finite(high))


def _components_read(estimate: Components, low: Components, high: Components) -> ComponentsRead:
    def field(name: str) -> IntervalRead:
        return _interval(getattr(estimate, name), getattr(low, name), getattr(high, name))

    return ComponentsRead(
        seed=field("seed"),
        prompt=field("prompt"),
        seed_x_prompt=field("seed_x_prompt"),
        sampling=None if math.isnan(estimate.sampling) else field("sampling"),
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
        try:
            d: VarianceDecomposition = variance_components(cells)
        except ValueError:  # fewer than two prompts scored under every seed, while runs are going
            continue
        ms = d.mean_squares
        results.append(
            VarianceRead(
                condition_id=condition.id,
                name=condition.name,
                components=_components_read(d.components, d.components_low, d.components_high),
                shares=_components_read(d.shares, d.shares_low, d.shares_high),
                icc_seed=_interval(d.icc_seed, d.shares_low.seed, d.shares_high.seed),
                interaction_confounded=d.interaction_confounded,
                n_seeds=ms.n_seeds,
                n_prompts=ms.n_prompts,
                cell_size=ms.cell_size,
            )
        )
    return results


def power(data: ExperimentData) -> list[PowerRead]:
    """For each default comparison with a for-new-seeds answer: its MDD now, with more seeds, and the
    seeds it would need per difference."""
    return data.cached("power", None, lambda: _power(data))


def _power(data: ExperimentData) -> list[PowerRead]:
    results = []
    for name_a, name_b, comparison in comparison_stats(data, default_pairs(data)):
        design = _current_design(comparison)
        if design is None or comparison.new_seeds is None:
            continue
        now, withheld = sizing_read(comparison, design)
        more = [sizing_read(comparison, Design(design.n_seeds + k, design.n_prompts))[0] for k in MORE_SEEDS]
        needed = seeds_needed(comparison, POWER_DIFFERENCES, design.n_prompts)
        results.append(
            PowerRead(
                a=name_a,
                b=name_b,
                n_seeds=design.n_seeds,
                n_prompts=design.n_prompts,
                now=now,
                now_withheld=withheld,
                more_seeds=[m for m in more if m is not None],
                curve=[
                    PowerPointRead(difference=d, seeds_needed=n)
                    for d, n in zip(POWER_DIFFERENCES, needed, strict=True)
                ],
            )
        )
    return results


def by_judge(session: Session, data: ExperimentData, adjustment: Adjustment) -> list[JudgeAnalysisRead]:
    """With two or more judges, the conditions' rates and the default comparisons under each of them (on a
    safety benchmark: a scored set has its one scorer)."""
    if len(data.experiment.judges) < 2 or data.measures != SetMeasure.HARM:
        return []
    views = []
    for judge in data.experiment.judges:
        judged = data.for_judge(judge.id)
        views.append(
            JudgeAnalysisRead(
                judge=judge.ref,
                measures=judge.measures,
                conditions=condition_summaries(session, judged),
                comparisons=comparisons(judged, default_pairs(judged), adjustment),
            )
        )
    return views


def by_benchmark(
    session: Session, data: ExperimentData, adjustment: Adjustment
) -> list[BenchmarkAnalysisRead]:
    """With two or more safety benchmarks, the conditions' rates and the default comparisons on each of
    them (capability and over-refusal sets measure other things: they have views of their own)."""
    safety = [b for b in data.experiment.benchmarks if b.measures == SetMeasure.HARM]
    if len(safety) < 2 or data.measures != SetMeasure.HARM:
        return []
    views = []
    for benchmark in safety:
        on = data.for_benchmark(benchmark.id)
        views.append(
            BenchmarkAnalysisRead(
                benchmark=benchmark.reference,
                conditions=condition_summaries(session, on),
                comparisons=comparisons(on, default_pairs(on), adjustment),
            )
        )
    return views


def by_scored_set(
    session: Session, data: ExperimentData, adjustment: Adjustment
) -> list[BenchmarkAnalysisRead]:
    """Beside the harm rates, each capability and over-refusal set's rates and default comparisons, by its
    scorer."""
    if data.measures != SetMeasure.HARM or data.metric != "rate":
        return []
    views = []
    for evaluation_set in data.experiment.benchmarks:
        if evaluation_set.scorer_id is None:
            continue
        on = data.on_scored_set(evaluation_set)
        views.append(
            BenchmarkAnalysisRead(
                benchmark=evaluation_set.reference,
                conditions=condition_summaries(session, on),
                comparisons=comparisons(on, default_pairs(on), adjustment),
                measures=evaluation_set.measures,
                judge=evaluation_set.scorer,
            )
        )
    return views


def capability_match(
    data: ExperimentData, target: float, capability_set: str | None, adjustment: Adjustment
) -> CapabilityMatchRead:
    """The default comparisons over only the fine-tuned seeds whose capability on `capability_set` (default:
    the experiment's first capability set) reached `target`; the untuned baselines keep their runs.
    InvalidInput when the experiment has no such capability set."""
    sets = [b for b in data.experiment.benchmarks if b.measures == SetMeasure.CAPABILITY]
    try:
        evaluation_set = sets[0] if capability_set is None else benchmark_of(data.experiment, capability_set)
    except (IndexError, InvalidInput):
        evaluation_set = None
    if evaluation_set is None or evaluation_set.measures != SetMeasure.CAPABILITY:
        known = ", ".join(b.reference for b in sets) or "none"
        raise InvalidInput(
            "a capability-matched comparison needs one of the experiment's capability sets; "
            f"its capability sets: {known}"
        )
    capability = data.on_scored_set(evaluation_set).run_rates
    kept: dict[int, frozenset[int]] = {}
    conditions = []
    for condition in data.experiment.conditions:
        if condition.is_baseline:
            continue
        runs = [r for r in data.experiment.runs if r.condition_id == condition.id and r.evaluation_index == 0]
        reached = {
            r.seed
            for r in runs
            if (rate := capability.get(r.id)) is not None and rate.rate is not None and rate.rate >= target
        }
        kept[condition.id] = frozenset(reached)
        conditions.append(
            MatchedConditionRead(
                name=condition.name,
                seeds_kept=sorted(reached),
                seeds_dropped=sorted({r.seed for r in runs} - reached),
            )
        )
    matched = dataclasses.replace(
        data,
        kept_seeds=kept,
        kept_by=f"{evaluation_set.reference} ≥ {target}",
        experiment=data.experiment.model_copy(
            update={
                "runs": [
                    r
                    for r in data.experiment.runs
                    if r.condition_id not in kept or r.seed in kept[r.condition_id]
                ]
            }
        ),
    )
    return CapabilityMatchRead(
        capability_set=evaluation_set.reference,
        target=target,
        conditions=conditions,
        comparisons=comparisons(matched, default_pairs(matched), adjustment),
    )


def judge_variance(data: ExperimentData) -> list[JudgeVarianceRead]:
    """With two or more judges, the judges' share of every condition's variance where the judges have
    scored at least two prompts under every one of two or more seeds."""
    if len(data.experiment.judges) < 2 or data.measures != SetMeasure.HARM:
        return []
    return data.cached("judge variance", None, lambda: _judge_variance(data))


def _judge_variance(data: ExperimentData) -> list[JudgeVarianceRead]:
    cells_by_judge = [data.for_judge(judge.id).cells for judge in data.experiment.judges]
    results = []
    for condition in data.experiment.conditions:
        judged = [cells[condition.id] for cells in cells_by_judge if condition.id in cells]
        if len(judged) < len(cells_by_judge):  # a judge has not judged it yet
            continue
        try:
            table = judge_table(judged)
        except ValueError:  # too few seeds or prompts scored under every judge
            continue
        d = judge_variance_components(table)
        results.append(
            JudgeVarianceRead(
                condition_id=condition.id,
                name=condition.name,
                judge_share=_interval(d.judge_share.estimate, d.judge_share.low, d.judge_share.high),
                shares=JudgeComponentsRead(
                    **{
                        name: _interval(
                            getattr(d.shares, name), getattr(d.shares_low, name), getattr(d.shares_high, name)
                        )
                        for name in JudgeComponentsRead.model_fields
                    }
                ),
                n_judges=d.n_judges,
                n_seeds=d.n_seeds,
                n_prompts=d.n_prompts,
                n_prompts_dropped=table.n_prompts_dropped,
            )
        )
    return results


# The responses agreement is measured on, and the coherence mark that selects them (None: every one).
AGREEMENT_SUBSETS: dict[Literal["all", "coherent", "incoherent"], bool | None] = {
    "all": None,
    "coherent": False,
    "incoherent": True,
}


def agreement(session: Session, data: ExperimentData) -> list[AgreementRead]:
    """Cohen's kappa between every two of the experiment's judges, on the generations both judged, and
    apart on the coherent and on the incoherent ones (a subset without responses is left out)."""
    return data.cached("agreement", None, lambda: _agreement(session, data))


def _agreement(session: Session, data: ExperimentData) -> list[AgreementRead]:
    if data.measures != SetMeasure.HARM:
        return []
    results = []
    pairs = itertools.combinations(data.experiment.judges, 2)
    for (judge_a, judge_b), (responses, incoherent) in itertools.product(pairs, AGREEMENT_SUBSETS.items()):
        counts = repository.agreement_counts(
            session, data.experiment.id, judge_a.id, judge_b.id, data.benchmark_id, incoherent
        )
        n = sum(counts.values())
        if n == 0:
            continue
        labels_a = np.repeat([a.value for a, _ in counts], list(counts.values()))
        labels_b = np.repeat([b.value for _, b in counts], list(counts.values()))
        kappa = cohens_kappa(labels_a.tolist(), labels_b.tolist())
        results.append(
            AgreementRead(
                judge_a=judge_a.ref,
                judge_b=judge_b.ref,
                responses=responses,
                kappa=_finite(kappa.kappa),
                low=_finite(kappa.low),
                high=_finite(kappa.high),
                observed_agreement=kappa.observed_agreement,
                n=n,
            )
        )
    return results
