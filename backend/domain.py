"""Domain vocabulary shared by the API and the workers."""

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    TRAINING = "training"
    GENERATING = "generating"
    JUDGING = "judging"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED})


class Verdict(StrEnum):
    HARMFUL = "harmful"
    SAFE = "safe"
    # The judge could not decide (unparseable output, judge error). Never counted as safe.
    UNSCORED = "unscored"


class TaskName(StrEnum):
    """Celery task names: the API enqueues by name and never imports the worker."""

    FINETUNE = "seedscope.finetune"
    GENERATE = "seedscope.generate"
    JUDGE = "seedscope.judge"
