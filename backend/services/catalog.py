"""Benchmarks, training sets, validation sets, judges and base models a user can pick from."""

from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from backend.api_models.catalog import (
    BenchmarkRead,
    CatalogRead,
    ModelOptionRead,
    TrainingSetRead,
    ValidationSetRead,
)
from backend.api_models.judges import JudgePresetRead
from backend.catalog.adapters import BENCHMARK_FORMATS, FieldNames, guess_format, parse_benchmark
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
from backend.catalog.records import (
    MAX_CATEGORY_CHARS,
    MAX_EXTERNAL_ID_CHARS,
    ExampleRecord,
    LabelledRecord,
    PromptRecord,
)
from backend.catalog.training_sets import parse_training_jsonl
from backend.catalog.uploads import check_file, check_items
from backend.catalog.validation_sets import parse_validation_set
from backend.config import Settings
from backend.errors import InvalidInput
from backend.judging.builtins import BUILTIN_JUDGES, JUDGE_PRESETS
from backend.limits import enforce
from backend.repositories import catalog as repository
from backend.repositories import judges as judge_repository


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
        benchmark_formats=list(BENCHMARK_FORMATS),
    )


def _is_csv(format: str) -> bool:
    """Whether a benchmark or validation set format is a CSV one (csv, harmbench-csv, ...)."""
    return format == "csv" or format.endswith("-csv")


def _readable(what: str, format: str, error: DatasetFormatError) -> InvalidInput:
    return InvalidInput(f"{what} file not readable as {format}: {error}")


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


def _check_text_pairs(what: str, pairs: Iterable[dict[str, str]], settings: Settings) -> None:
    """Each text of each item storable and within max_example_chars; `what` names an item."""
    for position, texts in enumerate(pairs, start=1):
        for field, value in texts.items():
            _check_text(f"{what} {position}", field, value)
            enforce(
                settings,
                "max_example_chars",
                len(value),
                f"the length of {what} {position}'s {field} in characters",
            )


def check_examples(records: Sequence[ExampleRecord], settings: Settings) -> None:
    _check_text_pairs("example", ({"prompt": r.prompt, "response": r.response} for r in records), settings)


def check_pairs(records: Sequence[LabelledRecord], settings: Settings) -> None:
    _check_text_pairs("pair", ({"request": r.request, "response": r.response} for r in records), settings)


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
    names: FieldNames | None = None,
) -> BenchmarkRead:
    """Parse, check and store a benchmark file; the format is guessed from `filename` when not given."""
    try:
        if format is None:
            if not filename:
                raise InvalidInput("give the benchmark's format, or its file name to guess the format from")
            format = guess_format(filename, text)
        check_file(settings, "the benchmark file", text, csv=_is_csv(format))
        records = parse_benchmark(text, format, names)
    except DatasetFormatError as error:
        raise _readable("benchmark", format or "any known format", error) from None
    check_items(settings, "prompts", len(records))
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
        check_file(settings, "the training set file", text, csv=False)
        records = parse_training_jsonl(text)
    except DatasetFormatError as error:
        raise InvalidInput(str(error)) from None
    check_items(settings, "examples", len(records))
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


def import_validation_set(
    session: Session,
    settings: Settings,
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
        check_file(settings, "the validation set file", text, csv=_is_csv(format))
        records = parse_validation_set(text, format)
    except DatasetFormatError as error:
        raise _readable("validation set", format, error) from None
    check_items(settings, "labelled pairs", len(records))
    check_pairs(records, settings)
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
