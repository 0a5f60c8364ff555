"""The one Celery task, `seedscope.run`: claim the run, then do whatever its stored state says is left."""

import logging
import time
from functools import cache

from sqlalchemy.exc import InterfaceError, OperationalError

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import RunStatus, TaskName
from backend.services import snapshots
from worker.app import celery, settings
from worker.generation import GenerationOutOfMemory
from worker.judges.base import JudgeUnavailable
from worker.lease import Heartbeat
from worker.models.cache import ModelCache
from worker.models.sources import ModelLoadError
from worker.pipeline import STAGES, Job, next_stage
from worker.store import LeaseLost, RunCancelled, RunStore, lease_owner

log = logging.getLogger(__name__)

# The database went away (restarted, network): the run is not at fault. Its lease lapses, and the sweep
# queues it again once the database answers.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError)

# This process's base model, kept between runs (worker.models.cache). Pool processes are forked before any
# task runs, so each has its own.
MODELS = ModelCache()


@cache
def _store() -> RunStore:
    return RunStore(make_session_factory(make_engine(settings.resolved_database_url)))


def readable(error: Exception) -> str:
    """The message a user sees on a failed run: what went wrong, without a stack trace."""
    if isinstance(
        error, ModelLoadError | JudgeUnavailable | ValueError | FileNotFoundError | GenerationOutOfMemory
    ):
        return str(error)
    return f"{type(error).__name__}: {error} (traceback in the worker log)"


def execute(
    run_id: int, store: RunStore, settings: Settings, models: ModelCache, worker_name: str | None = None
) -> bool:
    """Claim the run and take it as far as it goes; False if it was not claimed (another worker holds it,
    or it is finished, cancelled or gone): a second delivery of a run's task ends here, touching nothing."""
    owner = lease_owner(worker_name)
    lease, why_not = store.claim(run_id, owner, settings.lease_s, settings.run_max_attempts)
    if lease is None:
        log.info("run %s: not claimed: %s", run_id, why_not)
        return False
    log.info("run %s: claimed by %s", run_id, lease.owner)
    context = store.context(run_id)
    if context is None:
        return False
    job = Job(context, lease, store, settings, models)
    with Heartbeat(store, lease):
        try:
            _run_stages(job)
        except RunCancelled:
            log.info("run %s: cancelled", run_id)
        except LeaseLost as error:
            log.warning("%s; stopping without writing more", error)
            return True
        except DATABASE_UNREACHABLE:
            log.exception("run %s: database unreachable; queued again once its lease expires", run_id)
            return True
        except Exception as error:  # outside any stage: choosing the next one, finishing the run
            log.exception("run %s failed", run_id)
            store.fail(lease, readable(error))
        finally:
            try:
                store.release(lease)
            except DATABASE_UNREACHABLE as error:
                log.warning("run %s: could not release the lease (%s); it expires on its own", run_id, error)
    return True


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
        except (RunCancelled, LeaseLost, *DATABASE_UNREACHABLE):
            raise
        except Exception as error:
            log.exception("run %s failed during %s", job.lease.run_id, status.value)
            job.store.fail(job.lease, f"{status.value}: {readable(error)}")
            return
        job.store.finish_stage(job.lease, status, time.perf_counter() - started)
        finished.add(status)
    job.store.finish_run(job.lease)
    log.info("run %s: done", job.lease.run_id)
    _refresh_dashboard(job.store, job.context.experiment_id)


def _refresh_dashboard(store: RunStore, experiment_id: int) -> None:
    """The experiment's default dashboard views for its new state (backend.services.snapshots), so the
    first view after this run reads them instead of computing them. A failure here costs the API a
    computation, not the run: it is logged, never raised."""
    started = time.perf_counter()
    try:
        with store.session() as session:
            snapshots.precompute(session, experiment_id)
    except Exception:
        log.exception("experiment %s: could not precompute the dashboard", experiment_id)
        return
    log.info("experiment %s: dashboard precomputed in %.1f s", experiment_id, time.perf_counter() - started)


@celery.task(name=TaskName.RUN.value, bind=True)
def run(self, run_id: int) -> None:  # type: ignore[no-untyped-def]  # celery's bound-task self
    execute(run_id, _store(), settings, MODELS, worker_name=self.request.hostname)
