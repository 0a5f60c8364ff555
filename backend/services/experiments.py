"""Submitting, cancelling and retrying experiments and runs."""

import logging
import shutil

from sqlalchemy.orm import Session

from backend.catalog.base_models import check_model_reference
from backend.config import Settings
from backend.domain import TERMINAL_STATUSES, JudgeRef, RunStatus, TaskName
from backend.errors import Conflict, InvalidInput, NotFound, QueueUnavailable
from backend.queue import TaskQueue
from backend.repositories import catalog as catalog_repository
from backend.repositories import experiments as repository
from backend.repositories import judges as judge_repository
from backend.schemas import (
    BenchmarkRead,
    ExperimentRead,
    JudgeDefinitionRead,
    ReevaluationsRead,
    RunDetail,
    RunRead,
    TrainingSetRead,
)
from backend.services.documents import parse_yaml
from backend.specs import ConditionSpec, ExperimentSpec

log = logging.getLogger(__name__)


def parse_yaml_spec(text: str) -> ExperimentSpec:
    """An ExperimentSpec from YAML text, with the parser's or the validator's message on failure."""
    return parse_yaml(text, ExperimentSpec, "experiment", "name, benchmark, seeds, conditions, ...")


def _first_task(needs_no_training: bool) -> TaskName:
    # The untuned baseline and re-evaluations of a checkpoint have nothing to train.
    return TaskName.GENERATE if needs_no_training else TaskName.FINETUNE


def check_references(
    session: Session, spec: ExperimentSpec, project_id: int
) -> tuple[BenchmarkRead, TrainingSetRead, list[JudgeDefinitionRead]]:
    """The spec's model, benchmark, training set and judges exist (among the built-ins and the project's
    own); InvalidInput says which does not. Judges named without a version resolve to their newest."""
    try:
        check_model_reference(spec.base_model)
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    try:
        benchmark = catalog_repository.find_benchmark(session, spec.benchmark, project_id)
        training_set = catalog_repository.find_training_set(session, spec.training_set, project_id)
        judges = [
            judge_repository.find_judge(session, JudgeRef.parse(name), project_id) for name in spec.judges
        ]
    except NotFound as error:
        # A wrong name in the submitted definition is bad input, not a missing URL.
        raise InvalidInput(str(error)) from None
    pinned = [judge.ref for judge in judges]
    if len(set(pinned)) != len(pinned):
        raise InvalidInput(f"judges {spec.judges} name the same definition twice ({', '.join(pinned)})")
    for condition in spec.conditions:
        _check_subset(condition, training_set)
    return benchmark, training_set, judges


def _check_subset(condition: ConditionSpec, training_set: TrainingSetRead) -> None:
    subset = condition.training.subset_size
    if condition.finetune and subset is not None and subset > training_set.n_examples:
        raise InvalidInput(
            f"condition {condition.name!r}: training.subset_size {subset} exceeds the "
            f"{training_set.n_examples} examples of {training_set.name}@{training_set.version}"
        )


def submit(session: Session, queue: TaskQueue, spec: ExperimentSpec, project_id: int) -> ExperimentRead:
    """Validate references, store the experiment, its pinned judges and its runs in the project, commit,
    then enqueue every run."""
    benchmark, training_set, judges = check_references(session, spec, project_id)
    # Stored with its judges pinned to the versions resolved now, so a re-submission judges alike.
    pinned = spec.model_copy(update={"judges": [judge.ref for judge in judges]})
    experiment = repository.create_experiment(
        session,
        pinned,
        project_id=project_id,
        benchmark_id=benchmark.id,
        training_set_id=training_set.id,
        judge_ids=[judge.id for judge in judges],
    )
    # Enqueue only after commit: a worker must find the rows it is handed.
    session.commit()
    _enqueue(session, queue, [(run.id, _needs_no_training(run)) for run in experiment.runs])
    return repository.get_experiment(session, experiment.id)


def _needs_no_training(run: RunRead) -> bool:
    return run.is_baseline or run.evaluation_of_id is not None


def _enqueue(session: Session, queue: TaskQueue, runs: list[tuple[int, bool]]) -> None:
    """Send each (run id, needs no training) to its first task; on a broker error, fail the unsent runs."""
    for position, (run_id, needs_no_training) in enumerate(runs):
        try:
            queue.enqueue(_first_task(needs_no_training), run_id)
        except Exception as error:
            log.exception("could not enqueue run %s", run_id)
            unsent = [pending for pending, _ in runs[position:]]
            message = f"could not reach the task broker ({type(error).__name__}: {error})"
            repository.set_status(
                session, unsent, RunStatus.FAILED, message="not queued", error=f"{message}; retry the run"
            )
            session.commit()
            raise QueueUnavailable(
                f"{message}. The runs were saved as failed; retry them when it is up."
            ) from None


