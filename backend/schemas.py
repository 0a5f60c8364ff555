"""What the JSON API returns. Built from rows inside the repositories; ORM objects never leave them."""

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from backend.domain import Role, RunStatus, ShareLinkState, ShareScope, ValidationStatus, Verdict
from backend.judging.spec import JudgeConfig

Item = TypeVar("Item")


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(_Read, Generic[Item]):
    items: list[Item]
    total: int
    page: int
    page_size: int


class _DatasetRead(_Read):
    id: int
    # None: a built-in dataset, readable by everyone.
    project_id: int | None
    name: str
    version: str
    content_hash: str
    source: str
    description: str


class BenchmarkRead(_DatasetRead):
    n_prompts: int
    categories: list[str]


class TrainingSetRead(_DatasetRead):
    n_examples: int


class JudgeDefinitionRead(_Read):
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
    measures: str
    # Whether its verdicts carry a score, and whether that score is a grade in [0, 1] of how harmful the
    # response is, which the dashboard can use as its metric (metric=score).
    gives_score: bool
    graded: bool
    created_at: datetime


class JudgePresetRead(_Read):
    """A starting point for a new definition (the StrongREJECT rubric, ...), as the fields to submit."""

    name: str
    spec: dict[str, Any]


class ValidationSetRead(_DatasetRead):
    # What its label "harmful" means: "harm" or "compliance".
    measures: str
    n_examples: int
    n_harmful: int
    categories: list[str]


class ModelOptionRead(_Read):
    name: str
    description: str


class CatalogRead(_Read):
    models: list[ModelOptionRead]
    benchmarks: list[BenchmarkRead]
    training_sets: list[TrainingSetRead]
    # The newest version of each judge definition you can use, built-ins first.
    judges: list[JudgeDefinitionRead]
    validation_sets: list[ValidationSetRead]
    judge_presets: list[JudgePresetRead]
    # What POST /api/benchmarks reads (its `format`).
    benchmark_formats: list[str]


class RateRead(_Read):
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


class RunRead(_Read):
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


class SettingRead(_Read):
    """A condition's setting in words ("lr 0.0002"), and whether the experiment's conditions differ in it."""

    key: str  # the spec field: "training.learning_rate"
    group: str  # "training", "lora", "generation" or "seeds"
    text: str
    differs: bool


class RunDetail(RunRead):
    experiment_id: int
    provenance: dict[str, Any]
    # The run's condition's settings (what differs between the experiment's conditions marked).
    condition_settings: list[SettingRead]


class ConditionRead(_Read):
    id: int
    name: str
    is_baseline: bool
    spec: dict[str, Any]
    # The settings that apply to it (a baseline trains nothing), in words.
    settings: list[SettingRead] = []


class MetricRead(_Read):
    """What the dashboard's numbers can be measured by, in the words every title, axis and column uses."""

    metric: str  # "rate" or "score", the analysis' `metric` parameter
    judge: str  # the judge whose verdicts or scores these are
    label: str  # the choice as offered: "the compliance rate of refusal-minilm@2"
    title: str  # "Compliance rate"
    column: str  # a column of run rates: "Complies"
    meaning: str  # a sentence: what every number measured this way is
    warning: str | None  # when that judge's validation is missing or weak


class ExperimentSummary(_Read):
    id: int
    project_id: int
    project: str
    name: str
    description: str
    created_at: datetime
    status_counts: dict[str, int]


class ExperimentRead(ExperimentSummary):
    base_model: str
    base_model_revision: str | None
    benchmark_id: int
    benchmark: str
    # The benchmark's prompt categories, for the per-prompt browser's filter.
    categories: list[str]
    training_set: str
    # In order; the first one's verdicts make the headline rate.
    judges: list["ExperimentJudgeRead"]
    # The first measures the headline numbers: the first judge's rate; then a grading judge's mean score.
    metrics: list[MetricRead]
    spec: dict[str, Any]
    conditions: list[ConditionRead]
    runs: list[RunRead]


class ExperimentStateRead(_Read):
    """What an open dashboard polls: a version that changes whenever anything it shows does."""

    version: str
    runs: int
    unfinished: int


