"""Job leases, for every kind of job (backend.jobs): who holds a job, and queueing jobs again without taking
them from a worker that holds them.

A job is leased while `lease_owner` is set and `lease_expires_at` has not passed; the worker holding it
renews it (worker.lease). Every change that depends on the lease is one conditional UPDATE: PostgreSQL locks
the row and re-checks the WHERE clause on its newest version, SQLite runs one writer at a time, so the check
and the change are atomic on both and no second statement can slip in between.

Times come from the clock of the process that writes them: hosts of a deployment keep their clocks in step
(NTP), and leases last minutes, far longer than any drift.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, update
from sqlalchemy.orm import Session, aliased

from backend.errors import NotFound
from backend.jobs import JOB_KINDS, JobKind
from backend.models import JobRow

Kind = JobKind[Any]


def lease_is_free(job: type[JobRow], now: datetime) -> ColumnElement[bool]:
    return or_(job.lease_owner.is_(None), job.lease_expires_at.is_(None), job.lease_expires_at <= now)


def lease_is_live(job: type[JobRow], now: datetime) -> ColumnElement[bool]:
    return and_(job.lease_owner.is_not(None), job.lease_expires_at > now)


# --- the worker's side: claim, renew, end, release ----------------------------------------------------


def claim(
    session: Session, kind: Kind, job_id: int, owner: str, expires: datetime, now: datetime
) -> int | None:
    """Lease the job to `owner` if it is claimable and no live lease holds it; its attempts counting this
    claim, or None when it was not claimed. Of two workers claiming at once, exactly one gets it."""
    job = kind.model
    return session.execute(
        update(job)
        .where(job.id == job_id, job.status.in_(kind.claimable), lease_is_free(job, now))
        .values(lease_owner=owner, lease_expires_at=expires, claimed_at=now, attempts=job.attempts + 1)
        .returning(job.attempts)
    ).scalar_one_or_none()


def why_not_claimed(session: Session, kind: Kind, job_id: int) -> str:
    """Why a claim of the job failed, for the worker's log."""
    job = kind.model
    row = session.execute(
        select(job.status, job.lease_owner, job.lease_expires_at).where(job.id == job_id)
    ).first()
    if row is None:
        return f"no such {kind.noun} (deleted?)"
    status, holder, expires = row
    if status not in kind.claimable:
        return f"it is {status}"
    return f"{holder} holds it until {expires:%H:%M:%S} UTC"


def renew(session: Session, kind: Kind, job_id: int, owner: str, expires: datetime) -> StrEnum | None:
    """Extend `owner`'s lease; the job's status, or None once `owner` no longer holds it."""
    job = kind.model
    return session.execute(
        update(job)
        .where(job.id == job_id, job.lease_owner == owner)
        .values(lease_expires_at=expires)
        .returning(job.status)
    ).scalar_one_or_none()


def end(
    session: Session, kind: Kind, job_id: int, owner: str, status: StrEnum, error: str | None, now: datetime
) -> None:
    """Set the job `owner` holds to a final status and release it; a done or cancelled job, or one that
    `owner` no longer holds, stays as it is."""
    job = kind.model
    session.execute(
        update(job)
        .where(job.id == job_id, job.lease_owner == owner, job.status.not_in(kind.settled))
        .values(
            status=status,
            progress_message=status.value,
            error=error,
            finished_at=now,
            lease_owner=None,
            lease_expires_at=None,
        )
    )


