"""Reading dataset files: the one JSONL reader and the one CSV reader of benchmarks, training sets,
validation sets and the alignment data, a reader of JSON arrays (Alpaca's files), and the error they raise.

Each accepts a UTF-8 byte-order mark and Windows line endings. JSONL is split on "\\n" only: str.splitlines
would also break at U+2028 and other separators, which a JSON string may hold raw.
"""

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.parsing import DocumentRefused, load_json


class DatasetFormatError(ValueError):
    """A file that does not match its format; the message says which format, where and what is wrong."""

    def __init__(self, format: str | None, problem: str, where: str | None = None) -> None:
        self.format = format  # None when the format itself could not be told
        self.where = where
        self.problem = problem
        super().__init__(": ".join(part for part in (format, where, problem) if part))


@dataclass
class SeenIds:
    """The item ids a file has given so far: an id given twice is an error at its second place."""

    format: str
    first_seen: dict[str, str] = field(default_factory=dict)

    def add(self, external_id: str, where: str) -> None:
        if external_id in self.first_seen:
            raise DatasetFormatError(
                self.format, f"duplicate id {external_id!r} (first at {self.first_seen[external_id]})", where
            )
        self.first_seen[external_id] = where


# --- JSONL -----------------------------------------------------------------------------------------


def read_jsonl(format: str, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, object) for each non-blank line; a line that is not a JSON object is an error."""
    for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            obj = load_json(line)
        except json.JSONDecodeError as exc:
            raise DatasetFormatError(format, f"invalid JSON ({exc.msg}, column {exc.colno})", where) from exc
        except DocumentRefused as exc:
            raise DatasetFormatError(format, str(exc), where) from None
        if not isinstance(obj, dict):
            raise DatasetFormatError(format, f"expected a JSON object, got {type(obj).__name__}", where)
        yield where, obj


def read_json_array(format: str, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, object) for each item of a JSON array of objects ("item 3": the array's third)."""
    try:
        document = load_json(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(
            format, f"invalid JSON ({exc.msg}, column {exc.colno})", f"line {exc.lineno}"
        ) from exc
    except DocumentRefused as exc:
        raise DatasetFormatError(format, str(exc)) from None
    if not isinstance(document, list):
        raise DatasetFormatError(format, f"expected a JSON array, got {type(document).__name__}")
    for number, obj in enumerate(document, start=1):
        where = f"item {number}"
        if not isinstance(obj, dict):
            raise DatasetFormatError(format, f"expected a JSON object, got {type(obj).__name__}", where)
        yield where, obj


def string_field(format: str, where: str, obj: dict[str, Any], key: str, *, number_ok: bool = False) -> str:
    """obj[key] as a string ("" if absent or null); integers too where `number_ok` (ids)."""
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if number_ok and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise DatasetFormatError(format, f"{key!r} must be a string, got {type(value).__name__}", where)


# --- CSV -------------------------------------------------------------------------------------------

# Column names an error message lists at most (a header may be very wide).
_LISTED_COLUMNS = 20


def column_list(header: Sequence[str]) -> str:
    """The header's names for a message, the first few of a wide header and how many more there are."""
    if len(header) <= _LISTED_COLUMNS:
        return repr(list(header))
    return f"{list(header[:_LISTED_COLUMNS])!r} and {len(header) - _LISTED_COLUMNS:,} more"


@dataclass(frozen=True)
class CsvRow:
    where: str
    number: int  # 1-based among data rows, for positional ids
    fields: dict[str, str]  # keyed by lower-cased, stripped header names


def _csv_body(text: str) -> tuple[int, list[str]]:
    """The physical lines after a UTF-8 BOM and leading `#` comment lines, and how many were skipped."""
    # newline="" keeps line endings inside quoted fields intact, as the csv module expects.
    lines = list(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    skipped = 0
    while skipped < len(lines) and lines[skipped].startswith("#"):
        skipped += 1
    return skipped, lines[skipped:]


def csv_header(text: str) -> list[str]:
    """The header's column names, lower-cased and stripped; empty if there is no header."""
    _, lines = _csv_body(text)
    try:
        header = next((row for row in csv.reader(lines) if row), [])
    except csv.Error as exc:  # a field over the csv module's size limit, a NUL
        raise DatasetFormatError("csv", f"malformed CSV header ({exc})") from exc
    return [name.strip().lower() for name in header]


def read_csv(format: str, text: str, required: tuple[str, ...] = ()) -> tuple[list[str], list[CsvRow]]:
    """Header and data rows of a CSV file; blank lines are not rows. Raises on any malformed row."""
    skipped, lines = _csv_body(text)
    # strict: an unclosed quote would otherwise swallow the rest of the file into one field.
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    rows: list[CsvRow] = []
    while True:
        line = skipped + reader.line_num + 1  # where the next record starts: fields may span lines
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DatasetFormatError(format, f"malformed CSV ({exc})", f"line {line}") from exc
        if not values:
            continue
        if header is None:
            header = [name.strip().lower() for name in values]
            # Counted once (linear): header.count() per name was quadratic in the number of columns.
            duplicated = sorted(name for name, count in Counter(header).items() if count > 1)
            if duplicated:
                raise DatasetFormatError(
                    format, f"duplicate column(s) {column_list(duplicated)}", f"line {line}"
                )
            columns = set(header)
            missing = [name for name in required if name not in columns]
            if missing:
                raise DatasetFormatError(
                    format,
                    f"missing column(s) {missing}; the header has {column_list(header)}",
                    f"line {line}",
                )
            continue
        where = f"row {len(rows) + 1} (line {line})"
        if len(values) != len(header):
            raise DatasetFormatError(
                format, f"{len(values)} fields, but the header has {len(header)} columns", where
            )
        rows.append(CsvRow(where, len(rows) + 1, dict(zip(header, values, strict=True))))
    if header is None:
        raise DatasetFormatError(format, "empty file: no header and no rows")
    if not rows:
        raise DatasetFormatError(format, "no rows after the header")
    return header, rows
