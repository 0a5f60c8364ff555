"""Benchmarks, training sets, judges and base models a user can pick from."""

from sqlalchemy.orm import Session

from backend.catalog.adapters import BenchmarkFormatError, parse_benchmark
from backend.catalog.base_models import EMBEDDED_MODELS
from backend.catalog.builtin import (
    BUILTIN_BENCHMARKS,
    BUILTIN_TRAINING_SETS,
    benchmark_records,
    training_records,
)
from backend.catalog.judges import JUDGES
from backend.catalog.training_sets import TrainingSetFormatError, parse_training_jsonl
from backend.errors import InvalidInput
from backend.repositories import catalog as repository
from backend.schemas import BenchmarkRead, CatalogRead, JudgeRead, ModelOptionRead, TrainingSetRead


def ensure_builtins(session: Session) -> None:
    """Store the shipped datasets if they are not stored yet (idempotent; run at start-up)."""
    for dataset in BUILTIN_BENCHMARKS:
        repository.add_benchmark(
            session,
            project_id=None,
            name=dataset.name,
            version=dataset.version,
            source="builtin",
            description=dataset.description,
            records=benchmark_records(dataset),
        )
    for dataset in BUILTIN_TRAINING_SETS:
        repository.add_training_set(
            session,
            project_id=None,
            name=dataset.name,
            version=dataset.version,
            source="builtin",
            description=dataset.description,
            records=training_records(dataset),
        )


def catalog(session: Session, project_ids: list[int]) -> CatalogRead:
    """The built-in datasets and those of the given projects (each says its project)."""
    return CatalogRead(
        models=[ModelOptionRead(name=name, description=text) for name, text in EMBEDDED_MODELS.items()],
        benchmarks=repository.list_benchmarks(session, project_ids),
        training_sets=repository.list_training_sets(session, project_ids),
        judges=[
            JudgeRead(name=j.name, version=j.version, description=j.description) for j in JUDGES.values()
        ],
    )


def import_benchmark(
    session: Session,
    *,
    project_id: int,
    name: str,
    version: str,
    format: str,
    text: str,
    description: str = "",
) -> BenchmarkRead:
    try:
        records = parse_benchmark(text, format)
    except BenchmarkFormatError as error:
        raise InvalidInput(f"benchmark file not readable as {format}: {error}") from None
    return repository.add_benchmark(
        session,
        project_id=project_id,
        name=name,
        version=version,
        source=format,
        description=description,
        records=records,
    )


def import_training_set(
    session: Session, *, project_id: int, name: str, version: str, text: str, description: str = ""
) -> TrainingSetRead:
    try:
        records = parse_training_jsonl(text)
    except TrainingSetFormatError as error:
        raise InvalidInput(str(error)) from None
    return repository.add_training_set(
        session,
        project_id=project_id,
        name=name,
        version=version,
        source="jsonl",
        description=description,
        records=records,
    )
