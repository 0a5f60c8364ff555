"""The erosion curve: a condition's rates at checkpoints along its training (training.evaluate_at), seed by
seed, on every evaluation set, with the step where each seed's task loss converged.

Read from the runs that evaluate intermediate checkpoints (backend.models.Run.checkpoint_of_id) and the
training runs themselves for the final checkpoint; no other statistic reads the former.
"""

from collections.abc import Hashable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.api_models.analysis import (
    ErosionCheckpointRead,
    ErosionPointRead,
    ErosionRead,
    ErosionSeedRead,
    ErosionSetRead,
)
from backend.api_models.experiments import ConditionRead, ExperimentBenchmarkRead, ExperimentRead, RunRead
from backend.errors import InvalidInput
from backend.figures import erosion as figures
from backend.figures.common import FigureJSON
from backend.judging.measures import Measure, rate_measure, set_measure
from backend.provenance import TrainingRecord
from backend.repositories import experiments as repository
from backend.repositories.experiments import CheckpointRun
from backend.repositories.results import rates_of_runs
from backend.services.analysis import benchmark_of
from backend.services.cache import AnalysisCache
from backend.services.experiment_state import current_state, read_experiment
from backend.stats.convergence import converged_step


def erosion(
    session: Session,
    cache: AnalysisCache,
    experiment_id: int,
    condition: str | None = None,
    benchmark: str | None = None,
) -> ErosionRead:
    """The named condition's curve (default: the first that evaluates checkpoints) on the named set
    (default: every set), memoised on the experiment's state."""
    return _chosen(session, cache, experiment_id, condition, benchmark).read()


def erosion_figure(
    session: Session,
    cache: AnalysisCache,
    experiment_id: int,
    condition: str | None = None,
    benchmark: str | None = None,
) -> FigureJSON:
    """The curve as a figure, a panel per set, each in the words for what its numbers measure."""
    chosen = _chosen(session, cache, experiment_id, condition, benchmark)
    measures = [_measure(chosen.experiment, evaluation_set) for evaluation_set in chosen.sets]
    return cache.get(("figure", chosen.key), lambda: figures.erosion_curves(chosen.read(), measures))


@dataclass(frozen=True)
class _Chosen:
    """A request's condition and sets in the experiment's current state."""

    session: Session
    cache: AnalysisCache
    experiment: ExperimentRead
    condition: ConditionRead
    sets: list[ExperimentBenchmarkRead]
    version: str

    @property
    def key(self) -> Hashable:
        return (
            "erosion",
            self.experiment.id,
            self.version,
            self.condition.id,
            tuple(s.id for s in self.sets),
        )

    def read(self) -> ErosionRead:
        return self.cache.get(
            self.key, lambda: _erosion(self.session, self.experiment, self.condition, self.sets)
        )


def _chosen(
    session: Session, cache: AnalysisCache, experiment_id: int, condition: str | None, benchmark: str | None
) -> _Chosen:
    state = current_state(session, experiment_id)
    experiment = read_experiment(session, cache, experiment_id, state)
    sets = [benchmark_of(experiment, benchmark)] if benchmark is not None else experiment.benchmarks
    return _Chosen(session, cache, experiment, _condition(experiment, condition), sets, state.data_version)


def _condition(experiment: ExperimentRead, name: str | None) -> ConditionRead:
    with_checkpoints = [c for c in experiment.conditions if c.spec.checkpoint_fractions]
    if name is None:
        if not with_checkpoints:
            raise InvalidInput(
                f"experiment {experiment.id} evaluates no checkpoint along training: set "
                "training.evaluate_at on a fine-tuned condition"
            )
        return with_checkpoints[0]
    condition = next((c for c in experiment.conditions if c.name == name), None)
    if condition is None:
        raise InvalidInput(f"no condition named {name!r} in experiment {experiment.id}")
    if condition not in with_checkpoints:
        raise InvalidInput(
            f"condition {name!r} evaluates no checkpoint along training (training.evaluate_at); those that "
            f"do: {', '.join(c.name for c in with_checkpoints) or 'none'}"
        )
    return condition


def _measure(experiment: ExperimentRead, evaluation_set: ExperimentBenchmarkRead) -> Measure:
    if evaluation_set.scorer is not None:
        return set_measure(evaluation_set.measures, evaluation_set.scorer)
    judge = experiment.judges[0]
    return rate_measure(judge.measures, judge.ref)


def _erosion(
    session: Session,
    experiment: ExperimentRead,
    condition: ConditionRead,
    sets: list[ExperimentBenchmarkRead],
) -> ErosionRead:
    trained = sorted(
        (r for r in experiment.runs if r.condition_id == condition.id and r.evaluation_index == 0),
        key=lambda run: run.seed,
    )
    intermediate = repository.checkpoint_runs(session, [run.id for run in trained])
    records = repository.training_records(session, [run.id for run in trained])
    seeds = [
        _seed(run, [c for c in intermediate if c.of_run_id == run.id], records.get(run.id)) for run in trained
    ]
    run_ids = [checkpoint.run_id for seed in seeds for checkpoint in seed.checkpoints]
    return ErosionRead(
        condition=condition.name,
        fractions=[*condition.spec.checkpoint_fractions, 1.0],
        seeds=seeds,
        sets=[_on_set(session, experiment, evaluation_set, seeds, run_ids) for evaluation_set in sets],
    )


def _seed(run: RunRead, intermediate: list[CheckpointRun], record: TrainingRecord | None) -> ErosionSeedRead:
    """The seed's training run with its checkpoints in order, the final one (the run itself) last."""
    steps = {checkpoint.fraction: checkpoint.step for checkpoint in record.checkpoints} if record else {}
    checkpoints = [
        ErosionCheckpointRead(fraction=c.fraction, step=steps.get(c.fraction), run_id=c.id, status=c.status)
        for c in intermediate
    ]
    final = ErosionCheckpointRead(
        fraction=1.0, step=record.steps if record else None, run_id=run.id, status=run.status
    )
    return ErosionSeedRead(
        seed=run.seed,
        run_id=run.id,
        steps=record.steps if record else None,
        losses=record.losses if record else [],
        converged_step=converged_step(record.losses) if record else None,
        checkpoints=[*checkpoints, final],
    )


def _on_set(
    session: Session,
    experiment: ExperimentRead,
    evaluation_set: ExperimentBenchmarkRead,
    seeds: list[ErosionSeedRead],
    run_ids: list[int],
) -> ErosionSetRead:
    """Every checkpoint's rate of the set's counted verdict, by its scorer or the experiment's first judge."""
    judge_id = evaluation_set.scorer_id or experiment.judges[0].id
    counted = evaluation_set.measures.counted
    rates = rates_of_runs(session, run_ids, judge_id, evaluation_set.id, counted)
    return ErosionSetRead(
        benchmark=evaluation_set.reference,
        measures=evaluation_set.measures,
        judge=evaluation_set.scorer or experiment.judges[0].ref,
        points=[
            ErosionPointRead(
                seed=seed.seed,
                fraction=checkpoint.fraction,
                run_id=checkpoint.run_id,
                rate=rates.get(checkpoint.run_id),
            )
            for seed in seeds
            for checkpoint in seed.checkpoints
        ],
    )
