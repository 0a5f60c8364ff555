"""Benchmark adapters: turn a safety benchmark's file, in its original format, into PromptRecords.

Each format is a parser from the file's text to records, registered by name. Every problem is a
BenchmarkFormatError naming the format, where in the file it is, and what is wrong.
"""

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePath

import yaml

from backend.catalog.records import PromptRecord
from backend.parsing import DocumentTooComplex, load_json, load_yaml

DEFAULT_CATEGORY = "uncategorized"
# HarmBench's contextual behaviours: the context comes first, then the request about it.
CONTEXT_SEPARATOR = "\n\n---\n\n"

# Generic CSV: the first of these columns present (case-insensitive) holds the prompt.
_CSV_PROMPT_COLUMNS = ("prompt", "text", "behavior", "goal")
_HARMBENCH_COLUMNS = ("behavior", "semanticcategory", "contextstring", "behaviorid")
_STRONGREJECT_COLUMNS = ("category", "forbidden_prompt")


class BenchmarkFormatError(ValueError):
    """A benchmark file that does not match its format; the message says where and why."""

    def __init__(self, format: str | None, problem: str, where: str | None = None) -> None:
        self.format = format  # None when the format itself could not be told
        self.where = where
        self.problem = problem
        super().__init__(": ".join(part for part in (format, where, problem) if part))


@dataclass(frozen=True)
class _Item:
    """One prompt as read from a file, before validation; `where` locates it for error messages."""

    where: str
    external_id: str
    text: str
    category: str


def _positional_id(prefix: str, position: int) -> str:
    return f"{prefix}-{position:04d}"


def _build_records(format: str, items: Iterable[_Item]) -> list[PromptRecord]:
    """Validate items (non-empty text and id, unique ids, at least one) and make records from them."""
    records: list[PromptRecord] = []
    first_seen: dict[str, str] = {}
    for item in items:
        text, external_id = item.text.strip(), item.external_id.strip()
        if not text:
            raise BenchmarkFormatError(format, "empty prompt", item.where)
        if not external_id:
            raise BenchmarkFormatError(format, "empty id", item.where)
        if external_id in first_seen:
            raise BenchmarkFormatError(
                format, f"duplicate id {external_id!r} (first at {first_seen[external_id]})", item.where
            )
        first_seen[external_id] = item.where
        records.append(PromptRecord(external_id, text, item.category.strip() or DEFAULT_CATEGORY))
    if not records:
        raise BenchmarkFormatError(format, "no prompts in the file")
    return records


# --- CSV -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CsvRow:
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


def _csv_header(text: str) -> list[str]:
    """The header's column names, lower-cased and stripped; empty if there is no header."""
    _, lines = _csv_body(text)
    header = next((row for row in csv.reader(lines) if row), [])
    return [name.strip().lower() for name in header]


def _read_csv(format: str, text: str, required: tuple[str, ...] = ()) -> tuple[list[str], list[_CsvRow]]:
    """Header and data rows of a CSV file; blank lines are not rows. Raises on any malformed row."""
    skipped, lines = _csv_body(text)
    # strict: an unclosed quote would otherwise swallow the rest of the file into one field.
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    rows: list[_CsvRow] = []
    while True:
        line = skipped + reader.line_num + 1  # where the next record starts: fields may span lines
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise BenchmarkFormatError(format, f"malformed CSV ({exc})", f"line {line}") from exc
        if not values:
            continue
        if header is None:
            header = [name.strip().lower() for name in values]
            duplicated = sorted({name for name in header if header.count(name) > 1})
            if duplicated:
                raise BenchmarkFormatError(format, f"duplicate column(s) {duplicated}", f"line {line}")
            missing = [name for name in required if name not in header]
            if missing:
                raise BenchmarkFormatError(
                    format, f"missing column(s) {missing}; the header has {header}", f"line {line}"
                )
            continue
        where = f"row {len(rows) + 1} (line {line})"
        if len(values) != len(header):
            raise BenchmarkFormatError(
                format, f"{len(values)} fields, but the header has {len(header)} columns", where
            )
        rows.append(_CsvRow(where, len(rows) + 1, dict(zip(header, values, strict=True))))
    if header is None:
        raise BenchmarkFormatError(format, "empty file: no header and no rows")
    if not rows:
        raise BenchmarkFormatError(format, "no rows after the header")
    return header, rows


def _parse_harmbench_csv(text: str) -> list[PromptRecord]:
    """HarmBench behaviours CSV; contextual behaviours get their ContextString before the request."""
    _, rows = _read_csv("harmbench-csv", text, _HARMBENCH_COLUMNS)

    def item(row: _CsvRow) -> _Item:
        behavior, context = row.fields["behavior"].strip(), row.fields["contextstring"].strip()
        # An empty behaviour stays empty even with a context, so it is reported rather than hidden.
        prompt = f"{context}{CONTEXT_SEPARATOR}{behavior}" if context and behavior else behavior
        return _Item(row.where, row.fields["behaviorid"], prompt, row.fields["semanticcategory"])

    return _build_records("harmbench-csv", map(item, rows))


def _parse_strongreject_csv(text: str) -> list[PromptRecord]:
    """StrongREJECT CSV (category, source, forbidden_prompt); ids by position."""
    _, rows = _read_csv("strongreject-csv", text, _STRONGREJECT_COLUMNS)
    return _build_records(
        "strongreject-csv",
        (
            _Item(
                row.where,
                _positional_id("strongreject", row.number),
                row.fields["forbidden_prompt"],
                row.fields["category"],
            )
            for row in rows
        ),
    )


