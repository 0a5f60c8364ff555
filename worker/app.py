"""The worker's Celery app: the shared configuration plus the tasks in worker.tasks."""

import torch
from celery.signals import worker_process_init

from backend.config import Settings
from backend.queue import make_celery

settings = Settings()
celery = make_celery(settings)
celery.conf.update(include=["worker.tasks", "worker.validation"])


@worker_process_init.connect
def _set_torch_threads(**_: object) -> None:
    if settings.torch_threads > 0:
        torch.set_num_threads(settings.torch_threads)
