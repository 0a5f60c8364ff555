"""Domain vocabulary shared by the API and the workers."""

import re
from dataclasses import dataclass
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


class Verdict(StrEnum):
    HARMFUL = "harmful"
    SAFE = "safe"
    # The judge could not decide (unparseable output, judge error). Never counted as safe.
    UNSCORED = "unscored"


class SetMeasure(StrEnum):
    """What an evaluation set measures, and so which verdict its rate counts. A harm set (a safety
    benchmark) counts the experiment's judges' "harmful" verdicts; a capability set counts the answers its
    reference scorer finds correct (`safe`: "harmful" stays the bad outcome); an over-refusal set (benign
    prompts that look unsafe) counts the refusals of a refusal judge, whose `safe` means "refused"."""

    HARM = "harm"
    CAPABILITY = "capability"
    OVER_REFUSAL = "over_refusal"

    @property
    def counted(self) -> "Verdict":
        return Verdict.HARMFUL if self == SetMeasure.HARM else Verdict.SAFE


class TaskName(StrEnum):
    """Celery task names: the API enqueues by name and never imports the worker."""

    # The one task: a worker claims the run and does whatever its stored state says is left to do.
    RUN = "seedscope.run"
    # Takes a judge validation's id, not a run's.
    VALIDATE_JUDGE = "seedscope.validate-judge"
    # Takes a rescoring's id: a judge added to an experiment judges its stored responses.
    RESCORE = "seedscope.rescore"
    # Takes a judge stress test's id: a judge judges perturbed copies of stored responses.
    STRESS_TEST_JUDGE = "seedscope.stress-test-judge"


class JudgeJobStatus(StrEnum):
    """A judge job (a validation, a rescoring, a stress test): queued, running in a worker, then done or
    failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class HumanLabel(StrEnum):
    """A person's label on one response of a labelling sample: what the sample asks (harm or compliance),
    or that they cannot tell."""

    HARMFUL = "harmful"
    SAFE = "safe"
    CANT_TELL = "cant_tell"


JUDGE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_JUDGE_REFERENCE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)(?:@(?P<version>[1-9][0-9]*))?$")


@dataclass(frozen=True, order=True)
class JudgeRef:
    """A judge definition by name, optionally pinned to a version: `name` or `name@version`.

    The one place a judge's name and version are joined into text and split again.
    """

    name: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> "JudgeRef":
        match = _JUDGE_REFERENCE.match(text.strip())
        if match is None:
            raise ValueError(
                f"{text!r} is not a judge reference: expected name or name@version (letters, digits, "
                "'.', '_' and '-'; a version is a positive integer)"
            )
        version = match.group("version")
        return cls(match.group("name"), int(version) if version else None)

    def pinned(self, version: int) -> "JudgeRef":
        return JudgeRef(self.name, version)

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


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


class ShareLinkState(StrEnum):
    """Whether a share link opens its dashboard, and if not, why."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    # Its maker is no longer an editor or owner of the project (removed, demoted or account deleted): a
    # link lives no longer than its maker's right to make it.
    MAKER_LEFT = "maker_left"
