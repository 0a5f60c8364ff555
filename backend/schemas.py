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


class BenchmarkRead(_Read):
    id: int
    name: str
    version: str
    content_hash: str
    source: str
    description: str
    n_prompts: int
    categories: list[str]


class TrainingSetRead(_Read):
    id: int
    name: str
    version: str
    content_hash: str
    source: str
    description: str
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
    status: RunStatus
    progress: float
    progress_message: str
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    timings: dict[str, Any]
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
    sample_index: int
    text: str
    n_new_tokens: int
    judgments: list[JudgmentRead]


class ResponseRead(_Read):
    """One run's response to a prompt, with the primary judge's verdict."""

    generation_id: int
    run_id: int
    condition_name: str
    seed: int
    sample_index: int
    text: str
    verdict: Verdict | None
    judge_output: str | None


class PromptResponsesRead(_Read):
    prompt_id: int
    external_id: str
    category: str
    text: str
    responses: list[ResponseRead]


class ReevaluateRequest(BaseModel):
    count: int = Field(3, ge=1, le=50, description="how many new evaluations, each with a new sampling seed")


class ReevaluationsRead(_Read):
    runs: list[RunRead]
    warning: str | None