class JudgmentRead(_Read):
    judge_id: int
    # name@version of the definition that made it.
    judge: str
    verdict: Verdict
    score: float | None
    # The judge's reasoning, the categories it named, or why the verdict is unscored.
    output: str
    details: dict[str, Any]


class GenerationRead(_Read):
    id: int
    run_id: int
    prompt_id: int
    prompt_external_id: str
    prompt_text: str
    sample_index: int
    text: str
    n_new_tokens: int
    judgments: list[JudgmentRead]


class ConditionRateRead(_Read):
    condition: str
    harmful: int
    scored: int
    # Verdicts the judge could not give: counted beside the rate, never in it.
    unscored: int
    rate: float | None


class PromptRowRead(_Read):
    """A prompt in the per-prompt browser, with its harmfulness rate under each condition."""

    prompt_id: int
    external_id: str
    category: str
    text: str
    rates: list[ConditionRateRead]
    # Conditions under which some seeds' majority verdict is harmful and others' safe.
    flips_in: list[str]


class BrowserResponseRead(_Read):
    """One response to a prompt, with every judge's verdict."""

    generation_id: int
    run_id: int
    condition: str
    seed: int
    evaluation_index: int
    sample_index: int
    text: str
    judgments: list[JudgmentRead]


class ReevaluateRequest(BaseModel):
    count: int = Field(3, ge=1, le=50, description="how many new evaluations, each with a new sampling seed")


class ReevaluationsRead(_Read):
    runs: list[RunRead]
    warning: str | None


class AddSeedsRequest(BaseModel):
    """More training seeds for the experiment's fine-tuned conditions (or one of them)."""

    count: int = Field(3, ge=1, le=100, description="how many new seeds; the next unused integers")
    condition: str | None = Field(None, description="a condition name; default: every fine-tuned condition")


# --- analysis: every number travels with its interval and its n --------------------------------------


class SeedPointRead(_Read):
    run_id: int
    seed: int
    rate: float
    low: float
    high: float
    n_scored: int
    # 0: submitted with the experiment; k: added by its k-th extension.
    added_in: int = 0


class CheckpointRepeatsRead(_Read):
    """A fine-tuned checkpoint evaluated several times: its rates differ by sampling noise alone."""

    run_id: int
    seed: int
    rates: list[float]
    n_evaluations: int
    min: float
    max: float
    sd: float | None


class ConditionSummaryRead(_Read):
    condition_id: int
    name: str
    is_baseline: bool
    runs_done: int
    runs_total: int
    seeds: list[SeedPointRead]
    # Across seeds: mean of per-seed rates, SD, range, t-interval with df = seeds - 1 (None below 2 seeds).
    mean: float | None
    sd: float | None
    min: float | None
    max: float | None
    low: float | None
    high: float | None
    # All scored verdicts of the condition pooled, interval clustered by prompt: given these checkpoints
    # (evaluation noise only; the t-interval above speaks of new seeds).
    pooled: RateRead
    repeats: list[CheckpointRepeatsRead]
    # Mean over checkpoints of the SD between re-evaluations: evaluation noise, beside the seed SD.
    evaluation_sd: float | None


class CheckpointsAnswerRead(_Read):
    """Given these checkpoints: evaluation noise only (new prompts and samples, same fine-tuned weights).

    Interval clustered by prompt (Miller 2024), t with n_prompts - 1 df; sign-flip permutation p-value.
    """

    se: float
    df: int
    low: float
    high: float
    p_value: float
    p_adjusted: float
    n_permutations: int
    exact: bool


class NewSeedsAnswerRead(_Read):
    """For new seeds: training noise too (what another draw of seeds would show on average).

    Generalized interval and p-value over the prompt-level and seed-level noise (backend.stats.compare).
    """

    se: float
    # The t df that gives the same interval width; None when it is no wider than the normal interval.
    df: float | None
    low: float
    high: float
    p_value: float
    p_adjusted: float
    seed_variance: float
    paired_seeds: bool