def release(session: Session, kind: Kind, job_id: int, owner: str) -> None:
    job = kind.model
    session.execute(
        update(job)
        .where(job.id == job_id, job.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )


def wait(session: Session, kind: Kind, job_id: int, owner: str, message: str, now: datetime) -> None:
    """Put the job `owner` holds back in the queue, released, its progress kept and its attempts reset: it
    waits for other work, and its task is sent again later. Counted as no attempt: waiting is not failing."""
    job = kind.model
    session.execute(
        update(job)
        .where(job.id == job_id, job.lease_owner == owner)
        .values(
            status=kind.queued,
            progress_message=message,
            enqueued_at=now,
            attempts=0,
            lease_owner=None,
            lease_expires_at=None,
        )
    )


# --- queueing again: a user's retry or resume, the sweep, a broker that refused ---------------------------


def requeue(
    session: Session,
    kind: Kind,
    criteria: ColumnElement[bool],
    *,
    message: str,
    now: datetime,
    reset_attempts: bool,
) -> list[int]:
    """Set the jobs that meet `criteria` and are not leased back to queued, enqueued `now`; the ids moved.

    The caller commits, then sends their tasks. A user's retry or resume resets the attempts; the sweep's
    re-queue counts on toward Settings.job_max_attempts.
    """
    job = kind.model
    values: dict[str, object] = {
        "status": kind.queued,
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
    moved = session.execute(
        update(job).where(criteria, lease_is_free(job, now)).values(values).returning(job.id)
    )
    return sorted(moved.scalars())


def requeue_for_retry(session: Session, kind: Kind, job_id: int, now: datetime) -> bool:
    """A user's retry: a job that is not done (a cancelled one too: the user asks for it) and not leased."""
    job = kind.model
    criteria = and_(job.id == job_id, job.status != kind.done)
    return bool(requeue(session, kind, criteria, message="queued again", now=now, reset_attempts=True))


def requeue_for_resume(session: Session, kind: Kind, job_ids: Sequence[int], now: datetime) -> list[int]:
    """A user's resume (of an experiment's runs): the failed, waiting and abandoned jobs; never a cancelled
    one."""
    job = kind.model
    criteria = and_(job.id.in_(job_ids), job.status.in_([kind.failed, *kind.claimable]))
    return requeue(session, kind, criteria, message="queued again", now=now, reset_attempts=True)


def requeue_stranded(
    session: Session, kind: Kind, now: datetime, queued_stranded_after_s: float, consuming_since: datetime
) -> list[int]:
    """Queue again the jobs of this kind no worker would otherwise finish; the ids moved (the caller sends
    them).

    Abandoned: working, or claimed since its task was last sent, with its lease lapsed: its worker stopped
    (killed, or the database went away under it).

    Lost: queued and not claimed since its task was sent more than `queued_stranded_after_s` ago, while
    either a job sent after it (of any kind: they share one broker queue) was claimed before that cutoff
    (the broker hands messages out in order, so this one's is gone), or no worker holds any job although
    the sweeping worker has been taking tasks (since `consuming_since`) for that long: it would have got
    the message. A job waiting its turn behind busy workers, or for workers to start, is neither and is
    left alone; if the guess is wrong, the extra message finds the job leased or finished and is dropped.

    The conditions are part of the UPDATE, so of several workers sweeping at once one re-queues each job.
    """
    job = kind.model
    cutoff = now - timedelta(seconds=queued_stranded_after_s)
    claimed_since_sent = job.claimed_at >= job.enqueued_at
    abandoned = requeue(
        session,
        kind,
        or_(job.status.in_(kind.working), and_(job.status == kind.queued, claimed_since_sent)),
        message="queued again: its worker stopped",
        now=now,
        reset_attempts=False,
    )
    idle_long_enough = ~_any_lease_live(now) if consuming_since <= cutoff else false()
    lost = requeue(
        session,
        kind,
        and_(
            job.status == kind.queued,
            or_(job.claimed_at.is_(None), ~claimed_since_sent),
            job.enqueued_at < cutoff,
            or_(_overtaken(job, cutoff), idle_long_enough),
        ),
        message="queued again: its task was lost",
        now=now,
        reset_attempts=False,
    )
    return sorted(abandoned + lost)


def _overtaken(job: type[JobRow], cutoff: datetime) -> ColumnElement[bool]:
    """A job of any kind, sent after `job`, was claimed before `cutoff`."""
    later_claims = []
    for other in JOB_KINDS:
        later = aliased(other.model)
        later_claims.append(
            exists().where(
                later.enqueued_at > job.enqueued_at,
                later.claimed_at >= later.enqueued_at,
                later.claimed_at < cutoff,
            )
        )
    return or_(*later_claims)


def _any_lease_live(now: datetime) -> ColumnElement[bool]:
    """Some worker holds a job of some kind."""
    held = []
    for other in JOB_KINDS:
        holder = aliased(other.model)
        held.append(exists().where(holder.lease_owner.is_not(None), holder.lease_expires_at > now))
    return or_(*held)


def fail_unsent(session: Session, kind: Kind, job_ids: Sequence[int], error: str, now: datetime) -> None:
    """Fail queued jobs whose task could not be sent, unless a worker got to them through an older message."""
    job = kind.model
    session.execute(
        update(job)
        .where(job.id.in_(job_ids), job.status == kind.queued, lease_is_free(job, now))
        .values(status=kind.failed, progress_message="not queued", error=error, finished_at=now)
    )


# --- for the user ------------------------------------------------------------------------------------


def status_of(session: Session, kind: Kind, job_id: int) -> StrEnum:
    status = session.scalar(select(kind.model.status).where(kind.model.id == job_id))
    if status is None:
        raise NotFound(f"{kind.noun} {job_id} not found")
    return status


def live_leases(
    session: Session, kind: Kind, job_ids: Sequence[int], now: datetime
) -> dict[int, tuple[str, datetime]]:
    """Job id -> (lease owner, expiry) for the jobs a worker holds now."""
    job = kind.model
    rows = session.execute(
        select(job.id, job.lease_owner, job.lease_expires_at).where(
            job.id.in_(job_ids), lease_is_live(job, now)
        )
    )
    return {job_id: (str(owner), expires) for job_id, owner, expires in rows if expires is not None}


def describe_live(kind: Kind, leases: dict[int, tuple[str, datetime]]) -> str:
    """'run 3 (worker gpu0@host:123:ab12, lease until 12:04:05 UTC)', for messages to the user."""
    return ", ".join(
        f"{kind.noun} {job_id} (worker {owner}, lease until {expires:%H:%M:%S} UTC)"
        for job_id, (owner, expires) in sorted(leases.items())
    )
