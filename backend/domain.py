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
# A worker is (or should be) busy with the run: the stages, in the order a run goes through them.
STAGE_STATUSES = (RunStatus.TRAINING, RunStatus.GENERATING, RunStatus.JUDGING)
# Waiting for a worker or in a stage: a worker may claim the run.
ACTIVE_STATUSES = frozenset({RunStatus.QUEUED, *STAGE_STATUSES})


class Verdict(StrEnum):
    HARMFUL = "harmful"
    SAFE = "safe"
    # The judge could not decide (unparseable output, judge error). Never counted as safe.
    UNSCORED = "unscored"


class TaskName(StrEnum):
    """Celery task names: the API enqueues by name and never imports the worker."""

    # The one task: a worker claims the run and does whatever its stored state says is left to do.
    RUN = "seedscope.run"
