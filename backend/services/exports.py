"""An experiment as the long table, one row per (generation, judge), written as CSV or Parquet while it is
read, chunk by chunk: a million judgments never sit in memory at once (bench/export_memory.py measures it).

Each row: the condition, the run and its four seeds, the re-evaluation and sample, the prompt's external id
and category, the response's length, the judge's verdict and score, then the condition's setup (base model,
revision, pinned training set) and settings, one column per field of backend.experiment_definition' LoRA,
training and generation specs (a nested group's field by field: training_self_generation_temperature).
"""

import csv
import io
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import reduce
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from backend.experiment_definition import StoredCondition
from backend.repositories import exports as repository

Kind = Literal["str", "int", "float", "bool"]
CHUNK_ROWS = 10_000
# Only a fine-tuned condition has LoRA and training settings; a baseline's stored defaults mean nothing.
FINE_TUNING_GROUPS = ("lora", "training")
# The run's four seeds are columns of their own: the pins that produced them add nothing.
SETTINGS_SKIPPED = ("pin_seeds",)


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind


def _unwrap(annotation: Any) -> Any:
    """int | None -> int, Annotated[str, ...] -> str."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return _unwrap(next(arg for arg in get_args(annotation) if arg is not type(None)))
    return annotation


def _kind(annotation: Any) -> Kind:
    python_type = _unwrap(annotation)
    if get_origin(python_type) is list:
        return "str"  # written joined by commas
    return {bool: "bool", int: "int", float: "float"}.get(python_type, "str")  # type: ignore[return-value]


def _setting_groups() -> list[tuple[str, type[BaseModel]]]:
    groups = []
    for name, field in StoredCondition.model_fields.items():
        spec_type = _unwrap(field.annotation)
        if name not in SETTINGS_SKIPPED and isinstance(spec_type, type) and issubclass(spec_type, BaseModel):
            groups.append((name, spec_type))
    return groups


def _setting_fields(spec_type: type[BaseModel]) -> list[tuple[tuple[str, ...], Any]]:
    """(path, annotation) of each setting of a group, a nested group's (training.self_generation) field by
    field."""
    fields: list[tuple[tuple[str, ...], Any]] = []
    for name, field in spec_type.model_fields.items():
        nested = _unwrap(field.annotation)
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            fields += [((name, *path), annotation) for path, annotation in _setting_fields(nested)]
        else:
            fields.append(((name,), field.annotation))
    return fields


def setting_columns() -> list[Column]:
    columns = [
        Column("finetuned", "bool"),
        Column("base_model", "str"),
        Column("base_model_revision", "str"),
        Column("training_set", "str"),
    ]
    for group, spec_type in _setting_groups():
        columns += [
            Column("_".join((group, *path)), _kind(annotation))
            for path, annotation in _setting_fields(spec_type)
        ]
    return columns


COLUMNS = [Column(name, kind) for name, kind in repository.JUDGMENT_COLUMNS.items()] + setting_columns()


def _setting_values(spec: StoredCondition, is_baseline: bool, training_set: str) -> tuple:
    values: list[Any] = [
        not is_baseline,
        spec.base_model,
        spec.base_model_revision,
        None if is_baseline else training_set,
    ]
    for group, spec_type in _setting_groups():
        settings = getattr(spec, group)
        for path, _ in _setting_fields(spec_type):
            value = None if is_baseline and group in FINE_TUNING_GROUPS else reduce(getattr, path, settings)
            values.append(",".join(value) if isinstance(value, list) else value)
    return tuple(values)


def condition_settings(session: Session, experiment_id: int) -> dict[int, tuple]:
    """The settings columns of each of the experiment's conditions; NotFound if there is no experiment."""
    return {
        condition_id: _setting_values(*condition)
        for condition_id, condition in repository.conditions_of(session, experiment_id).items()
    }


def _rows(
    factory: sessionmaker[Session], experiment_id: int, settings: dict[int, tuple], chunk_size: int
) -> Iterator[list[tuple]]:
    """Output rows, a chunk at a time, from a session of their own (the stream outlives the request's)."""
    with factory() as session:
        for chunk in repository.judgment_chunks(session, experiment_id, chunk_size):
            yield [(*values, *settings[condition_id]) for condition_id, values in chunk]


# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def csv_text(value: Any) -> Any:
    """A text cell as a spreadsheet shows it, never as a formula: one starting with = + - @ tab or CR gets
    a leading single quote. Numbers and missing values are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_row_escaper(columns: list[Column]) -> Callable[[tuple], tuple]:
    """Escapes the text cells among a row's first len(columns) cells; a row that needs none is kept."""
    text_positions = [index for index, column in enumerate(columns) if column.kind == "str"]

    def escape(row: tuple) -> tuple:
        if not any(isinstance(row[i], str) and row[i].startswith(FORMULA_STARTS) for i in text_positions):
            return row
        return tuple(csv_text(v) if i in text_positions else v for i, v in enumerate(row))

    return escape


def csv_stream(
    factory: sessionmaker[Session],
    experiment_id: int,
    settings: dict[int, tuple],
    chunk_size: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """UTF-8 CSV with a header; empty fields are missing values, booleans true/false; text cells that a
    spreadsheet would run as a formula are escaped (`csv_text`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.name for column in COLUMNS])
    # Only the settings hold booleans: formatted (and escaped) once per condition, not once per row.
    setting_columns = COLUMNS[len(repository.JUDGMENT_COLUMNS) :]
    escape_settings = _csv_row_escaper(setting_columns)
    formatted = {
        key: escape_settings(tuple(_csv_value(value) for value in values)) for key, values in settings.items()
    }
    # The rows' own text columns come first; their settings, at the end, are escaped already.
    escape_judgment = _csv_row_escaper(COLUMNS[: len(repository.JUDGMENT_COLUMNS)])
    for chunk in _rows(factory, experiment_id, formatted, chunk_size):
        writer.writerows(map(escape_judgment, chunk))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


class Drain:
    """A write-only file (for pyarrow's ParquetWriter, for zipfile) that hands back what was written since
    last asked."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def parquet_stream(
    factory: sessionmaker[Session],
    experiment_id: int,
    settings: dict[int, tuple],
    chunk_size: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """Parquet, one row group per chunk, typed columns (int64, float64, bool, string; nulls allowed)."""
    # Imported here, not at start-up: the API process loads pyarrow only when someone exports.
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow_types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    schema = pa.schema([pa.field(column.name, arrow_types[column.kind]) for column in COLUMNS])
    sink = Drain()
    writer = pq.ParquetWriter(sink, schema)
    try:
        for chunk in _rows(factory, experiment_id, settings, chunk_size):
            columns = zip(*chunk, strict=True)
            arrays = [
                pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            yield sink.take()
    finally:
        writer.close()
    yield sink.take()
