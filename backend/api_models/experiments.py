"""Experiments, their conditions and runs, what their numbers measure, and the form's draft."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, computed_field, field_validator

from backend.api_models.base import ReadModel
from backend.api_models.judges import ExperimentJudgeRead, RescoringRead, ValidationSummaryRead
from backend.domain import RunStatus, SetMeasure
from backend.experiment_definition import ExperimentSpec, StoredCondition
from backend.judging.definition import JudgeKind, Measured
from backend.provenance import Provenance


class RateRead(ReadModel):
    """A harmfulness rate with its Wilson 95% interval; unscored verdicts are counted, not rated.

    With several verdicts per prompt the interval is clustered by prompt: the Wilson interval at the
    effective number of verdicts, scored / design_effect (backend.stats.rates).
    """

    harmful: int
    safe: int
    unscored: int
    rate: float | None
    low: float | None
    high: float | None
    design_effect: float = 1.0
    # Of the judged responses (harmful + safe + unscored), those the coherence rule marks incoherent
    # (worker.coherence): counted beside the rate, still in it. None when none has a coherence mark.
    incoherent: int | None = None


class RunRead(ReadModel):
    id: int
    condition_id: int
    condition_name: str
    is_baseline: bool
    seed: int
    lora_init_seed: int
    data_order_seed: int
    data_subset_seed: int
    sampling_seed: int
    # Repeated measurements: the run whose checkpoint this one re-evaluates, and which re-evaluation it is.
    evaluation_of_id: int | None
    evaluation_index: int
    # An intermediate checkpoint's evaluation: the run that trained it, and at what fraction of training
    # (training.evaluate_at); None for every other run. Its condition is that run's.
    checkpoint_of_id: int | None = None
    checkpoint_fraction: float | None = None
    # 0: submitted with the experiment; k: added by the experiment's k-th extension.
    added_in: int
    status: RunStatus
    progress: float
    progress_message: str
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    timings: dict[str, Any]
    # The worker holding the run and until when (free when the expiry has passed), and how many workers
    # have taken it since it was last queued by a user.
    lease_owner: str | None
    lease_expires_at: datetime | None
    attempts: int
    rate: RateRead | None = None


class SettingRead(ReadModel):
    """A condition's setting in words ("lr 0.0002"), and whether the experiment's conditions differ in it."""

    key: str  # the spec field: "training.learning_rate"
    group: str  # "training", "lora", "generation" or "seeds"
    text: str
    differs: bool


class RunDetail(RunRead):
    experiment_id: int
    provenance: Provenance
    # The run's condition's settings (what differs between the experiment's conditions marked).
    condition_settings: list[SettingRead]


class ConditionRead(ReadModel):
    id: int
    name: str
    is_baseline: bool
    spec: StoredCondition
    # Its training set as pinned at submit, and as "name@version" (spec.training_set is as written).
    training_set_id: int
    training_set: str

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
    @property
    def checkpoints(self) -> list[float]:
        """The fractions of training whose intermediate checkpoints its runs evaluate (the erosion curve)."""
        return self.spec.checkpoint_fractions

    @field_validator("training_set", mode="before")
    @classmethod
    def _pinned_reference(cls, training_set: Any) -> Any:
        # Read from the row, the training set is its related dataset row.
        return getattr(training_set, "reference", training_set)

    # The settings that apply to it (a baseline trains nothing), in words.
    settings: list[SettingRead] = Field(default_factory=list)


class MetricRead(ReadModel):
    """What the dashboard's numbers can be measured by, in the words every title, axis and column uses."""

    metric: str  # "rate", "score" or "refusal-prefix", the analysis' `metric` parameter
    judge: str  # the judge whose verdicts or scores these are (the refusal openings' phrase set for those)
    label: str  # the choice as offered: "the compliance rate of refusal-minilm@2"
    title: str  # "Compliance rate"
    column: str  # a column of run rates: "Complies"
    meaning: str  # a sentence: what every number measured this way is
    warning: str | None  # when that judge's validation is missing or weak


