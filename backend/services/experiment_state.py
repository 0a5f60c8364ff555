"""An experiment's state: one cheap query whose answer changes whenever anything the dashboard shows does.

Its hash is the ETag of GET /api/experiments/{id}/state, which an open dashboard polls (304 while nothing
changed), and the cache key of the experiment's read model: a dashboard refresh sends about ten requests,
and the experiment is read from the database once per state, not once per request.
"""

import hashlib
from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.api_models.experiments import ExperimentRead
from backend.domain import JudgeJobStatus
from backend.repositories import experiments as repository
from backend.repositories import rescorings
from backend.services.cache import AnalysisCache


@dataclass(frozen=True)
class ExperimentState:
    version: str  # a hash of the state query's answer
    # A hash of it without the rescorings' progress: what the read model and the statistics are memoised
    # on. A rescoring's pages move only its progress, so a dashboard open while a judge added later judges a
    # million responses reads the experiment once, not once per page. Until the rescoring ends, a view
    # computed on request counts the judge's verdicts as first read in that state; the stored default views
    # are served, marked stale.
    data_version: str
    runs: int
    unfinished: int
    # Its rescorings and stress tests queued or running: an open dashboard polls as often as while runs go on.
    jobs_running: int


# A judge job that keeps an open dashboard polling often.
_BUSY = frozenset({JudgeJobStatus.QUEUED, JudgeJobStatus.RUNNING})


def current_state(session: Session, experiment_id: int) -> ExperimentState:
    state = repository.state_of(session, experiment_id)
    runs, _, unfinished, *_, rescorings, (_, stress_tests) = state
    statuses = [status for _, status in rescorings] + [status for _, status, _ in stress_tests]
    return ExperimentState(
        version=_digest(state),
        data_version=_digest(state[:-1]),
        runs=runs,
        unfinished=unfinished,
        jobs_running=sum(status in _BUSY for status in statuses),
    )


def _digest(state: tuple[object, ...]) -> str:
    return hashlib.sha256(repr(state).encode()).hexdigest()[:32]


def read_experiment(
    session: Session, cache: AnalysisCache, experiment_id: int, state: ExperimentState | None = None
) -> ExperimentRead:
    """The experiment's read model, read from the database once per state of its data (`state`, default
    the current one), its rescorings (with their progress) once per state. The read model is shared
    between requests: copy it, never change it."""
    state = state or current_state(session, experiment_id)
    experiment = cache.get(
        ("experiment data", experiment_id, state.data_version),
        lambda: repository.get_experiment(session, experiment_id),
    )
    if not experiment.rescorings:
        return experiment
    return cache.get(
        ("experiment", experiment_id, state.version),
        lambda: experiment.model_copy(
            update={"rescorings": rescorings.of_experiment(session, experiment_id)}
        ),
    )
