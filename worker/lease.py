"""A worker's hold on a job of any kind (backend.jobs): claiming it, writing under its lease, keeping the
lease alive through stretches without writes, and letting go."""

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import Generic

from sqlalchemy.orm import Session, sessionmaker

from backend.jobs import JobKind, R
from backend.models import utcnow
from backend.repositories import leases

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """The user cancelled the job; the worker stops at the next checkpoint."""


class LeaseLost(Exception):
    """The lease lapsed and the job was queued again or taken by another worker: stop, writing nothing."""


@dataclass(frozen=True)
class Lease:
    """A worker's hold on one job, renewed on every write and by a heartbeat."""

    job_id: int
    owner: str
    seconds: float

    def expiry(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.seconds)


def lease_owner(worker_name: str | None = None) -> str:
    """'worker@host:pid:token': which worker process holds a job, unique per claim."""
    return f"{worker_name or socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobStore(Generic[R]):
    """The lease side of a worker's store for one kind of job; a kind's store (worker.store.RunStore,
    worker.validation.ValidationStore) adds its reads and writes, each made under the lease (`_hold`)."""

    def __init__(self, kind: JobKind[R], sessions: sessionmaker[Session]) -> None:
        self.kind, self._sessions = kind, sessions

    def claim(self, job_id: int, owner: str, lease_s: float, max_attempts: int) -> tuple[Lease | None, str]:
        """Take the job if it is waiting or being worked on and no live lease holds it: (lease, "") or
        (None, why). A job that more than `max_attempts` workers took without finishing is failed instead."""
        now = utcnow()
        lease = Lease(job_id, owner, lease_s)
        with self._sessions.begin() as session:
            attempts = leases.claim(session, self.kind, job_id, owner, lease.expiry(now), now)
            if attempts is None:
                return None, leases.why_not_claimed(session, self.kind, job_id)
            if attempts <= max_attempts:
                return lease, ""
            error = (
                f"gave up after {max_attempts} attempts: every worker that took this {self.kind.noun} "
                "stopped before finishing it (killed, out of memory, or the database was unreachable); see "
                "the worker logs, then retry it"
            )
            leases.end(session, self.kind, job_id, owner, self.kind.failed, error, now)
            return None, f"failed after {max_attempts} attempts"

    def renew(self, lease: Lease) -> bool:
        """Extend the lease; False once the job was queued again or taken by another worker."""
        with self._sessions.begin() as session:
            return self._renewed(session, lease) is not None

    def release(self, lease: Lease) -> None:
        """Let go of the job (it finished, failed or was cancelled, or this worker is stopping)."""
        with self._sessions.begin() as session:
            leases.release(session, self.kind, lease.job_id, lease.owner)

    def fail(self, lease: Lease, error: str) -> None:
        """Mark the job failed and release it; a job that is done, cancelled or not ours stays as it is."""
        with self._sessions.begin() as session:
            leases.end(session, self.kind, lease.job_id, lease.owner, self.kind.failed, error, utcnow())

    def _finish(self, session: Session, lease: Lease) -> None:
        """Mark the job done and release it, in the caller's transaction after its last `_hold`."""
        leases.end(session, self.kind, lease.job_id, lease.owner, self.kind.done, None, utcnow())

    def _renewed(self, session: Session, lease: Lease) -> StrEnum | None:
        return leases.renew(session, self.kind, lease.job_id, lease.owner, lease.expiry(utcnow()))

    def _hold(self, session: Session, lease: Lease) -> R:
        """Renew the lease in this transaction (locking the job's row) and return the job to change; raises
        LeaseLost when another worker holds it, JobCancelled when the user cancelled it."""
        status = self._renewed(session, lease)
        if status is None:
            raise LeaseLost(f"{self.kind.noun} {lease.job_id}: {lease.owner} no longer holds it")
        if status == self.kind.cancelled:
            raise JobCancelled(lease.job_id)
        job = session.get(self.kind.model, lease.job_id)
        assert job is not None, "the lease was just renewed on this row"
        return job


class Heartbeat:
    """Renews a lease every quarter of its length from a background thread, for as long as the block runs.

    Writes renew the lease too (JobStore._hold); the heartbeat covers the stretches without any: loading
    a model from the hub, a long generation or judge batch. A failed renewal (the database briefly
    unreachable) is retried on the next beat; a refused one means another worker took the job, and the next
    write stops this one (LeaseLost).
    """

    def __init__(self, store: JobStore[R], lease: Lease) -> None:
        self._store, self._lease = store, lease
        self._name = f"{store.kind.noun} {lease.job_id}"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease of {self._name}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _error: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stopped.set()
        # Not waiting long for a renewal stuck on an unreachable database: after the release it is a no-op.
        self._thread.join(timeout=self._lease.seconds / 4)

    def _beat(self) -> None:
        while not self._stopped.wait(self._lease.seconds / 4):
            try:
                if not self._store.renew(self._lease):
                    log.warning("%s: lease lost to another worker", self._name)
                    return
            except Exception as error:  # keep beating: the next write decides whether the job is still ours
                log.warning("%s: could not renew the lease (%s)", self._name, error)
