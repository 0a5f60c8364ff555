"""The rescoring job, `seedscope.rescore`: a judge added to an experiment after submit judges the responses
its runs already stored. Nothing is generated again.

A job like a run (backend.jobs): claimed through a lease, swept when its worker stops, resumed from what is
stored (verdicts are written a page of Settings.rescore_page_rows responses per transaction with their
prompt cells, and a pass judges only the responses the judge has not judged). A run that a worker was
already on when the judge was added may have read the experiment's judges before it joined them, and
store responses after this job's pass: so a pass that finds such runs ends with the job waiting (queued
again, sent again after RUNS_WAIT_S) rather than done, and the next pass judges what they stored. Runs
started after the judge was added judge with it themselves.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from backend.api_models.judges import JudgeDefinitionRead
from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import JudgeJobStatus, TaskName
from backend.jobs import RESCORINGS
from backend.models import Rescoring, utcnow
from backend.repositories import leases
from backend.repositories import rescorings as repository
from backend.repositories.cells import add_judgments
from worker.app import celery, settings
from worker.jobs import refresh_dashboard, work_on
from worker.judges import load_judge
from worker.judges.base import JudgeResources, JudgeResult
from worker.judges.batches import chunks, judged_batches
from worker.judges.replies import DatabaseReplies
from worker.lease import JobStore, Lease
from worker.store import judgment_rows

log = logging.getLogger(__name__)

# How long a rescoring waiting for runs in progress waits before its next pass.
RUNS_WAIT_S = 30


@dataclass(frozen=True)
class RescoringJob:
    experiment_id: int
    definition: JudgeDefinitionRead
    benchmark_ids: list[int]
    # Responses on the benchmarks when the pass started, and how many of them the judge had judged.
    total: int
    judged: int


class RescoringStore(JobStore[Rescoring]):
    """A rescoring's reads, and its writes under its lease."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__(RESCORINGS, sessions)

    def start(self, lease: Lease) -> RescoringJob:
        """Mark the rescoring running; what its pass covers."""
        with self._sessions.begin() as session:
            rescoring = self._hold(session, lease)
            rescoring.status, rescoring.error = JudgeJobStatus.RUNNING, None
            rescoring.started_at = rescoring.started_at or utcnow()
            experiment_id, definition, benchmark_ids = repository.job(session, lease.job_id)
            total, judged = repository.count_responses(session, experiment_id, definition.id, benchmark_ids)
            rescoring.progress = judged / total if total else 0.0
            rescoring.progress_message = f"judged {judged}/{total}"
            return RescoringJob(experiment_id, definition, benchmark_ids, total, judged)

    def unjudged(self, job: RescoringJob, after: int, limit: int) -> list[tuple[int, str, str]]:
        with self._sessions() as session:
            return repository.unjudged(
                session, job.experiment_id, job.definition.id, job.benchmark_ids, after, limit
            )

    def add_verdicts(
        self,
        lease: Lease,
        judge_id: int,
        rows: list[dict[str, object]],
        progress: tuple[int, int],
        seconds: float,
    ) -> None:
        """Store a batch's verdicts with their prompt cells, and count them, in one transaction; `progress`:
        (responses judged, responses stored)."""
        judged, total = progress
        with self._sessions.begin() as session:
            rescoring = self._hold(session, lease)
            # The runs' revisions stay: the progress below is the change the dashboard polls for, and the
            # statistics move to the judge's verdicts when its status does (services.experiment_state).
            add_judgments(session, judge_id, rows, revise_runs=False)
            rescoring.n_judged += len(rows)
            rescoring.seconds += seconds
            rescoring.progress = min(1.0, judged / total) if total else 1.0
            rescoring.progress_message = f"judged {judged}/{total}"

    def working_runs(self, experiment_id: int) -> int:
        with self._sessions() as session:
            return repository.working_runs(session, experiment_id)

    def wait(self, lease: Lease, message: str) -> None:
        with self._sessions.begin() as session:
            self._hold(session, lease)
            leases.wait(session, self.kind, lease.job_id, lease.owner, message, utcnow())

    def finish(self, lease: Lease) -> None:
        with self._sessions.begin() as session:
            rescoring = self._hold(session, lease)
            rescoring.progress = 1.0
            self._finish(session, lease)


def rescore(
    rescoring_id: int, sessions: sessionmaker[Session], settings: Settings, worker_name: str | None = None
) -> bool:
    """Claim the rescoring and make a pass; True when it is to be sent again later (it waits for runs in
    progress), False when it is done, failed, or was not claimed."""
    store = RescoringStore(sessions)
    waiting = False

    def work(lease: Lease) -> None:
        nonlocal waiting
        job = store.start(lease)
        resources = JudgeResources(settings, DatabaseReplies(sessions), job.definition.project_id)
        judge = load_judge(job.definition.config, resources)

        def unjudged_pages() -> Iterator[list[tuple[int, str, str]]]:
            after = 0
            while page := store.unjudged(job, after, settings.rescore_page_rows):
                yield page
                after = page[-1][0]

        judged = job.judged
        for page in unjudged_pages():
            verdicts: list[tuple[int, JudgeResult]] = []
            seconds = 0.0
            for batch, batch_seconds in judged_batches(judge, chunks(page, settings.judge_batch_size)):
                verdicts += batch
                seconds += batch_seconds
            judged += len(verdicts)
            store.add_verdicts(
                lease, job.definition.id, judgment_rows(verdicts), (judged, job.total), seconds
            )
        if in_progress := store.working_runs(job.experiment_id):
            store.wait(lease, f"judged {judged}/{job.total}; waiting for {in_progress} run(s) in progress")
            waiting = True
            return
        # The views of the final verdicts are stored before the job is marked done: until then the API
        # serves the earlier ones, marked stale, and from then on these, current (a snapshot's state leaves
        # out the jobs' statuses). Stored after, the first view in between computed them itself (31 s at
        # 40,000 responses, docs/performance.md).
        refresh_dashboard(sessions, job.experiment_id)
        store.finish(lease)

    work_on(store, rescoring_id, settings, work, worker_name)
    return waiting


@cache
def _sessions() -> sessionmaker[Session]:
    return make_session_factory(make_engine(settings.resolved_database_url))


@celery.task(name=TaskName.RESCORE.value, bind=True, max_retries=None)
def rescore_task(self, rescoring_id: int) -> None:  # type: ignore[no-untyped-def]  # celery's bound-task self
    if rescore(rescoring_id, _sessions(), settings, worker_name=self.request.hostname):
        raise self.retry(countdown=RUNS_WAIT_S)
