"""Sending jobs of any kind (backend.jobs) to the workers, and a user's retry of one."""

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from backend.errors import Conflict, QueueUnavailable
from backend.jobs import JobKind
from backend.models import utcnow
from backend.queue import TaskQueue
from backend.repositories import leases

log = logging.getLogger(__name__)


def send(session: Session, queue: TaskQueue, kind: JobKind[Any], job_ids: Sequence[int]) -> None:
    """Send each job's task, after the commit that stored the jobs (a worker must find the rows it is
    handed); on a broker error, fail the jobs not sent yet and raise QueueUnavailable. Should this process
    die between the commit and the send, the jobs stay queued with no message, and the workers' sweep
    sends them (worker.sweep)."""
    for position, job_id in enumerate(job_ids):
        try:
            queue.enqueue(kind, job_id)
        except Exception as error:
            log.exception("could not enqueue %s %s", kind.noun, job_id)
            message = f"could not reach the task broker ({type(error).__name__}: {error})"
            leases.fail_unsent(session, kind, job_ids[position:], f"{message}; retry it", utcnow())
            session.commit()
            raise QueueUnavailable(
                f"{message}. The {kind.noun}(s) not sent were saved as failed; retry them when it is up."
            ) from None


def retry(session: Session, queue: TaskQueue, kind: JobKind[Any], job_id: int) -> None:
    """Queue a job again from where its stored results stop; finished work is kept, not redone.

    Allowed for any job that is not done and that no worker holds: a failed or cancelled one (retrying a
    cancelled job is the user's explicit choice), or one left behind by a killed worker. A Conflict says
    why not.
    """
    if leases.status_of(session, kind, job_id) == kind.done:
        raise Conflict(f"{kind.noun} {job_id} is done; nothing to retry")
    now = utcnow()
    moved = leases.requeue_for_retry(session, kind, job_id, now)
    session.commit()
    if not moved:
        busy = leases.live_leases(session, kind, [job_id], now)
        reason = f"a worker is on it: {leases.describe_live(kind, busy)}" if busy else "it has just finished"
        raise Conflict(f"{kind.noun} {job_id} was not retried: {reason}")
    send(session, queue, kind, [job_id])
