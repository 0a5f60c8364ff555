"""Submitting, cancelling and retrying experiments and runs."""

import logging

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from backend.catalog.base_models import check_model_reference
from backend.catalog.judges import JUDGES
from backend.domain import TERMINAL_STATUSES, RunStatus
from backend.errors import Conflict, InvalidInput, NotFound, QueueUnavailable
from backend.models import utcnow
from backend.queue import TaskQueue
from backend.repositories import catalog as catalog_repository
from backend.repositories import experiments as repository
from backend.repositories import leases
from backend.schemas import ExperimentRead, ReevaluationsRead, RunDetail
from backend.specs import ExperimentSpec

log = logging.getLogger(__name__)


def parse_yaml_spec(text: str) -> ExperimentSpec:
    """An ExperimentSpec from YAML text, with the parser's or the validator's message on failure."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidInput(f"malformed YAML: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInput("the YAML document must be a mapping with name, benchmark, seeds, conditions, ...")
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or 'experiment'}: {e['msg']}" for e in error.errors()
    )


def submit(session: Session, queue: TaskQueue, spec: ExperimentSpec) -> ExperimentRead:
    """Validate references, store the experiment and its runs, commit, then enqueue every run."""
    try:
        check_model_reference(spec.base_model)
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    unknown_judges = [name for name in spec.judges if name not in JUDGES]
    if unknown_judges:
        raise InvalidInput(f"unknown judge(s) {unknown_judges}; known: {', '.join(sorted(JUDGES))}")
    try:
        benchmark = catalog_repository.find_benchmark(session, spec.benchmark)
        training_set = catalog_repository.find_training_set(session, spec.training_set)
    except NotFound as error:
        # A wrong name in the submitted definition is bad input, not a missing URL.
        raise InvalidInput(str(error)) from None
    for condition in spec.conditions:
        subset = condition.training.subset_size
        if condition.finetune and subset is not None and subset > training_set.n_examples:
            raise InvalidInput(
                f"condition {condition.name!r}: training.subset_size {subset} exceeds the "
                f"{training_set.n_examples} examples of {training_set.name}@{training_set.version}"
            )
    experiment = repository.create_experiment(
        session, spec, benchmark_id=benchmark.id, training_set_id=training_set.id
    )
    # Enqueue only after commit: a worker must find the rows it is handed. Should this process die in
    # between, the runs stay queued with no message, and the workers' sweep sends them (worker.sweep).
    session.commit()
    _enqueue(session, queue, [run.id for run in experiment.runs])
    return repository.get_experiment(session, experiment.id)


def _enqueue(session: Session, queue: TaskQueue, run_ids: list[int]) -> None:
    """Send each run's task; on a broker error, fail the runs not sent yet."""
    for position, run_id in enumerate(run_ids):
        try:
            queue.enqueue_run(run_id)
        except Exception as error:
            log.exception("could not enqueue run %s", run_id)
            message = f"could not reach the task broker ({type(error).__name__}: {error})"
            leases.fail_unsent(session, run_ids[position:], f"{message}; retry the run", utcnow())
            session.commit()
            raise QueueUnavailable(
                f"{message}. The runs were saved as failed; retry them when it is up."
            ) from None


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


def resume_experiment(session: Session, queue: TaskQueue, experiment_id: int) -> ExperimentRead:
    """Queue again every run that is neither done nor cancelled and that no worker holds.

    For runs left behind by a killed worker (the sweep also finds them, once their lease expires) or failed.
    Runs that are still queued are sent again too: the broker may have lost their message, and a second
    message for a run is dropped by the worker that gets it. Cancelled runs stay cancelled (retry one to
    run it again); runs a worker holds are left to it.
    """
    run_ids = repository.experiment_run_ids(session, experiment_id)
    now = utcnow()
    moved = leases.requeue_for_resume(session, run_ids, now)
    session.commit()
    if not moved and (busy := leases.live_leases(session, run_ids, now)):
        raise Conflict(
            f"nothing to resume in experiment {experiment_id}: its unfinished runs are being worked on: "
            f"{leases.describe_live(busy)}"
        )
    _enqueue(session, queue, moved)
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
    _enqueue(session, queue, new_ids)
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

    Allowed for any run that is not done and that no worker holds: a failed or cancelled run (retrying a
    cancelled run is the user's explicit choice), or one left mid-stage by a killed worker.
    """
    run = repository.get_run(session, run_id)
    if run.status == RunStatus.DONE:
        raise Conflict(f"run {run_id} is done; nothing to retry")
    now = utcnow()
    moved = leases.requeue_for_retry(session, run_id, now)
    session.commit()
    if not moved:
        busy = leases.live_leases(session, [run_id], now)
        reason = f"a worker is on it: {leases.describe_live(busy)}" if busy else "it has just finished"
        raise Conflict(f"run {run_id} was not retried: {reason}")
    _enqueue(session, queue, [run_id])
    return repository.get_run(session, run_id)
