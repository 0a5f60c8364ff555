"""Doing a job under its lease: how every task (worker.tasks, worker.validation) claims its job, keeps it,
fails it with a readable error, and lets go of it."""

import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.jobs import R
from backend.services import snapshots
from worker.generation import GenerationOutOfMemory
from worker.judges.base import JudgeUnavailable
from worker.lease import Heartbeat, JobCancelled, JobStore, Lease, LeaseLost, lease_owner
from worker.models.sources import ModelLoadError

log = logging.getLogger(__name__)

# The database went away (restarted, network): the job is not at fault. Its lease lapses, and the sweep
# queues it again once the database answers.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError)


def readable(error: Exception) -> str:
    """The message a user sees on a failed job: what went wrong, without a stack trace."""
    if isinstance(
        error, ModelLoadError | JudgeUnavailable | ValueError | FileNotFoundError | GenerationOutOfMemory
    ):
        return str(error)
    return f"{type(error).__name__}: {error} (traceback in the worker log)"


def work_on(
    store: JobStore[R],
    job_id: int,
    settings: Settings,
    work: Callable[[Lease], None],
    worker_name: str | None = None,
) -> bool:
    """Claim the job and do `work` under its lease, then release it; False if it was not claimed (another
    worker holds it, or it is finished, cancelled or gone): a second delivery of a job's task ends here,
    touching nothing.

    `work` stores its results and marks the job done through the store; an error it raises fails the job
    with a readable message, except a lost lease or database (the sweep queues the job again) and a
    cancellation (the user's).
    """
    name = f"{store.kind.noun} {job_id}"
    owner = lease_owner(worker_name)
    lease, why_not = store.claim(job_id, owner, settings.lease_s, settings.job_max_attempts)
    if lease is None:
        log.info("%s: not claimed: %s", name, why_not)
        return False
    log.info("%s: claimed by %s", name, lease.owner)
    with Heartbeat(store, lease):
        try:
            work(lease)
        except JobCancelled:
            log.info("%s: cancelled", name)
        except LeaseLost as error:
            log.warning("%s; stopping without writing more", error)
        except DATABASE_UNREACHABLE:
            log.exception("%s: database unreachable; queued again once its lease expires", name)
        except Exception as error:
            log.exception("%s failed", name)
            store.fail(lease, readable(error))
        finally:
            try:
                store.release(lease)
            except DATABASE_UNREACHABLE as error:
                log.warning("%s: could not release the lease (%s); it expires on its own", name, error)
    return True


def refresh_dashboard(open_session: Callable[[], Session], experiment_id: int) -> None:
    """The experiment's default dashboard views for its new state (backend.services.snapshots), after a job
    changed it, so the first view reads them instead of computing them. A failure here costs the API a
    computation, not the job: it is logged, never raised."""
    started = time.perf_counter()
    try:
        with open_session() as session:
            snapshots.precompute(session, experiment_id)
    except Exception:
        log.exception("experiment %s: could not precompute the dashboard", experiment_id)
        return
    log.info("experiment %s: dashboard precomputed in %.1f s", experiment_id, time.perf_counter() - started)
