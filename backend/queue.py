"""The Celery app both sides share, and the API's way of enqueueing work by task name."""

import time
from typing import Any

from celery import Celery
from sqlalchemy.exc import IntegrityError, OperationalError

from backend.config import Settings
from backend.jobs import JobKind


def make_celery(settings: Settings) -> Celery:
    broker_url = settings.resolved_broker_url
    app = Celery("seedscope", broker=broker_url)
    app.conf.update(
        # A task is acknowledged when it finishes, and a worker holds one task at a time: jobs run for
        # minutes and must not wait behind a busy worker (Celery docs, optimizing.rst). A worker that dies
        # loses nothing: its job's lease expires and the sweep queues the job again (worker.sweep).
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        # The database holds job state; Celery's result backend is not used.
        task_ignore_result=True,
        task_default_queue="seedscope",
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(broker_url, settings),
        # Fail fast when the broker is down, so the API can say so instead of hanging.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        worker_hijack_root_logger=False,
    )
    return app


def _transport_options(broker_url: str, settings: Settings) -> dict[str, object]:
    if broker_url.startswith(("redis://", "rediss://")):
        # Redis hands an unacknowledged message out again after this; the worker that gets it finds the
        # job leased or finished and drops it, so it need not exceed the longest job (redis.rst caveats).
        return {"visibility_timeout": settings.broker_visibility_timeout_s}
    # kombu's SQLAlchemy transport passes its options to create_engine; it has no visibility timeout.
    return {}


def declare_task_queue(app: Celery, attempts: int = 5, pause_s: float = 0.2) -> None:
    """Create the task queue on the broker, as a worker does before it consumes.

    kombu's SQLAlchemy transport (the embedded SQLite broker) creates its tables and the queue's row on first
    use, and two processes doing so at once collide (UNIQUE constraint failed: kombu_queue.name, or a
    table that already exists): workers started together (`--gpus 0,1`) on a fresh broker. The one that
    loses tries again on a new connection and finds what the other made. Other brokers never raise these.
    """
    queue = app.amqp.queues[app.conf.task_default_queue]
    for attempt in range(1, attempts + 1):
        try:
            with app.connection_for_write() as connection:
                queue(connection.default_channel).declare()
            return
        except (IntegrityError, OperationalError):
            if attempt == attempts:
                raise
            time.sleep(pause_s)


class TaskQueue:
    """Sends tasks by name: the API process never imports the worker package."""

    def __init__(self, celery: Celery) -> None:
        self._celery = celery

    def enqueue(self, kind: JobKind[Any], job_id: int) -> None:
        """Send the job's task with its id (a run's one task: its worker works out which stage is next)."""
        self._celery.send_task(kind.task.value, args=[job_id])