class SizingRead(_Read):
    """Minimum detectable difference (80% power, two-sided 5%) of the for-new-seeds test; 95% range."""

    n_seeds: int
    n_prompts: int
    minimum_detectable_difference: float
    low: float
    high: float


class ComparisonRead(_Read):
    """Harmfulness rate of A minus B, paired on prompts (and on seeds when both are fine-tuned with them)."""

    a: str
    b: str
    a_fine_tuned: bool
    b_fine_tuned: bool
    estimate: float
    rate_a: float
    rate_b: float
    n_prompts: int
    seeds_a: int
    seeds_b: int
    given_checkpoints: CheckpointsAnswerRead
    new_seeds: NewSeedsAnswerRead | None
    # Why there is no answer for new seeds (a fine-tuned arm with one seed, ...); None when there is one.
    new_seeds_withheld: str | None
    # "real" or "could be noise", from the for-new-seeds answer whenever a condition is fine-tuned;
    # "cannot tell" when that answer is withheld.
    verdict: str
    verdict_basis: str
    sizing: SizingRead | None


class IntervalRead(_Read):
    estimate: float | None
    low: float | None
    high: float | None


class ComponentsRead(_Read):
    """Variance of one verdict by source (proportion^2), each with its 95% interval."""

    seed: IntervalRead
    prompt: IntervalRead
    seed_x_prompt: IntervalRead
    # None when one verdict per cell confounds it with seed x prompt.
    sampling: IntervalRead | None


class VarianceRead(_Read):
    condition_id: int
    name: str
    components: ComponentsRead
    shares: ComponentsRead
    icc_seed: IntervalRead
    # One verdict per cell: seed x prompt interaction and sampling noise cannot be told apart.
    interaction_confounded: bool
    n_seeds: int
    n_prompts: int
    cell_size: float


class JudgeComponentsRead(_Read):
    """Shares of one condition's cell-rate variance (a seed's rate on a prompt under a judge), by source."""

    seed: IntervalRead
    prompt: IntervalRead
    # Includes sampling: the judges read the same responses.
    seed_x_prompt: IntervalRead
    # One judge calls more responses harmful than another, across the board.
    judge: IntervalRead
    # The judges rank the checkpoints differently.
    judge_x_seed: IntervalRead
    # The judges disagree about particular prompts.
    judge_x_prompt: IntervalRead
    # The judges disagree about particular responses (judge x seed x prompt).
    residual: IntervalRead


class JudgeVarianceRead(_Read):
    """How much of a condition's variance is the judges disagreeing (backend.stats.judge_variance)."""

    condition_id: int
    name: str
    judge_share: IntervalRead
    shares: JudgeComponentsRead
    n_judges: int
    n_seeds: int
    n_prompts: int
    # Prompts left out because some judge scored nothing on them under some seed.
    n_prompts_dropped: int


class PowerPointRead(_Read):
    difference: float
    seeds_needed: int | None


class PowerRead(_Read):
    """Sizing of one comparison's for-new-seeds test: the design as run, with more seeds, and the seeds
    needed per difference (two-sided 5%, 80% power; ranges from the estimated noise's uncertainty)."""

    a: str
    b: str
    now: SizingRead
    more_seeds: list[SizingRead]
    curve: list[PowerPointRead]


class AgreementRead(_Read):
    judge_a: str
    judge_b: str
    kappa: float | None
    # 95% interval from the large-sample standard error (Fleiss, Cohen & Everitt 1969).
    low: float | None
    high: float | None
    observed_agreement: float
    n: int


class AnalysisRead(_Read):
    experiment_id: int
    # The judge whose verdicts (metric "rate") or graded scores (metric "score") every figure measures.
    judge: str
    metric: str = "rate"
    # Some runs have not finished: every figure shows what there is so far.
    partial: bool
    # Computed before the verdicts of a run being judged now (backend.services.snapshots): the numbers
    # move when it finishes.
    stale: bool = False
    conditions: list[ConditionSummaryRead]
    comparisons: list[ComparisonRead]
    adjustment: str
    variance: list[VarianceRead]
    power: list[PowerRead]
    agreement: list[AgreementRead]
    # With two or more judges: every judge's rates and comparisons, the first judge's included, and the
    # judges' share of each condition's variance.
    by_judge: list["JudgeAnalysisRead"]
    judge_variance: list[JudgeVarianceRead]


