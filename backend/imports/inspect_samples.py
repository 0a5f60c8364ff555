"""Inspect's samples dataframe (`inspect_ai.analysis.samples_df`) saved as CSV: one row per (model, epoch,
sample), with the sample's input, the model's output and its scorer's value. Read with the csv module: the
API never imports inspect_ai.

Every refusal is a DatasetFormatError naming the row and the column."""

from collections.abc import Mapping
from dataclasses import dataclass

from backend.catalog.files import DatasetFormatError, column_list, read_csv
from backend.domain import Verdict
from backend.imports.results import (
    CheckedRows,
    FieldNames,
    ImportedResults,
    ImportedRow,
    mapped_verdict,
    whole_number,
)

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


def _verdict(value: str, labels: Mapping[str, Verdict], column: str, where: str) -> Verdict:
    """The mapped verdict of a scorer's value (compared stripped and lower-cased); a sample without one
    (an errored sample) is unscored."""
    key = value.strip().lower()
    if not key:
        return Verdict.UNSCORED
    return mapped_verdict(FORMAT, labels, key, column, value, where)


def read_inspect_samples(text: str, columns: Columns, labels: Mapping[str, Verdict]) -> ImportedResults:
    """The file's rows, checked: every named column present, one input per sample id, each (condition,
    epoch, sample) once, every scorer's value mapped by `labels` (lower-cased values)."""
    header, rows = read_csv(FORMAT, text)
    score = _score_column(header, columns.score)
    required = [columns.id, columns.input, columns.output, columns.condition, score, columns.epoch]
    if missing := [name for name in required if name is not None and name not in header]:
        raise DatasetFormatError(FORMAT, f"missing column(s) {missing}; the header has {column_list(header)}")
    checked = CheckedRows(
        FORMAT,
        FieldNames(
            id=columns.id, input=columns.input, condition=columns.condition, epoch=columns.epoch or "epoch"
        ),
    )
    for row in rows:
        fields, where = row.fields, row.where
        condition = fields[columns.condition].strip()
        if not condition:
            raise DatasetFormatError(FORMAT, f"{columns.condition} is empty", where)
        checked.add(
            ImportedRow(
                where=where,
                condition=condition,
                model=fields.get(columns.model, "").strip() or condition,
                epoch=whole_number(FORMAT, fields[columns.epoch], columns.epoch, where)
                if columns.epoch is not None
                else 1,
                sample_id=fields[columns.id].strip(),
                sample_index=0,
                input=fields[columns.input],
                output=fields[columns.output],
                value=fields[score],
                verdict=_verdict(fields[score], labels, score, where),
            )
        )
    return ImportedResults(score, f"Inspect's scorer column {score}", checked.rows)
