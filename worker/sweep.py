"""Reconciliation: every worker queues again, every few seconds to minutes, the jobs nobody will finish.

The sweep covers every kind of job (backend.jobs.JOB_KINDS: runs, judge validations, ...). It runs in a
thread of each worker's main process, once at startup and then every Settings.sweep_interval_s (with
jitter). Why not celery beat: beat must run exactly once per deployment (two beats double every schedule),
so it needs its own process or one chosen worker started with -B, and a schedule file; when that one process
is down nothing is swept. Here every worker sweeps, and a sweep is idempotent
(backend.repositories.leases.requeue_stranded is one conditional UPDATE per kind and reason), so any number
of workers sweeping at once queue each stranded job once, and the sweep runs as long as any worker does.
"""

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.jobs import JOB_KINDS, JobKind
from backend.models import utcnow
from backend.repositories.leases import requeue_stranded

log = logging.getLogger(__name__)

# Sends a job's task: backend.queue.TaskQueue.enqueue.
Send = Callable[[JobKind[Any], int], None]


def sweep(
    sessions: sessionmaker[Session], send: Send, settings: Settings, consuming_since: datetime
) -> dict[JobKind[Any], list[int]]:
    """Queue the stranded jobs of every kind again and send their tasks; the ids sent, by kind (only the
    kinds with some). `consuming_since`: when the sweeping worker started taking tasks."""
    with sessions.begin() as session:
        now = utcnow()
        stranded = {
            kind: requeue_stranded(session, kind, now, settings.queued_stranded_after_s, consuming_since)
            for kind in JOB_KINDS
        }
    sent: dict[JobKind[Any], list[int]] = {}
    for kind, job_ids in stranded.items():
        for job_id in job_ids:
            try:
                send(kind, job_id)
                sent.setdefault(kind, []).append(job_id)
            except Exception as error:  # the broker is down: the job stays queued and the next sweep sends it
                log.warning("sweep: could not send %s %s (%s)", kind.noun, job_id, error)
        if kind in sent:
            log.info("sweep: queued stranded %s(s) %s again", kind.noun, ", ".join(map(str, sent[kind])))
    return sent


class Sweeper:
    """The periodic sweep of one worker process, in a daemon thread with its own database engine."""

    def __init__(self, settings: Settings, send: Send) -> None:
        self.engine: Engine = make_engine(settings.resolved_database_url)
        self._sessions = make_session_factory(self.engine)
        self._settings, self._send = settings, send
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="seedscope-sweep", daemon=True)
        self._started = utcnow()  # the worker is ready, taking tasks

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)
        self.engine.dispose()

    def _loop(self) -> None:
        interval = self._settings.sweep_interval_s
        while True:
            try:
                sweep(self._sessions, self._send, self._settings, self._started)
            except Exception as error:  # the database is unreachable: try again next time
                log.warning("sweep failed (%s); retrying in %.0f s", error, interval)
            # Jitter, so the workers of a deployment started together do not all sweep at the same instant.
            if self._stopped.wait(interval * random.uniform(0.8, 1.2)):
                return
