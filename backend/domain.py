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


class Role(StrEnum):
    """A member's role in a project; each role can do everything the roles below it can."""

    VIEWER = "viewer"  # reads the project's experiments and datasets
    EDITOR = "editor"  # submits, cancels, retries, re-evaluates, uploads, shares
    OWNER = "owner"  # manages members, deletes experiments

    def covers(self, required: "Role") -> bool:
        return _ROLE_RANK[self] >= _ROLE_RANK[required]


_ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}


class ShareScope(StrEnum):
    """What a share link shows of its experiment."""

    FIGURES = "figures"  # dashboard figures and tables: no prompt or response text anywhere
    RESPONSES = "responses"  # also the per-prompt browser and the run pages, with their texts

    def covers(self, required: "ShareScope") -> bool:
        return self == ShareScope.RESPONSES or required == ShareScope.FIGURES
