"""The kinds of worker job, and what each declares to get the one lease machinery they all share.

A job is a row of a table with the job columns (backend.models.JobRow) and a task that takes its id. A
worker claims it through a lease, renews the lease while it works and releases it when the job is done,
failed or cancelled (worker.lease); a job whose worker stopped, or whose task message was lost, is queued
again by the sweep (worker.sweep); a user retries a job that is neither done nor held; and a job that
keeps stopping its workers fails after Settings.job_max_attempts. The statements behind all of this are
written once, for any kind, in backend.repositories.leases.

A new kind declares its table, its statuses and its task here, and adds itself to JOB_KINDS so that the
sweep covers it.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from backend.domain import STAGE_STATUSES, JudgeJobStatus, RunStatus, TaskName
from backend.models import JobRow, JudgeStressTest, JudgeValidation, Rescoring, Run

R = TypeVar("R", bound=JobRow)


@dataclass(frozen=True)
class JobKind(Generic[R]):
    """One kind of job: its table and where its own state machine stands in the lease's."""

    # What the job is called in messages and logs: "run 3", "judge validation 7".
    noun: str
    model: type[R]
    task: TaskName
    # Waiting for a worker.
    queued: StrEnum
    # A worker is (or should be) on it: a lapsed lease in one of these means its worker stopped.
    working: tuple[StrEnum, ...]
    done: StrEnum
    failed: StrEnum
    # Stopped by a user: the worker holding it stops at its next write, and nothing takes it up again
    # until a user retries it. None for a kind that cannot be cancelled.
    cancelled: StrEnum | None = None

    @property
    def claimable(self) -> tuple[StrEnum, ...]:
        """The statuses in which a worker may claim the job."""
        return (self.queued, *self.working)

    @property
    def settled(self) -> tuple[StrEnum, ...]:
        """The statuses a worker's failure must not overwrite."""
        return (self.done,) if self.cancelled is None else (self.done, self.cancelled)


RUNS = JobKind(
    noun="run",
    model=Run,
    task=TaskName.RUN,
    queued=RunStatus.QUEUED,
    working=STAGE_STATUSES,
    done=RunStatus.DONE,
    failed=RunStatus.FAILED,
    cancelled=RunStatus.CANCELLED,
)

VALIDATIONS = JobKind(
    noun="judge validation",
    model=JudgeValidation,
    task=TaskName.VALIDATE_JUDGE,
    queued=JudgeJobStatus.QUEUED,
    working=(JudgeJobStatus.RUNNING,),
    done=JudgeJobStatus.DONE,
    failed=JudgeJobStatus.FAILED,
)

RESCORINGS = JobKind(
    noun="rescoring",
    model=Rescoring,
    task=TaskName.RESCORE,
    queued=JudgeJobStatus.QUEUED,
    working=(JudgeJobStatus.RUNNING,),
    done=JudgeJobStatus.DONE,
    failed=JudgeJobStatus.FAILED,
)

STRESS_TESTS = JobKind(
    noun="judge stress test",
    model=JudgeStressTest,
    task=TaskName.STRESS_TEST_JUDGE,
    queued=JudgeJobStatus.QUEUED,
    working=(JudgeJobStatus.RUNNING,),
    done=JudgeJobStatus.DONE,
    failed=JudgeJobStatus.FAILED,
)

# Every kind the sweep covers. They share one broker queue, which the sweep relies on (see requeue_stranded).
JOB_KINDS: tuple[JobKind[Any], ...] = (RUNS, VALIDATIONS, RESCORINGS, STRESS_TESTS)
