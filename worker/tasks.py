"""The run task, `seedscope.run`: claim the run, then do whatever its stored state says is left."""

import logging
import time
from functools import cache

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import RunStatus, TaskName
from worker.app import celery, settings
from worker.jobs import DATABASE_UNREACHABLE, readable, refresh_dashboard, work_on
from worker.lease import JobCancelled, Lease, LeaseLost
from worker.models.cache import ModelCache
from worker.pipeline import STAGES, Job, next_stage
from worker.store import RunStore

log = logging.getLogger(__name__)

# This process's base model, kept between runs (worker.models.cache). Pool processes are forked before any
# task runs, so each has its own.
MODELS = ModelCache()
# How long a run whose checkpoint another run is still training waits before its task looks again.
CHECKPOINT_WAIT_S = 15


@cache
def _store() -> RunStore:
    return RunStore(make_session_factory(make_engine(settings.resolved_database_url)))


def execute(
    run_id: int, store: RunStore, settings: Settings, models: ModelCache, worker_name: str | None = None
) -> bool:
    """Claim the run and take it as far as it goes; False if it was not claimed (worker.jobs.work_on)."""

    def work(lease: Lease) -> None:
        context = store.context(run_id)
        if context is not None:  # else its experiment was deleted since the claim
            _run_stages(Job(context, lease, store, settings, models))

    return work_on(store, run_id, settings, work, worker_name)


def _run_stages(job: Job) -> None:
    """Run the next stage until none is left, then mark the run done. A failing stage fails the run."""
    finished: set[RunStatus] = set()
    while (status := next_stage(job)) is not None:
        if status in finished:  # a stage that ends with its work undone would otherwise loop forever
            job.store.fail(job.lease, f"{status.value}: the stage ended with its work incomplete (a bug)")
            return
        job.store.start_stage(job.lease, status)
        started = time.perf_counter()
        try:
            STAGES[status](job)
        except (JobCancelled, LeaseLost, *DATABASE_UNREACHABLE):
            raise
        except Exception as error:
            log.exception("run %s failed during %s", job.lease.job_id, status.value)
            job.store.fail(job.lease, f"{status.value}: {readable(error)}")
            return
        job.store.finish_stage(job.lease, status, time.perf_counter() - started)
        finished.add(status)
    job.store.finish_run(job.lease)
    log.info("run %s: done", job.lease.job_id)
    refresh_dashboard(job.store.session, job.context.experiment_id)


@celery.task(name=TaskName.RUN.value, bind=True, max_retries=None)
def run(self, run_id: int) -> None:  # type: ignore[no-untyped-def]  # celery's bound-task self
    # Not claimed while waiting: a wait is no attempt (a run gives up after SEEDSCOPE_JOB_MAX_ATTEMPTS).
    waits_for = _store().checkpoint_pending(run_id)
    if waits_for is not None:
        log.info("run %s: waiting for run %s to train the checkpoint it evaluates", run_id, waits_for)
        raise self.retry(countdown=CHECKPOINT_WAIT_S)
    execute(run_id, _store(), settings, MODELS, worker_name=self.request.hostname)
