"""An experiment's state: one cheap query whose answer changes whenever anything the dashboard shows does.

Its hash is the ETag of GET /api/experiments/{id}/state, which an open dashboard polls (304 while nothing
changed), and the cache key of the experiment's read model: a dashboard refresh sends about ten requests,
and the experiment is read from the database once per state, not once per request.
"""

import hashlib
from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.api_models.experiments import ExperimentRead
from backend.repositories import experiments as repository
from backend.services.cache import AnalysisCache


@dataclass(frozen=True)
class ExperimentState:
    version: str  # a hash of the state query's answer
    runs: int
    unfinished: int


def current_state(session: Session, experiment_id: int) -> ExperimentState:
    state = repository.state_of(session, experiment_id)
    runs, _, unfinished, *_ = state
    digest = hashlib.sha256(repr(state).encode()).hexdigest()[:32]
    return ExperimentState(version=digest, runs=runs, unfinished=unfinished)


def read_experiment(
    session: Session, cache: AnalysisCache, experiment_id: int, version: str | None = None
) -> ExperimentRead:
    """The experiment's read model, read from the database once per state (`version`, default the current
    one). The read model is shared between requests: copy it, never change it."""
    version = version or current_state(session, experiment_id).version
    return cache.get(
        ("experiment", experiment_id, version), lambda: repository.get_experiment(session, experiment_id)
    )
