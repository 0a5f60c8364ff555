"""Run leases: who holds a run, and queueing runs again without taking them from a worker that holds them.

A run is leased while `lease_owner` is set and `lease_expires_at` has not passed; the worker holding it
renews it (worker.store). Every change that depends on the lease is one conditional UPDATE: PostgreSQL locks
the row and re-checks the WHERE clause on its newest version, SQLite runs one writer at a time, so the check
and the change are atomic on both and no second statement can slip in between.

Times come from the clock of the process that writes them: hosts of a deployment keep their clocks in step
(NTP), and leases last minutes, far longer than any drift.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, update
from sqlalchemy.orm import Session, aliased

from backend.domain import ACTIVE_STATUSES, STAGE_STATUSES, RunStatus
from backend.models import Run


def lease_is_free(now: datetime) -> ColumnElement[bool]:
    return or_(Run.lease_owner.is_(None), Run.lease_expires_at.is_(None), Run.lease_expires_at <= now)


def lease_is_live(now: datetime) -> ColumnElement[bool]:
    return and_(Run.lease_owner.is_not(None), Run.lease_expires_at > now)


def requeue(
    session: Session, criteria: ColumnElement[bool], *, message: str, now: datetime, reset_attempts: bool
) -> list[int]:
    """Set the runs that meet `criteria` and are not leased back to queued, enqueued `now`; the ids moved.

    The caller commits, then sends their tasks. A user's retry or resume resets the attempts; the sweep's
    re-queue counts on toward Settings.run_max_attempts.
    """
    values: dict[str, object] = {
        "status": RunStatus.QUEUED,
        "progress": 0.0,
        "progress_message": message,
        "error": None,
        "finished_at": None,
        "enqueued_at": now,
        # A lapsed lease is dropped: the worker that held it can no longer renew it, and stops.
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if reset_attempts:
        values["attempts"] = 0
    moved = session.execute(update(Run).where(criteria, lease_is_free(now)).values(values).returning(Run.id))
    return sorted(moved.scalars())


def requeue_for_retry(session: Session, run_id: int, now: datetime) -> bool:
    """A user's retry: any run that is not done (a cancelled one too: the user asks for it) and not leased."""
    criteria = and_(Run.id == run_id, Run.status != RunStatus.DONE)
    return bool(requeue(session, criteria, message="queued again", now=now, reset_attempts=True))


def requeue_for_resume(session: Session, run_ids: Sequence[int], now: datetime) -> list[int]:
    """A user's resume of an experiment: its failed, waiting and abandoned runs; never a cancelled one."""
    criteria = and_(Run.id.in_(run_ids), Run.status.in_([RunStatus.FAILED, *ACTIVE_STATUSES]))
    return requeue(session, criteria, message="queued again", now=now, reset_attempts=True)


def requeue_stranded(
    session: Session, now: datetime, queued_stranded_after_s: float, consuming_since: datetime
) -> list[int]:
    """Queue again the runs no worker would otherwise finish; the ids moved (the caller sends them).

    Abandoned: in a stage, or claimed since its task was last sent, with its lease lapsed: its worker
    stopped (killed, or the database went away under it).

    Lost: queued and not claimed since its task was sent more than `queued_stranded_after_s` ago, while
    either a run sent after it was claimed before that cutoff (the broker hands messages out in order, so
    this one's is gone), or no worker holds any run although the sweeping worker has been taking tasks
    (since `consuming_since`) for that long: it would have got the message. A run waiting its turn behind
    busy workers, or for workers to start, is neither and is left alone; if the guess is wrong, the extra
    message finds the run leased or finished and is dropped.

    The conditions are part of the UPDATE, so of several workers sweeping at once one re-queues each run.
    """
    cutoff = now - timedelta(seconds=queued_stranded_after_s)
    claimed_since_sent = Run.claimed_at >= Run.enqueued_at
    abandoned = requeue(
        session,
        or_(Run.status.in_(STAGE_STATUSES), and_(Run.status == RunStatus.QUEUED, claimed_since_sent)),
        message="queued again: its worker stopped",
        now=now,
        reset_attempts=False,
    )
    later, holder = aliased(Run), aliased(Run)
    overtaken = exists().where(
        later.enqueued_at > Run.enqueued_at,
        later.claimed_at >= later.enqueued_at,
        later.claimed_at < cutoff,
    )
    workers_busy = exists().where(holder.lease_owner.is_not(None), holder.lease_expires_at > now)
    idle_long_enough = ~workers_busy if consuming_since <= cutoff else false()
    lost = requeue(
        session,
        and_(
            Run.status == RunStatus.QUEUED,
            or_(Run.claimed_at.is_(None), ~claimed_since_sent),
            Run.enqueued_at < cutoff,
            or_(overtaken, idle_long_enough),
        ),
        message="queued again: its task was lost",
        now=now,
        reset_attempts=False,
    )
    return sorted(abandoned + lost)


def fail_unsent(session: Session, run_ids: Sequence[int], error: str, now: datetime) -> None:
    """Fail queued runs whose task could not be sent, unless a worker got to them through an older message."""
    session.execute(
        update(Run)
        .where(Run.id.in_(run_ids), Run.status == RunStatus.QUEUED, lease_is_free(now))
        .values(status=RunStatus.FAILED, progress_message="not queued", error=error, finished_at=now)
    )


def live_leases(session: Session, run_ids: Sequence[int], now: datetime) -> dict[int, tuple[str, datetime]]:
    """Run id -> (lease owner, expiry) for the runs a worker holds now."""
    rows = session.execute(
        select(Run.id, Run.lease_owner, Run.lease_expires_at).where(Run.id.in_(run_ids), lease_is_live(now))
    )
    return {run_id: (str(owner), expires) for run_id, owner, expires in rows if expires is not None}


def describe_live(leases: dict[int, tuple[str, datetime]]) -> str:
    """'run 3 (worker gpu0@host:123:ab12, lease until 12:04:05 UTC)', for messages to the user."""
    return ", ".join(
        f"run {run_id} (worker {owner}, lease until {expires:%H:%M:%S} UTC)"
        for run_id, (owner, expires) in sorted(leases.items())
    )
