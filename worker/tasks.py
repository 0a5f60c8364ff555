"""Celery tasks: ids in, rows out, job state in the database."""

import logging
import time
from collections.abc import Callable
from functools import cache

from celery.signals import task_failure

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import RunStatus, TaskName
from worker import pipeline
from worker.app import celery, settings
from worker.judges.base import JudgeUnavailable
from worker.models.sources import ModelLoadError
from worker.store import RunCancelled, RunContext, RunStore

log = logging.getLogger(__name__)

Stage = Callable[[RunContext, RunStore, Settings], None]


@cache
def _store() -> RunStore:
    return RunStore(make_session_factory(make_engine(settings.resolved_database_url)))


def readable(error: Exception) -> str:
    """The message a user sees on a failed run: what went wrong, without a stack trace."""
    if isinstance(error, ModelLoadError | JudgeUnavailable | ValueError | FileNotFoundError):
        return str(error)
    return f"{type(error).__name__}: {error} (traceback in the worker log)"


def run_stage(run_id: int, status: RunStatus, stage: Stage, store: RunStore, settings: Settings) -> bool:
    """Run one stage of one run; True when it completed and the next stage may start."""
    context = store.context(run_id)
    if context is None or not store.start_stage(run_id, status, f"{status.value} started"):
        log.info("run %s: skipping %s (gone, cancelled or done)", run_id, status.value)
        return False
    started = time.perf_counter()
    try:
        stage(context, store, settings)
    except RunCancelled:
        log.info("run %s cancelled during %s", run_id, status.value)
        return False
    except Exception as error:
        log.exception("run %s failed during %s", run_id, status.value)
        store.fail(run_id, f"{status.value}: {readable(error)}")
        return False
    store.finish_stage(run_id, status, time.perf_counter() - started, done=status == RunStatus.JUDGING)
    return True


@task_failure.connect
def _record_unhandled_failure(
    sender: object = None,
    args: tuple[object, ...] | None = None,
    exception: BaseException | None = None,
    **_: object,
) -> None:
    """Failures run_stage could not catch: the pool process died (killed, out of memory) or the database
    was unreachable. Fires in the worker's main process, so the run does not stay "running" forever."""
    if getattr(sender, "name", None) == TaskName.VALIDATE_JUDGE.value:
        return  # its argument is a validation's id, not a run's (worker.validation records its failures)
    if args and isinstance(args[0], int):
        _store().fail(args[0], f"the worker stopped while running this task ({exception!r}); retry the run")


# A run's stages in order. A task runs its stage and then the later ones in the same process, so a run
# finishes before the next one starts (results appear one run at a time) and models stay on one host.
# Each stage is still its own task, so a run can be resumed from any stage.
STAGES: list[tuple[TaskName, RunStatus, Stage]] = [
    (TaskName.FINETUNE, RunStatus.TRAINING, pipeline.finetune),
    (TaskName.GENERATE, RunStatus.GENERATING, pipeline.generate),
    (TaskName.JUDGE, RunStatus.JUDGING, pipeline.judge),
]


def run_from(first: TaskName, run_id: int, store: RunStore, settings: Settings) -> None:
    """Run stage `first` and the stages after it, stopping at the first that does not complete."""
    names = [name for name, _, _ in STAGES]
    for _, status, stage in STAGES[names.index(first) :]:
        if not run_stage(run_id, status, stage, store, settings):
            return


@celery.task(name=TaskName.FINETUNE.value)
def finetune(run_id: int) -> None:
    run_from(TaskName.FINETUNE, run_id, _store(), settings)


@celery.task(name=TaskName.GENERATE.value)
def generate(run_id: int) -> None:
    run_from(TaskName.GENERATE, run_id, _store(), settings)


@celery.task(name=TaskName.JUDGE.value)
def judge(run_id: int) -> None:
    run_from(TaskName.JUDGE, run_id, _store(), settings)
