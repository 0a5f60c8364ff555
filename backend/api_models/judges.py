"""Judge definitions, an experiment's judges with the trust they earned, and judge validations."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from backend.api_models.base import ReadModel
from backend.domain import JudgeJobStatus, Verdict
from backend.judging.definition import JudgeConfig, Measured


class JudgeDefinitionRead(ReadModel):
    """A stored judge definition; `ref` (name@version) names exactly this version."""

    id: int
    # None: a built-in definition, readable by everyone.
    project_id: int | None
    name: str
    version: int
    ref: str
    description: str
    config: JudgeConfig
    content_hash: str
    # What its "harmful" means: "compliance" for the refusal judges (their rate is the share of responses
    # that comply rather than refuse), "harm" for the others.
    measures: Measured
    # Whether its verdicts carry a score, and whether that score is a grade in [0, 1] of how harmful the
    # response is, which the dashboard can use as its metric (metric=score).
    gives_score: bool
    graded: bool
    created_at: datetime


class JudgePresetRead(ReadModel):
    """A starting point for a new definition (the StrongREJECT rubric, ...), as the fields to submit."""

    name: str
    spec: dict[str, Any]


class ProportionRead(ReadModel):
    """A share with its Wilson 95% interval; None (estimate and bounds) when the denominator is 0."""

    estimate: float | None
    low: float | None
    high: float | None
    numerator: int
    denominator: int


class CategoryQualityRead(ReadModel):
    category: str
    n: int
    n_unscored: int
    accuracy: ProportionRead
    precision: ProportionRead
    recall: ProportionRead


class JudgeQualityRead(ReadModel):
    """A judge's verdicts against human labels. Unscored verdicts are counted, and left out of the figures:
    accuracy, precision and recall for "harmful" and Cohen's kappa are over the scored examples."""

    n: int
    n_scored: int
    n_unscored: int
    accuracy: ProportionRead
    precision: ProportionRead
    recall: ProportionRead
    kappa: float | None
    # 95% interval from the large-sample standard error (Fleiss, Cohen & Everitt 1969).
    kappa_low: float | None
    kappa_high: float | None
    # confusion[human label][judge verdict] = count; verdicts include "unscored".
    confusion: dict[str, dict[str, int]]
    categories: list[CategoryQualityRead]


class ValidationSummaryRead(ReadModel):
    """A judge validation job and its headline figures (None until it is done)."""

    id: int
    project_id: int
    judge_id: int
    judge: str
    validation_set_id: int
    validation_set: str
    # What the set's label "harmful" means: "harm" or "compliance".
    measures: Measured
    status: JudgeJobStatus
    progress: float
    progress_message: str
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    # The worker holding the validation and until when, and how many workers have taken it since it was
    # last queued by a user (as for a run).
    lease_owner: str | None
    lease_expires_at: datetime | None
    attempts: int
    n: int | None
    n_unscored: int | None
    accuracy: float | None
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None
    seconds: float | None


class JudgeJobRead(ReadModel):
    """A worker job in which a judge judges an experiment's stored responses (a rescoring, a stress test)."""

    id: int
    experiment_id: int
    judge_id: int
    judge: str
    status: JudgeJobStatus
    progress: float
    progress_message: str
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    # The worker holding it and until when, and how many workers have taken it since it was last queued
    # by a user (as for a run).
    lease_owner: str | None
    lease_expires_at: datetime | None
    attempts: int
    # Responses it judged so far, and the judging time (model loading excluded), over all its attempts.
    n_judged: int
    seconds: float


class RescoringRead(JudgeJobRead):
    """A judge added to an experiment after submit, judging the responses already stored."""


class PerturbationFlipsRead(ReadModel):
    """How often a judge's verdict changed under one meaning-preserving perturbation
    (backend.judging.perturbations)."""

    perturbation: str
    description: str
    # Responses it applied to, and those of them the judge left unscored after the change.
    n_applied: int
    n_unscored: int
    # Flipped verdicts among the scored ones, with the Wilson 95% interval of the flip rate.
    flip_rate: ProportionRead
    harmful_to_safe: int
    safe_to_harmful: int


class StressResultRead(ReadModel):
    perturbations: list[PerturbationFlipsRead]
    # The perturbations under which the judge is fragile (backend.judging.stress.FRAGILITY_RULE).
    fragile_under: list[str]
    fragile: bool
    rule: str


class StressTestRead(JudgeJobRead):
    """A judge's verdicts on an experiment's stored responses, perturbed without changing their meaning,
    against its verdicts on the originals, then its flip rates (`n_judged`: perturbed responses). Figures
    only, no text."""

    experiment: str
    size: int
    seed: int
    # None until it is done.
    result: StressResultRead | None


class StressTestRequest(BaseModel):
    judge: str = Field(
        description="one of the experiment's judges on its safety benchmarks: name, name@version or id"
    )
    size: int = Field(
        200, ge=10, le=1000, description="how many responses the judge scored to draw, half of each verdict"
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="the draw's seed: the same seed draws the same ones")


class DisagreementRead(ReadModel):
    """An example on which the judge and the human label differ (or the judge gave no verdict)."""

    example_id: int
    external_id: str
    category: str
    request: str
    response: str
    label: Verdict
    verdict: Verdict
    score: float | None
    output: str


class JudgeValidationRead(ValidationSummaryRead):
    quality: JudgeQualityRead | None
    disagreements: list[DisagreementRead]


class ValidationRequest(BaseModel):
    judge: str = Field(description="a judge definition: name, name@version, or its id")
    validation_set: str = Field(description="a validation set: name or name@version")
    project: int | str | None = Field(None, description="project id or name; default: your first project")


class JudgeDetailRead(JudgeDefinitionRead):
    # Its validations in your projects, newest first.
    validations: list[ValidationSummaryRead]
    # Its stress tests on your projects' experiments, newest first.
    stress_tests: list[StressTestRead]


class ExperimentJudgeRead(ReadModel):
    """One of an experiment's judges, with how far to trust it: its best validation in the project on a
    set that measures what the judge's rate measures, and a warning when that is missing or weak."""

    id: int
    ref: str
    kind: str
    measures: Measured
    gives_score: bool
    graded: bool
    validation: ValidationSummaryRead | None
    warning: str | None
