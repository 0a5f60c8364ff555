"""Benchmarks, training sets, judges and base models a user can pick from."""

from collections.abc import Sequence

from sqlalchemy.orm import Session

from backend.catalog.adapters import BENCHMARK_FORMATS, BenchmarkFormatError, guess_format, parse_benchmark
from backend.catalog.base_models import EMBEDDED_MODELS
from backend.catalog.builtin import (
    BUILTIN_BENCHMARKS,
    BUILTIN_TRAINING_SETS,
    benchmark_records,
    training_records,
)
from backend.catalog.judges import JUDGES
from backend.catalog.records import MAX_CATEGORY_CHARS, MAX_EXTERNAL_ID_CHARS, ExampleRecord, PromptRecord
from backend.catalog.training_sets import TrainingSetFormatError, parse_training_jsonl
from backend.config import Settings
from backend.errors import InvalidInput
from backend.limits import enforce
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
        benchmark_formats=list(BENCHMARK_FORMATS),
    )


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _check_text(where: str, field: str, value: str) -> None:
    if "\x00" in value:
        raise InvalidInput(f"{where}: the {field} contains a NUL character, which cannot be stored")


def check_prompts(records: Sequence[PromptRecord], settings: Settings) -> None:
    """Every prompt fits its columns and the configured length limit."""
    for position, record in enumerate(records, start=1):
        where = f"prompt {position} (id {_short(record.external_id)})"
        for field, value in (
            ("id", record.external_id),
            ("text", record.text),
            ("category", record.category),
        ):
            _check_text(where, field, value)
        for field, value, width in (
            ("id", record.external_id, MAX_EXTERNAL_ID_CHARS),
            ("category", record.category, MAX_CATEGORY_CHARS),
        ):
            if len(value) > width:
                raise InvalidInput(f"{where}: the {field} is {len(value):,} characters; at most {width} fit")
        enforce(settings, "max_prompt_chars", len(record.text), f"the length of {where} in characters")


def check_examples(records: Sequence[ExampleRecord], settings: Settings) -> None:
    for position, record in enumerate(records, start=1):
        for field, value in (("prompt", record.prompt), ("response", record.response)):
            _check_text(f"example {position}", field, value)
            enforce(
                settings,
                "max_example_chars",
                len(value),
                f"the length of example {position}'s {field} in characters",
            )


def import_benchmark(
    session: Session,
    settings: Settings,
    *,
    project_id: int,
    name: str,
    version: str,
    format: str | None,
    text: str,
    filename: str | None = None,
    description: str = "",
) -> BenchmarkRead:
    """Parse, check and store a benchmark file; the format is guessed from `filename` when not given."""
    try:
        if format is None:
            if not filename:
                raise InvalidInput("give the benchmark's format, or its file name to guess the format from")
            format = guess_format(filename, text)
        records = parse_benchmark(text, format)
    except BenchmarkFormatError as error:
        raise InvalidInput(
            f"benchmark file not readable as {format or 'any known format'}: {error}"
        ) from None
    check_prompts(records, settings)
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
    session: Session,
    settings: Settings,
    *,
    project_id: int,
    name: str,
    version: str,
    text: str,
    description: str = "",
) -> TrainingSetRead:
    try:
        records = parse_training_jsonl(text)
    except TrainingSetFormatError as error:
        raise InvalidInput(str(error)) from None
    check_examples(records, settings)
    return repository.add_training_set(
        session,
        project_id=project_id,
        name=name,
        version=version,
        source="jsonl",
        description=description,
        records=records,
    )
