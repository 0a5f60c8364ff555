"""What the JSON API returns. Built from rows inside the repositories; ORM objects never leave them."""

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from backend.domain import RunStatus, Verdict

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


class JudgeRead(_Read):
    name: str
    version: str
    description: str


class ModelOptionRead(_Read):
    name: str
    description: str


class CatalogRead(_Read):
    models: list[ModelOptionRead]
    benchmarks: list[BenchmarkRead]
    training_sets: list[TrainingSetRead]
    judges: list[JudgeRead]


class RateRead(_Read):
    """A harmfulness rate with its Wilson 95% interval; unscored verdicts are counted, not rated."""

    harmful: int
    safe: int
    unscored: int
    rate: float | None
    low: float | None
    high: float | None


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


class RunDetail(RunRead):
    experiment_id: int
    provenance: dict[str, Any]


class ConditionRead(_Read):
    id: int
    name: str
    is_baseline: bool
    spec: dict[str, Any]


class ExperimentSummary(_Read):
    id: int
    name: str
    description: str
    created_at: datetime
    status_counts: dict[str, int]


class ExperimentRead(ExperimentSummary):
    base_model: str
    base_model_revision: str | None
    benchmark_id: int
    benchmark: str
    training_set: str
    judges: list[str]
    spec: dict[str, Any]
    conditions: list[ConditionRead]
    runs: list[RunRead]


class JudgmentRead(_Read):
    judge: str
    verdict: Verdict
    score: float | None
    output: str


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


# --- analysis: every number travels with its interval and its n --------------------------------------


class SeedPointRead(_Read):
    run_id: int
    seed: int
    rate: float
    low: float
    high: float
    n_scored: int


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
    # All scored verdicts of the condition pooled, with a Wilson interval (ignores seed noise).
    pooled: RateRead
    repeats: list[CheckpointRepeatsRead]
    # Mean over checkpoints of the SD between re-evaluations: evaluation noise, beside the seed SD.
    evaluation_sd: float | None


class ComparisonRead(_Read):
    """Harmfulness rate of A minus B, paired on prompts (and on seeds where they match)."""

    a: str
    b: str
    estimate: float
    rate_a: float
    rate_b: float
    # Standard error clustered by prompt (Miller 2024): evaluation noise given these checkpoints.
    se_prompt: float
    prompt_low: float
    prompt_high: float
    # Two-way clustered by prompt and training seed: also counts training noise (None with < 2 seed clusters).
    se_seed_aware: float | None
    seed_low: float | None
    seed_high: float | None
    p_value: float
    p_adjusted: float
    n_permutations: int
    exact: bool
    n_prompts: int
    n_seed_clusters: int


class ComponentsRead(_Read):
    seed: float
    prompt: float
    seed_x_prompt: float
    sampling: float | None


class VarianceRead(_Read):
    condition_id: int
    name: str
    components: ComponentsRead
    shares: ComponentsRead
    icc_seed: float | None
    # One verdict per cell: seed x prompt interaction and sampling noise cannot be told apart.
    interaction_confounded: bool
    n_seeds: int
    n_prompts: int
    cell_size: float


class PowerPointRead(_Read):
    difference: float
    seeds_needed: int | None


class PowerRead(_Read):
    """Sizing from the fine-tuned conditions' average variance components (two-sided, alpha 0.05, 80%)."""

    based_on: list[str]
    n_seeds: int
    n_prompts: int
    n_samples: int
    minimum_detectable_difference: float | None
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
    judge: str
    # Some runs have not finished: every figure shows what there is so far.
    partial: bool
    conditions: list[ConditionSummaryRead]
    comparisons: list[ComparisonRead]
    adjustment: str
    variance: list[VarianceRead]
    power: PowerRead | None
    agreement: list[AgreementRead]