def add_seeds(
    session: Session, queue: TaskQueue, experiment_id: int, count: int, condition: str | None
) -> ExperimentRead:
    """Extend an experiment with `count` new training seeds for every fine-tuned condition, or one.

    The new runs join the same analysis; they are marked as the experiment's next extension.
    """
    experiment = repository.get_experiment(session, experiment_id)
    fine_tuned = [c.name for c in experiment.conditions if not c.is_baseline]
    if condition is not None:
        chosen = next((c for c in experiment.conditions if c.name == condition), None)
        if chosen is None:
            raise InvalidInput(f"no condition named {condition!r} in experiment {experiment_id}")
        if chosen.is_baseline:
            raise InvalidInput(f"{condition!r} is the untuned baseline: it has no training seed to add")
        fine_tuned = [condition]
    if not fine_tuned:
        raise InvalidInput(f"experiment {experiment_id} has no fine-tuned condition to add seeds to")
    new_ids = repository.add_seeds(session, experiment_id, count, fine_tuned)
    session.commit()
    _enqueue(session, queue, [(run_id, False) for run_id in new_ids])
    return repository.get_experiment(session, experiment_id)


def add_condition(
    session: Session, queue: TaskQueue, experiment_id: int, condition: ConditionSpec
) -> ExperimentRead:
    """Extend an experiment with a new condition; its runs join the same analysis."""
    experiment = repository.get_experiment(session, experiment_id)
    spec = ExperimentSpec.model_validate(experiment.spec)
    training_set = catalog_repository.find_training_set(
        session, experiment.training_set, experiment.project_id
    )
    _check_subset(condition, training_set)
    new_ids = repository.add_condition(session, experiment_id, condition, spec.generation_of(condition))
    session.commit()
    _enqueue(session, queue, [(run_id, not condition.finetune) for run_id in new_ids])
    return repository.get_experiment(session, experiment_id)


def cancel_experiment(session: Session, experiment_id: int) -> ExperimentRead:
    """Cancel every run that has not finished; workers stop at their next checkpoint."""
    run_ids = repository.experiment_run_ids(session, experiment_id)
    repository.set_status(
        session,
        run_ids,
        RunStatus.CANCELLED,
        message="cancelled by the user",
        only_from=set(RunStatus) - TERMINAL_STATUSES,
    )
    session.commit()
    return repository.get_experiment(session, experiment_id)


def delete_experiment(session: Session, settings: Settings, experiment_id: int) -> None:
    """Delete the experiment with its runs, generations, judgments, prompt cells and share links (the
    database cascades), and its runs' adapter folders. Unfinished runs are cancelled first, so a worker
    that is still on one stops at its next checkpoint (it finds the run gone and gives up)."""
    cancel_experiment(session, experiment_id)
    run_ids = repository.delete_experiment(session, experiment_id)
    session.commit()
    for run_id in run_ids:
        shutil.rmtree(settings.run_artifacts_dir(run_id), ignore_errors=True)


def resume_experiment(session: Session, queue: TaskQueue, experiment_id: int) -> ExperimentRead:
    """Queue again every run that is neither done nor cancelled, e.g. after a worker was killed.

    Runs that are still queued are sent again too: the broker may have lost their message with the worker,
    and a second delivery of a stage that already ran changes nothing.
    """
    experiment = repository.get_experiment(session, experiment_id)
    unfinished = [run for run in experiment.runs if run.status not in (RunStatus.DONE, RunStatus.CANCELLED)]
    repository.set_status(session, [run.id for run in unfinished], RunStatus.QUEUED, message="queued again")
    session.commit()
    _enqueue(session, queue, [(run.id, _needs_no_training(run)) for run in unfinished])
    return repository.get_experiment(session, experiment_id)


def reevaluate_run(session: Session, queue: TaskQueue, run_id: int, count: int) -> ReevaluationsRead:
    """Queue `count` repeated evaluations of a finished run's checkpoint, each with a new sampling seed."""
    run = repository.get_run(session, run_id)
    if run.evaluation_of_id is not None:
        raise InvalidInput(f"run {run_id} is itself a re-evaluation; re-evaluate run {run.evaluation_of_id}")
    if run.status != RunStatus.DONE:
        raise Conflict(
            f"run {run_id} is {run.status.value}; only a done run's checkpoint can be re-evaluated"
        )
    new_ids = repository.add_reevaluations(session, run_id, count)
    session.commit()
    # The checkpoint exists already: re-evaluations start at generation.
    _enqueue(session, queue, [(new_id, True) for new_id in new_ids])
    conditions = repository.get_experiment(session, run.experiment_id).conditions
    generation = next(c.spec["generation"] for c in conditions if c.id == run.condition_id)
    warning = None
    if generation["temperature"] == 0:
        warning = (
            "this condition decodes greedily (temperature 0): re-evaluations repeat the original answers "
            "unless the hardware is non-deterministic, so they measure no sampling noise"
        )
    return ReevaluationsRead(
        runs=[repository.get_run(session, new_id) for new_id in new_ids], warning=warning
    )


def retry_run(session: Session, queue: TaskQueue, run_id: int) -> RunDetail:
    """Queue a run again from where its stored results stop; finished work is kept, not redone.

    Allowed for any run that is not done, so a run left mid-stage by a killed worker can be resumed.
    """
    run = repository.get_run(session, run_id)
    if run.status == RunStatus.DONE:
        raise Conflict(f"run {run_id} is done; nothing to retry")
    repository.set_status(session, [run_id], RunStatus.QUEUED, message="queued again")
    session.commit()
    _enqueue(session, queue, [(run_id, _needs_no_training(run))])
    return repository.get_run(session, run_id)
