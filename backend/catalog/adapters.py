"""Benchmark adapters: turn a safety benchmark's file, in its original format, into PromptRecords.

Each format is a parser from the file's text to records, registered by name. Every problem is a
DatasetFormatError naming the format, where in the file it is, and what is wrong. The generic `jsonl` and
`csv` formats take the names of their prompt, id and category keys (columns), for files that call them
otherwise; a category key whose value is a list of tags takes the first tag.
"""

from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

import yaml

from backend.catalog.evaluation_sets import EVALUATION_SET_FORMATS
from backend.catalog.files import (
    CsvRow,
    DatasetFormatError,
    column_list,
    csv_header,
    read_csv,
    read_jsonl,
    string_field,
)
from backend.catalog.formats import FieldNames, Formats
from backend.catalog.prompt_items import PromptItem, build_prompt_records, positional_id
from backend.catalog.records import PromptRecord
from backend.parsing import DocumentRefused, load_yaml

# HarmBench's contextual behaviours: the context comes first, then the request about it.
CONTEXT_SEPARATOR = "\n\n---\n\n"

# Generic CSV: the first of these columns present (case-insensitive) holds the prompt.
_CSV_PROMPT_COLUMNS = ("prompt", "text", "behavior", "goal")
_HARMBENCH_COLUMNS = ("behavior", "semanticcategory", "contextstring", "behaviorid")
_STRONGREJECT_COLUMNS = ("category", "forbidden_prompt")


# --- CSV -------------------------------------------------------------------------------------------


def _parse_harmbench_csv(text: str) -> list[PromptRecord]:
    """HarmBench behaviours CSV; contextual behaviours get their ContextString before the request."""
    _, rows = read_csv("harmbench-csv", text, _HARMBENCH_COLUMNS)

    def item(row: CsvRow) -> PromptItem:
        behavior, context = row.fields["behavior"].strip(), row.fields["contextstring"].strip()
        # An empty behaviour stays empty even with a context, so it is reported rather than hidden.
        prompt = f"{context}{CONTEXT_SEPARATOR}{behavior}" if context and behavior else behavior
        return PromptItem(row.where, row.fields["behaviorid"], prompt, row.fields["semanticcategory"])

    return build_prompt_records("harmbench-csv", map(item, rows))


def _parse_strongreject_csv(text: str) -> list[PromptRecord]:
    """StrongREJECT CSV (category, source, forbidden_prompt); ids by position."""
    _, rows = read_csv("strongreject-csv", text, _STRONGREJECT_COLUMNS)
    return build_prompt_records(
        "strongreject-csv",
        (
            PromptItem(
                row.where,
                positional_id("strongreject", row.number),
                row.fields["forbidden_prompt"],
                row.fields["category"],
            )
            for row in rows
        ),
    )


def _named_column(header: list[str], name: str | None, kind: str) -> str | None:
    """The lower-cased column `name`, which the header must have; None when no name is given."""
    if name is None:
        return None
    column = name.strip().lower()
    if column not in header:
        raise DatasetFormatError("csv", f"no {kind} column {name!r}; the header has {column_list(header)}")
    return column


def _parse_generic_csv(text: str, names: FieldNames) -> list[PromptRecord]:
    """Any CSV with a prompt/text/behavior/goal column and optional id, category and reference columns, or
    the columns `names` gives."""
    header, rows = read_csv("csv", text)
    prompt_column = _named_column(header, names.prompt, "prompt") or next(
        (name for name in _CSV_PROMPT_COLUMNS if name in header), None
    )
    if prompt_column is None:
        expected = list(_CSV_PROMPT_COLUMNS)
        raise DatasetFormatError(
            "csv", f"no prompt column: expected one of {expected}, the header has {column_list(header)}"
        )
    id_column = _named_column(header, names.id, "id") or "id"
    category_column = _named_column(header, names.category, "category") or "category"
    reference_column = _named_column(header, names.reference, "reference") or "reference"

    def item(row: CsvRow) -> PromptItem:
        external_id = row.fields.get(id_column, "").strip()
        if names.id is None:
            external_id = external_id or positional_id("prompt", row.number)
        return PromptItem(
            row.where,
            external_id,
            row.fields[prompt_column],
            row.fields.get(category_column, ""),
            row.fields.get(reference_column, ""),
        )

    return build_prompt_records("csv", map(item, rows))


# --- JSONL and YAML --------------------------------------------------------------------------------