class JudgeAnalysisRead(_Read):
    """The conditions' rates and the comparisons as one judge's verdicts make them."""

    judge: str
    # What its harmful rate measures ("harm", "compliance").
    measures: str
    conditions: list[ConditionSummaryRead]
    comparisons: list[ComparisonRead]


# --- judge validation ------------------------------------------------------------------------------------


class ProportionRead(_Read):
    """A share with its Wilson 95% interval; None (estimate and bounds) when the denominator is 0."""

    estimate: float | None
    low: float | None
    high: float | None
    numerator: int
    denominator: int


class CategoryQualityRead(_Read):
    category: str
    n: int
    n_unscored: int
    accuracy: ProportionRead
    precision: ProportionRead
    recall: ProportionRead


class JudgeQualityRead(_Read):
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


class ValidationSummaryRead(_Read):
    """A judge validation job and its headline figures (None until it is done)."""

    id: int
    project_id: int
    judge_id: int
    judge: str
    validation_set_id: int
    validation_set: str
    # What the set's label "harmful" means: "harm" or "compliance".
    measures: str
    status: ValidationStatus
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


class DisagreementRead(_Read):
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


class ExperimentJudgeRead(_Read):
    """One of an experiment's judges, with how far to trust it: its best validation in the project on a
    set that measures what the judge's rate measures, and a warning when that is missing or weak."""

    id: int
    ref: str
    kind: str
    measures: str
    gives_score: bool
    graded: bool
    validation: ValidationSummaryRead | None
    warning: str | None


# --- accounts, projects and share links ----------------------------------------------------------------


class UserRead(_Read):
    id: int
    email: str
    has_password: bool


class ProjectRead(_Read):
    id: int
    name: str
    # The caller's role in it.
    role: Role


class MemberRead(_Read):
    user_id: int
    email: str
    role: Role


class InvitationRead(_Read):
    """An email invited into a project, a member once an account with that email is next seen."""

    email: str
    role: Role
    invited_at: datetime


class ProjectDetail(ProjectRead):
    members: list[MemberRead]
    invitations: list[InvitationRead]


class ShareGrantRead(_Read):
    """What a share link lets its holder see."""

    link_id: int
    experiment_id: int
    scope: ShareScope
    expires_at: datetime | None


class MeRead(_Read):
    """Who is calling: a signed-in user with their projects, or a share link's holder."""

    user: UserRead | None
    projects: list[ProjectRead]
    share: ShareGrantRead | None
    # False for read-only API tokens and share links.
    can_write: bool


class ApiTokenRead(_Read):
    id: int
    name: str
    can_write: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreated(ApiTokenRead):
    # Shown once: only its SHA-256 is stored.
    token: str


class ShareLinkRead(_Read):
    id: int
    experiment_id: int
    scope: ShareScope
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    # Only an active link opens the dashboard; the others answer 404.
    state: ShareLinkState


class ShareLinkCreated(ShareLinkRead):
    # /share/<token>, shown once: only the token's SHA-256 is stored.
    path: str


class ExperimentDraftRead(_Read):
    """The experiment the new-experiment form starts from, and the JSON schema of a definition (every field's
    default and bounds)."""

    spec: dict[str, Any]
    json_schema: dict[str, Any]


class PlanRead(_Read):
    """What a drafted experiment would run, and what it could detect, before it is submitted."""

    n_runs: int
    n_fine_tuned_runs: int
    seeds_per_condition: int
    # From the newest earlier experiment on the same base model and benchmark; None without one.
    sizing: SizingRead | None
    sizing_basis: str
    # The experiment whose measured noise the sizing is from.
    basis_experiment_id: int | None = None


# Read models that name one defined after them.
ExperimentRead.model_rebuild()
AnalysisRead.model_rebuild()
