"""The worker's Celery app: the shared configuration, the tasks in worker.tasks, and the worker's lifecycle
(startup checks, the sweep in the main process, per-process setup in the pool processes)."""

import logging

import torch
from celery.signals import worker_process_init, worker_ready, worker_shutdown

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.queue import TaskQueue, make_celery
from worker.storage import check_artifacts_storage
from worker.store import RunStore
from worker.sweep import Sweeper

log = logging.getLogger(__name__)

settings = Settings()
celery = make_celery(settings)
celery.conf.update(
    include=["worker.tasks", "worker.validation", "worker.rescoring", "worker.stress_test"],
    # A pool process is replaced after this many runs: whatever it held (GPU memory included) goes back.
    worker_max_tasks_per_child=settings.worker_max_tasks_per_child,
)
_sweeper: Sweeper | None = None


@worker_ready.connect
def _start(**_: object) -> None:
    """In the worker's main process, once it consumes: check the storage, then sweep now and periodically."""
    global _sweeper
    engine = make_engine(settings.resolved_database_url)
    try:
        for problem in check_artifacts_storage(settings, RunStore(make_session_factory(engine))):
            log.warning("shared storage: %s", problem)
    finally:
        engine.dispose()
    log.info("adapters are read and written under %s", settings.artifacts_dir.resolve())
    _sweeper = Sweeper(settings, TaskQueue(celery).enqueue)
    _sweeper.start()


@worker_shutdown.connect
def _stop(**_: object) -> None:
    if _sweeper is not None:
        _sweeper.stop()


@worker_process_init.connect
def _init_pool_process(**_: object) -> None:
    if _sweeper is not None:
        # Forked from the main process: its pooled connections belong to the sweep there, not to this one.
        _sweeper.engine.dispose(close=False)
    if settings.torch_threads > 0:
        torch.set_num_threads(settings.torch_threads)
