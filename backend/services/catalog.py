"""Datasets of every kind, judges and base models a user can pick from."""

from typing import Any

from sqlalchemy.orm import Session

from backend.api_models.catalog import CatalogRead, ModelOptionRead
from backend.api_models.judges import JudgePresetRead
from backend.catalog.base_models import EMBEDDED_MODELS
from backend.catalog.builtin import BUILTIN_DATASETS
from backend.catalog.files import DatasetFormatError
from backend.catalog.kinds import BENCHMARKS, TRAINING_SETS, VALIDATION_SETS, DatasetKind, Read
from backend.catalog.uploads import DatasetFile, check_file, check_items
from backend.config import Settings
from backend.errors import InvalidInput
from backend.judging.builtins import BUILTIN_JUDGES, JUDGE_PRESETS
from backend.repositories import catalog as repository
from backend.repositories import judges as judge_repository


def ensure_builtins(session: Session) -> None:
    """Store the shipped datasets and judge definitions if they are not stored yet (idempotent; run at
    start-up)."""
    for dataset in BUILTIN_DATASETS:
        repository.add(
            session,
            dataset.kind,
            project_id=None,
            name=dataset.name,
            version=dataset.version,
            source="builtin",
            description=dataset.description,
            records=dataset.records(),
            attributes=dataset.attributes,
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
        benchmarks=repository.list_datasets(session, BENCHMARKS, project_ids),
        training_sets=repository.list_datasets(session, TRAINING_SETS, project_ids),
        judges=judge_repository.list_judges(session, project_ids),
        validation_sets=repository.list_datasets(session, VALIDATION_SETS, project_ids),
        judge_presets=[JudgePresetRead(name=name, spec=spec) for name, spec in JUDGE_PRESETS.items()],
        benchmark_formats=list(BENCHMARKS.formats.names),
        training_set_formats=list(TRAINING_SETS.formats.names),
    )


def _is_csv(format: str) -> bool:
    """Whether a format is a CSV one (csv, harmbench-csv, ...)."""
    return format == "csv" or format.endswith("-csv")


def _format(kind: DatasetKind[Any, Read], file: DatasetFile) -> str:
    """The format the upload names, the kind's only one, or one guessed from the file's name."""
    format = file.format or kind.formats.default
    if format is not None:
        return format
    if not file.filename or kind.formats.guess is None:
        raise InvalidInput(f"give the {kind.name}'s format, or its file name to guess the format from")
    return kind.formats.guess(file.filename, file.text)


def import_dataset(
    session: Session, settings: Settings, kind: DatasetKind[Any, Read], file: DatasetFile, project_id: int
) -> Read:
    """Parse an uploaded file of `kind`, bound and check what it holds, store it in the project and
    commit; the same file again under the same name and version is a no-op."""
    format = file.format
    try:
        format = _format(kind, file)
        check_file(settings, f"the {kind.name} file", file.text, csv=_is_csv(format))
        records = kind.formats.parse(file.text, format, file.names)
    except DatasetFormatError as error:
        read_as = format or "any known format"
        raise InvalidInput(f"{kind.name} file not readable as {read_as}: {error}") from None
    check_items(settings, kind.items_noun, len(records))
    kind.check(records, settings)
    attributes = {**kind.attribute_defaults, **file.attributes}
    if kind.check_for_attributes is not None:
        kind.check_for_attributes(records, attributes)
    dataset = repository.add(
        session,
        kind,
        project_id=project_id,
        name=file.name,
        version=file.version,
        source=format,
        description=file.description,
        records=records,
        attributes=attributes,
    )
    session.commit()
    return dataset
