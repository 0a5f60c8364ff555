"""What every reader of imported results gives back, and the checks they share. Each refusal is a
DatasetFormatError naming the place in the file (`where`) and the field."""

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from backend.catalog.files import DatasetFormatError
from backend.catalog.records import MAX_EXTERNAL_ID_CHARS
from backend.domain import Verdict
from backend.experiment_definition import SEED_LIMIT

Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class ImportedRow:
    where: str
    condition: str
    model: str
    epoch: int
    sample_id: str
    # Which of the run's samples of this prompt (0 where a file has one per prompt).
    sample_index: int
    input: str
    output: str
    # The scorer's value as written ("" where the sample has none), and the verdict the mapping gives it.
    value: str
    verdict: Verdict


@dataclass(frozen=True)
class ImportedResults:
    # The scorer's name in the file (the judge is named after it) and what it is, for the judge's description.
    scorer: str
    described: str
    rows: list[ImportedRow]

    def prompts(self) -> dict[str, str]:
        """Each sample's input by its id, in the order the file first gives them."""
        return {row.sample_id: row.input for row in self.rows}

    def samples_per_prompt(self) -> int:
        return max(row.sample_index for row in self.rows) + 1


@dataclass(frozen=True)
class FieldNames:
    """What a file calls the fields the shared checks name in their messages."""

    id: str
    input: str
    condition: str
    epoch: str
    # None: the format has one sample per prompt, and its messages leave the index out.
    sample_index: str | None = None


@dataclass
class CheckedRows:
    """A file's rows, checked as each is added: a sample id neither empty nor too long, one input per sample
    id, each (condition, epoch, sample id, sample index) once."""

    format: str
    names: FieldNames
    rows: list[ImportedRow] = field(default_factory=list, init=False)
    # Each sample id's first place and input; each key's place.
    _inputs: dict[str, tuple[str, str]] = field(default_factory=dict, init=False, repr=False)
    _seen: dict[tuple[str, int, str, int], str] = field(default_factory=dict, init=False, repr=False)

    def add(self, row: ImportedRow) -> None:
        names, where = self.names, row.where
        if not row.sample_id:
            raise DatasetFormatError(self.format, f"{names.id} is empty", where)
        if len(row.sample_id) > MAX_EXTERNAL_ID_CHARS:
            raise DatasetFormatError(
                self.format,
                f"{names.id} is {len(row.sample_id):,} characters; at most {MAX_EXTERNAL_ID_CHARS} fit",
                where,
            )
        first_where, first_input = self._inputs.setdefault(row.sample_id, (where, row.input))
        if row.input != first_input:
            raise DatasetFormatError(
                self.format,
                f"{names.id} {row.sample_id!r} has another {names.input} than at {first_where}",
                where,
            )
        key = (row.condition, row.epoch, row.sample_id, row.sample_index)
        if key in self._seen:
            sample = f", {names.sample_index} {row.sample_index}" if names.sample_index else ""
            raise DatasetFormatError(
                self.format,
                f"{names.id} {row.sample_id!r} of {names.condition} {row.condition!r}, {names.epoch} "
                f"{row.epoch}{sample}, is already at {self._seen[key]}",
                where,
            )
        self._seen[key] = where
        self.rows.append(row)


def whole_number(format: str, text: str, name: str, where: str) -> int:
    """An epoch, seed or sample index written as text: a whole number that fits a seed."""
    if not re.fullmatch(r"\s*\d{1,10}\s*", text) or int(text) > SEED_LIMIT:
        raise DatasetFormatError(format, f"{name} {text[:50]!r} is not a whole number", where)
    return int(text)


def mapped_verdict(
    format: str, labels: Mapping[Key, Verdict], key: Key, name: str, value: str, where: str
) -> Verdict:
    """The verdict the user's mapping gives a scorer's value (`key`, as the format compares it)."""
    if key not in labels:
        raise DatasetFormatError(
            format, f"{name} {value[:50]!r} is in neither `harmful` nor `safe`: map every value", where
        )
    return labels[key]