class ExperimentSummary(ReadModel):
    id: int
    project_id: int
    project: str
    name: str
    description: str
    created_at: datetime
    status_counts: dict[str, int]


class ExperimentBenchmarkRead(ReadModel):
    id: int
    reference: str  # "name@version"
    n_prompts: int
    # Its prompt categories, for the per-prompt browser's filter.
    categories: list[str]
    # What it measures: harm (a safety benchmark, judged by the experiment's judges), capability or
    # over_refusal (each scored by its scorer).
    measures: SetMeasure = SetMeasure.HARM
    scoring: str = ""  # a capability set's scoring rule
    scorer_id: int | None = None
    scorer: str | None = None  # "name@version"
    # What the scorer's harmful verdict means, and its best finished validation in the project on a set
    # labelled for that: what corrects the set's rates for the scorer's errors (an over-refusal set's).
    scorer_measures: Measured | None = None
    scorer_validation: ValidationSummaryRead | None = None
    # What the numbers on a scored set are, in words (its rate replaces the experiment's metrics there).
    measure: MetricRead | None = None


class ExperimentRead(ExperimentSummary):
    base_model: str
    base_model_revision: str | None
    # The first benchmark (the dashboard's default), as id, "name@version" and its categories.
    benchmark_id: int
    benchmark: str
    categories: list[str]
    # Every benchmark the runs are evaluated on, in order; the runs' rates are on the first one's prompts.
    benchmarks: list[ExperimentBenchmarkRead]
    training_set: str
    # In order; the first one's verdicts make the headline rate.
    judges: list[ExperimentJudgeRead]
    # Who made the first judge the headline one, when an editor chose it after submit (else None). The
    # chooser's address is left out for a share link.
    headline_chosen_by: str | None
    headline_chosen_at: datetime | None
    # The judges added after submit, judging the stored responses: while one is not done, its numbers
    # cover part of them.
    rescorings: list[RescoringRead]
    # The first measures the headline numbers: the first judge's rate; then a grading judge's mean score.
    metrics: list[MetricRead]
    spec: ExperimentSpec
    conditions: list[ConditionRead]
    runs: list[RunRead]
    # The evaluations of intermediate checkpoints (training.evaluate_at) by status: no condition's runs, but
    # the experiment is not finished while one is.
    checkpoint_status_counts: dict[str, int]

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
    @property
    def runs_here(self) -> bool:
        """False for an imported experiment (its judge's kind is `imported`): its results were made
        elsewhere, so it has no model to run, re-evaluate or extend."""
        return self.judges[0].kind != JudgeKind.IMPORTED


class ExperimentStateRead(ReadModel):
    """What an open dashboard polls: a version that changes whenever anything it shows does."""

    version: str
    runs: int
    unfinished: int
    jobs_running: int = Field(description="its rescorings and judge stress tests queued or running")


class ReevaluateRequest(BaseModel):
    count: int = Field(3, ge=1, le=50, description="how many new evaluations, each with a new sampling seed")


class ReevaluationsRead(ReadModel):
    runs: list[RunRead]
    warning: str | None


class AddSeedsRequest(BaseModel):
    """More training seeds for the experiment's fine-tuned conditions (or one of them)."""

    count: int = Field(3, ge=1, le=100, description="how many new seeds; the next unused integers")
    condition: str | None = Field(None, description="a condition name; default: every fine-tuned condition")


JudgeReference = Annotated[
    str, Field(min_length=1, max_length=100, description="a judge definition: name, name@version, or its id")
]


class AddJudgesRequest(BaseModel):
    """Judge definitions to add to an experiment; each judges its stored responses (a rescoring)."""

    judges: list[JudgeReference] = Field(min_length=1, max_length=20)


class HeadlineJudgeRequest(BaseModel):
    judge: JudgeReference


class ExperimentDraftRead(ReadModel):
    """The experiment the new-experiment form starts from, and the JSON schema of a definition (every field's
    default and bounds)."""

    spec: ExperimentSpec
    json_schema: dict[str, Any]
