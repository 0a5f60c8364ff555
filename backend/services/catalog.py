"""Benchmarks, training sets, validation sets, judges and base models a user can pick from."""

from sqlalchemy.orm import Session

from backend.catalog.adapters import FieldNames, parse_benchmark
from backend.catalog.base_models import EMBEDDED_MODELS
from backend.catalog.builtin import (
    BUILTIN_BENCHMARKS,
    BUILTIN_TRAINING_SETS,
    BUILTIN_VALIDATION_SETS,
    benchmark_records,
    training_records,
    validation_records,
)
from backend.catalog.files import DatasetFormatError
from backend.catalog.judges import BUILTIN_JUDGES, JUDGE_PRESETS
from backend.catalog.training_sets import parse_training_jsonl
from backend.catalog.validation_sets import parse_validation_set
from backend.errors import InvalidInput
from backend.repositories import catalog as repository
from backend.repositories import judges as judge_repository
from backend.schemas import (
    BenchmarkRead,
    CatalogRead,
    JudgePresetRead,
    ModelOptionRead,
    TrainingSetRead,
    ValidationSetRead,
)


def ensure_builtins(session: Session) -> None:
    """Store the shipped datasets and judge definitions if they are not stored yet (idempotent; run at
    start-up)."""
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
    for dataset, format, measures in BUILTIN_VALIDATION_SETS:
        repository.add_validation_set(
            session,
            project_id=None,
            name=dataset.name,
            version=dataset.version,
            source="builtin",
            description=dataset.description,
            measures=measures,
            records=validation_records(dataset, format),
        )
    for judge in BUILTIN_JUDGES:
        judge_repository.add_definition(
            session,
            project_id=None,
            name=judge.name,
            description=judge.description,
            config=judge.config,
            version=judge.version,
        )


def catalog(session: Session, project_ids: list[int]) -> CatalogRead:
    """The built-ins and the given projects' own (each says its project)."""
    return CatalogRead(
        models=[ModelOptionRead(name=name, description=text) for name, text in EMBEDDED_MODELS.items()],
        benchmarks=repository.list_benchmarks(session, project_ids),
        training_sets=repository.list_training_sets(session, project_ids),
        judges=judge_repository.list_judges(session, project_ids),
        validation_sets=repository.list_validation_sets(session, project_ids),
        judge_presets=[JudgePresetRead(name=name, spec=spec) for name, spec in JUDGE_PRESETS.items()],
    )


def _readable(what: str, format: str, error: DatasetFormatError) -> InvalidInput:
    return InvalidInput(f"{what} file not readable as {format}: {error}")


def import_benchmark(
    session: Session,
    *,
    project_id: int,
    name: str,
    version: str,
    format: str,
    text: str,
    description: str = "",
    names: FieldNames | None = None,
) -> BenchmarkRead:
    try:
        records = parse_benchmark(text, format, names)
    except DatasetFormatError as error:
        raise _readable("benchmark", format, error) from None
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
    except DatasetFormatError as error:
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


def import_validation_set(
    session: Session,
    *,
    project_id: int,
    name: str,
    version: str,
    format: str,
    measures: str,
    text: str,
    description: str = "",
) -> ValidationSetRead:
    try:
        records = parse_validation_set(text, format)
    except DatasetFormatError as error:
        raise _readable("validation set", format, error) from None
    return repository.add_validation_set(
        session,
        project_id=project_id,
        name=name,
        version=version,
        source=format,
        description=description,
        measures=measures,
        records=records,
    )
