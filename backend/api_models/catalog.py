"""The catalog the forms offer: datasets (benchmarks, training sets, validation sets) and models."""

from backend.api_models.base import ReadModel
from backend.api_models.judges import JudgeDefinitionRead, JudgePresetRead
from backend.judging.definition import Measured


class _DatasetRead(ReadModel):
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


class ValidationSetRead(_DatasetRead):
    # What its label "harmful" means: "harm" or "compliance".
    measures: Measured
    n_examples: int
    n_harmful: int
    categories: list[str]


class ModelOptionRead(ReadModel):
    name: str
    description: str


class CatalogRead(ReadModel):
    models: list[ModelOptionRead]
    benchmarks: list[BenchmarkRead]
    training_sets: list[TrainingSetRead]
    # The newest version of each judge definition you can use, built-ins first.
    judges: list[JudgeDefinitionRead]
    validation_sets: list[ValidationSetRead]
    judge_presets: list[JudgePresetRead]
    # What POST /api/benchmarks reads (its `format`).
    benchmark_formats: list[str]
