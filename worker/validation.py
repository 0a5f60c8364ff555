"""The judge validation job, `seedscope.validate-judge`: judge every example of a validation set with a
judge definition, then compute and store how well the verdicts agree with the human labels.

A job like a run (backend.jobs): claimed through a lease, swept when its worker stops, resumed from what is
stored (verdicts are written a batch per transaction, and a job sent again judges only the examples that
have none).
"""

import logging
import time
from functools import cache
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from backend.api_models.judges import JudgeDefinitionRead
from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import JudgeJobStatus, TaskName
from backend.jobs import VALIDATIONS
from backend.models import JudgeValidation, utcnow
from backend.repositories import validations as repository
from worker.app import celery, settings
from worker.jobs import work_on
from worker.judges import load_judge
from worker.judges.base import JudgeResources
from worker.judges.batches import chunks, judged_batches, verdict_columns
from worker.judges.replies import DatabaseReplies
from worker.lease import JobStore, Lease

log = logging.getLogger(__name__)


class ValidationStore(JobStore[JudgeValidation]):
    """A judge validation's writes, each under its lease."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__(VALIDATIONS, sessions)

    def start(self, lease: Lease) -> tuple[JudgeDefinitionRead, list[tuple[int, str, str]], int]:
        """Mark the validation running; the judge definition, the examples with no verdict yet (id, request,
        response) and how many examples the set has."""
        with self._sessions.begin() as session:
            validation = self._hold(session, lease)
            validation.status, validation.progress_message = JudgeJobStatus.RUNNING, "judging"
            validation.error = None
            validation.started_at = validation.started_at or utcnow()
            return repository.job(session, lease.job_id)

    def add_verdicts(self, lease: Lease, verdicts: list[dict[str, Any]], progress: float) -> None:
        with self._sessions.begin() as session:
            self._hold(session, lease)
            repository.add_verdicts(session, lease.job_id, verdicts, progress)

    def finish(self, lease: Lease, seconds: float) -> None:
        """Store the result computed from the stored verdicts, mark the validation done and release it."""
        with self._sessions.begin() as session:
            self._hold(session, lease)
            repository.store_result(session, lease.job_id, seconds)
            self._finish(session, lease)


def run_validation(
    validation_id: int, sessions: sessionmaker[Session], settings: Settings, worker_name: str | None = None
) -> bool:
    """Claim the validation and do its job; False if it was not claimed (worker.jobs.work_on)."""
    store = ValidationStore(sessions)

    def work(lease: Lease) -> None:
        definition, todo, total = store.start(lease)
        resources = JudgeResources(settings, DatabaseReplies(sessions), definition.project_id)
        judge = load_judge(definition.config, resources)
        started = time.perf_counter()
        done = total - len(todo)
        for judged, _ in judged_batches(judge, chunks(todo, settings.judge_batch_size)):
            done += len(judged)
            verdicts = [
                {"example_id": example_id, **verdict_columns(result)} for example_id, result in judged
            ]
            store.add_verdicts(lease, verdicts, done / total)
        # The judging time of the attempt that finished it (a resumed job's earlier attempts are not counted).
        store.finish(lease, time.perf_counter() - started)

    return work_on(store, validation_id, settings, work, worker_name)


@cache
def _sessions() -> sessionmaker[Session]:
    return make_session_factory(make_engine(settings.resolved_database_url))


@celery.task(name=TaskName.VALIDATE_JUDGE.value, bind=True)
def validate_judge(self, validation_id: int) -> None:  # type: ignore[no-untyped-def]  # celery's bound-task self
    run_validation(validation_id, _sessions(), settings, worker_name=self.request.hostname)