def _category(where: str, obj: dict[str, Any], key: str) -> str:
    """The category under `key`: a string, or the first of a list of tags ("" when absent or empty)."""
    value = obj.get(key)
    if isinstance(value, list):
        if not all(isinstance(tag, str) for tag in value):
            raise DatasetFormatError("jsonl", f"{key!r} must be a string or a list of strings", where)
        return value[0] if value else ""
    return string_field("jsonl", where, obj, key)


def _parse_jsonl(text: str, names: FieldNames) -> list[PromptRecord]:
    """One JSON object per line: prompt (or text), optional id, category and reference, or the keys `names`
    gives; blank lines are skipped."""
    lines = list(read_jsonl("jsonl", text))
    for kind, key in (("id", names.id), ("category", names.category), ("reference", names.reference)):
        if key is not None and lines and not any(key in obj for _, obj in lines):
            raise DatasetFormatError("jsonl", f"no line has the {kind} key {key!r}")

    def items() -> Iterable[PromptItem]:
        for position, (where, obj) in enumerate(lines, start=1):
            prompt_key = names.prompt or ("prompt" if "prompt" in obj else "text")
            if prompt_key not in obj:
                expected = repr(names.prompt) if names.prompt else "'prompt' (or 'text')"
                raise DatasetFormatError("jsonl", f"missing key {expected}", where)
            external_id = string_field("jsonl", where, obj, names.id or "id", number_ok=True)
            yield PromptItem(
                where,
                external_id if names.id else external_id or positional_id("prompt", position),
                string_field("jsonl", where, obj, prompt_key),
                _category(where, obj, names.category or "category"),
                string_field("jsonl", where, obj, names.reference or "reference", number_ok=True),
            )

    return build_prompt_records("jsonl", items())


def _parse_advbench_yaml(text: str) -> list[PromptRecord]:
    """PyRIT's AdvBench seed file: seeds[].value, category = the first of seeds[].harm_categories."""
    format = "advbench-yaml"
    try:
        document = load_yaml(text)
    except DocumentRefused as exc:
        raise DatasetFormatError(format, str(exc)) from None
    except yaml.YAMLError as exc:
        # MarkedYAMLError carries a one-line problem and its position; str(exc) is a multi-line excerpt.
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise DatasetFormatError(
            format, f"invalid YAML ({problem})", f"line {mark.line + 1}" if mark else None
        ) from exc
    seeds = document.get("seeds") if isinstance(document, dict) else None
    if not isinstance(seeds, list):
        raise DatasetFormatError(format, "expected a mapping with a 'seeds' list")

    def item(position: int, seed: object) -> PromptItem:
        where = f"seed {position}"
        if not isinstance(seed, dict):
            raise DatasetFormatError(format, f"expected a mapping, got {type(seed).__name__}", where)
        if "value" not in seed:
            raise DatasetFormatError(format, "missing key 'value'", where)
        # PyRIT seeds may be images or audio; a text benchmark has no use for them.
        if seed.get("data_type", "text") != "text":
            raise DatasetFormatError(format, f"data_type {seed['data_type']!r} is not 'text'", where)
        categories = seed.get("harm_categories") or []
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise DatasetFormatError(format, "'harm_categories' must be a list of strings", where)
        return PromptItem(
            where,
            positional_id("advbench", position),
            string_field(format, where, seed, "value"),
            categories[0] if categories else "",
        )

    return build_prompt_records(
        format, (item(position, seed) for position, seed in enumerate(seeds, start=1))
    )


# --- format guessing and the registry ---------------------------------------------------------------


def guess_format(filename: str, text: str) -> str:
    """The format of an uploaded file, from its extension and, for CSV, its header columns."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "advbench-yaml"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        header = set(csv_header(text))
        if header.issuperset(_HARMBENCH_COLUMNS):
            return "harmbench-csv"
        if header.issuperset(_STRONGREJECT_COLUMNS):
            return "strongreject-csv"
        return "csv"
    raise DatasetFormatError(
        None, f"cannot guess the format of {filename!r}: expected a .yaml, .yml, .jsonl, .ndjson or .csv file"
    )


BENCHMARK_FORMATS: Formats[PromptRecord] = Formats(
    fixed={
        "advbench-yaml": _parse_advbench_yaml,
        "harmbench-csv": _parse_harmbench_csv,
        "strongreject-csv": _parse_strongreject_csv,
        **EVALUATION_SET_FORMATS,
    },
    named={"jsonl": _parse_jsonl, "csv": _parse_generic_csv},
    guess=guess_format,
)