def _parse_generic_csv(text: str) -> list[PromptRecord]:
    """Any CSV with a prompt/text/behavior/goal column and optional id and category columns."""
    header, rows = _read_csv("csv", text)
    prompt_column = next((name for name in _CSV_PROMPT_COLUMNS if name in header), None)
    if prompt_column is None:
        raise BenchmarkFormatError(
            "csv", f"no prompt column: expected one of {list(_CSV_PROMPT_COLUMNS)}, the header has {header}"
        )
    return _build_records(
        "csv",
        (
            _Item(
                row.where,
                row.fields.get("id", "").strip() or _positional_id("prompt", row.number),
                row.fields[prompt_column],
                row.fields.get("category", ""),
            )
            for row in rows
        ),
    )


# --- JSONL and YAML --------------------------------------------------------------------------------


def _string_field(format: str, where: str, obj: dict[str, object], key: str) -> str:
    """obj[key] as a string ("" if absent); ints are accepted only for ids."""
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if key == "id" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BenchmarkFormatError(format, f"{key!r} must be a string, got {type(value).__name__}", where)


def _parse_jsonl(text: str) -> list[PromptRecord]:
    """One JSON object per line: prompt (or text), optional id and category; blank lines are skipped."""

    def items() -> Iterable[_Item]:
        position = 0
        # Split on "\n" only: str.splitlines would also break at U+2028, which JSON strings may hold raw.
        for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
            if not line.strip():
                continue
            where = f"line {number}"
            try:
                obj = load_json(line)
            except json.JSONDecodeError as exc:
                raise BenchmarkFormatError(
                    "jsonl", f"invalid JSON ({exc.msg}, column {exc.colno})", where
                ) from exc
            except DocumentTooComplex as exc:
                raise BenchmarkFormatError("jsonl", str(exc), where) from None
            if not isinstance(obj, dict):
                raise BenchmarkFormatError(
                    "jsonl", f"expected a JSON object, got {type(obj).__name__}", where
                )
            if "prompt" not in obj and "text" not in obj:
                raise BenchmarkFormatError("jsonl", "missing key 'prompt' (or 'text')", where)
            position += 1
            yield _Item(
                where,
                _string_field("jsonl", where, obj, "id") or _positional_id("prompt", position),
                _string_field("jsonl", where, obj, "prompt" if "prompt" in obj else "text"),
                _string_field("jsonl", where, obj, "category"),
            )

    return _build_records("jsonl", items())


def _parse_advbench_yaml(text: str) -> list[PromptRecord]:
    """PyRIT's AdvBench seed file: seeds[].value, category = the first of seeds[].harm_categories."""
    format = "advbench-yaml"
    try:
        document = load_yaml(text)
    except DocumentTooComplex as exc:
        raise BenchmarkFormatError(format, str(exc)) from None
    except yaml.YAMLError as exc:
        # MarkedYAMLError carries a one-line problem and its position; str(exc) is a multi-line excerpt.
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise BenchmarkFormatError(
            format, f"invalid YAML ({problem})", f"line {mark.line + 1}" if mark else None
        ) from exc
    seeds = document.get("seeds") if isinstance(document, dict) else None
    if not isinstance(seeds, list):
        raise BenchmarkFormatError(format, "expected a mapping with a 'seeds' list")

    def item(position: int, seed: object) -> _Item:
        where = f"seed {position}"
        if not isinstance(seed, dict):
            raise BenchmarkFormatError(format, f"expected a mapping, got {type(seed).__name__}", where)
        if "value" not in seed:
            raise BenchmarkFormatError(format, "missing key 'value'", where)
        # PyRIT seeds may be images or audio; a text benchmark has no use for them.
        if seed.get("data_type", "text") != "text":
            raise BenchmarkFormatError(format, f"data_type {seed['data_type']!r} is not 'text'", where)
        categories = seed.get("harm_categories") or []
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise BenchmarkFormatError(format, "'harm_categories' must be a list of strings", where)
        return _Item(
            where,
            _positional_id("advbench", position),
            _string_field(format, where, seed, "value"),
            categories[0] if categories else "",
        )

    return _build_records(format, (item(position, seed) for position, seed in enumerate(seeds, start=1)))


# --- registry --------------------------------------------------------------------------------------

_PARSERS: dict[str, Callable[[str], list[PromptRecord]]] = {
    "advbench-yaml": _parse_advbench_yaml,
    "harmbench-csv": _parse_harmbench_csv,
    "strongreject-csv": _parse_strongreject_csv,
    "jsonl": _parse_jsonl,
    "csv": _parse_generic_csv,
}
BENCHMARK_FORMATS: tuple[str, ...] = tuple(_PARSERS)


def parse_benchmark(text: str, format: str) -> list[PromptRecord]:
    """Parse a benchmark file's text in the named format; raises BenchmarkFormatError on any problem."""
    parser = _PARSERS.get(format)
    if parser is None:
        raise BenchmarkFormatError(format, f"unknown format; expected one of {list(BENCHMARK_FORMATS)}")
    return parser(text)


def guess_format(filename: str, text: str) -> str:
    """The format of an uploaded file, from its extension and, for CSV, its header columns."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "advbench-yaml"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        header = set(_csv_header(text))
        if header.issuperset(_HARMBENCH_COLUMNS):
            return "harmbench-csv"
        if header.issuperset(_STRONGREJECT_COLUMNS):
            return "strongreject-csv"
        return "csv"
    raise BenchmarkFormatError(
        None, f"cannot guess the format of {filename!r}: expected a .yaml, .yml, .jsonl, .ndjson or .csv file"
    )
