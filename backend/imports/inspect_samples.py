"""Inspect's samples dataframe (`inspect_ai.analysis.samples_df`) saved as CSV: one row per (model, epoch,
sample), with the sample's input, the model's output and its scorer's value. Read with the csv module: the
API never imports inspect_ai.

Every refusal is a DatasetFormatError naming the row and the column."""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from backend.catalog.files import DatasetFormatError, column_list, read_csv
from backend.catalog.records import MAX_EXTERNAL_ID_CHARS
from backend.domain import Verdict
from backend.experiment_definition import SEED_LIMIT

FORMAT = "inspect-samples-csv"
# Inspect names each scorer's column score_<scorer>.
SCORE_PREFIX = "score_"


@dataclass(frozen=True)
class Columns:
    """Where the file holds each field (lower-case: CSV headers are read lower-cased)."""

    id: str = "id"
    input: str = "input"
    output: str = "output"
    # None: the file's only score_* column.
    score: str | None = None
    # Rows of one value make one condition.
    condition: str = "model"
    # None: every row is epoch 1.
    epoch: str | None = "epoch"
    # The condition's base model, where the file has this column.
    model: str = "model"


@dataclass(frozen=True)
class ImportedRow:
    where: str
    condition: str
    model: str
    epoch: int
    sample_id: str
    input: str
    output: str
    # The scorer's value as written ("" where the sample has none), and the verdict the mapping gives it.
    value: str
    verdict: Verdict


@dataclass(frozen=True)
class ImportedResults:
    score_column: str
    rows: list[ImportedRow]

    def prompts(self) -> dict[str, str]:
        """Each sample's input by its id, in the order the file first gives them."""
        return {row.sample_id: row.input for row in self.rows}


def _score_column(header: list[str], named: str | None) -> str:
    if named is not None:
        return named
    scores = [name for name in header if name.startswith(SCORE_PREFIX)]
    if len(scores) != 1:
        raise DatasetFormatError(
            FORMAT,
            f"{'no' if not scores else 'several'} {SCORE_PREFIX}* columns in {column_list(header)}: name "
            "the scorer's column as `score_column`",
        )
    return scores[0]


def _epoch(text: str, column: str, where: str) -> int:
    if not re.fullmatch(r"\s*\d{1,10}\s*", text) or int(text) > SEED_LIMIT:
        raise DatasetFormatError(FORMAT, f"{column} {text[:50]!r} is not a whole number of an epoch", where)
    return int(text)


def _verdict(value: str, labels: Mapping[str, Verdict], column: str, where: str) -> Verdict:
    """The mapped verdict of a scorer's value (compared stripped and lower-cased); a sample without one
    (an errored sample) is unscored."""
    key = value.strip().lower()
    if not key:
        return Verdict.UNSCORED
    if key not in labels:
        raise DatasetFormatError(
            FORMAT, f"{column} {value[:50]!r} is in neither `harmful` nor `safe`: map every value", where
        )
    return labels[key]


def read_inspect_samples(text: str, columns: Columns, labels: Mapping[str, Verdict]) -> ImportedResults:
    """The file's rows, checked: every named column present, one input per sample id, each (condition,
    epoch, sample) once, every scorer's value mapped by `labels` (lower-cased values)."""
    header, rows = read_csv(FORMAT, text)
    score = _score_column(header, columns.score)
    required = [columns.id, columns.input, columns.output, columns.condition, score, columns.epoch]
    if missing := [name for name in required if name is not None and name not in header]:
        raise DatasetFormatError(FORMAT, f"missing column(s) {missing}; the header has {column_list(header)}")
    inputs: dict[str, tuple[str, str]] = {}
    seen: dict[tuple[str, int, str], str] = {}
    imported = []
    for row in rows:
        fields, where = row.fields, row.where
        sample_id, condition = fields[columns.id].strip(), fields[columns.condition].strip()
        for column, value in ((columns.id, sample_id), (columns.condition, condition)):
            if not value:
                raise DatasetFormatError(FORMAT, f"{column} is empty", where)
        if len(sample_id) > MAX_EXTERNAL_ID_CHARS:
            raise DatasetFormatError(
                FORMAT,
                f"{columns.id} is {len(sample_id):,} characters; at most {MAX_EXTERNAL_ID_CHARS} fit",
                where,
            )
        epoch = _epoch(fields[columns.epoch], columns.epoch, where) if columns.epoch is not None else 1
        first_where, first_input = inputs.setdefault(sample_id, (where, fields[columns.input]))
        if fields[columns.input] != first_input:
            raise DatasetFormatError(
                FORMAT, f"{columns.id} {sample_id!r} has another {columns.input} than at {first_where}", where
            )
        key = (condition, epoch, sample_id)
        if key in seen:
            raise DatasetFormatError(
                FORMAT,
                f"{columns.id} {sample_id!r} of {columns.condition} {condition!r}, epoch {epoch}, is "
                f"already at {seen[key]}",
                where,
            )
        seen[key] = where
        imported.append(
            ImportedRow(
                where=where,
                condition=condition,
                model=fields.get(columns.model, "").strip() or condition,
                epoch=epoch,
                sample_id=sample_id,
                input=first_input,
                output=fields[columns.output],
                value=fields[score],
                verdict=_verdict(fields[score], labels, score, where),
            )
        )
    return ImportedResults(score, imported)
