"""Reading validation sets: human-labelled (request, response) pairs to measure a judge against.

Formats:
- `csv` and `jsonl`: `request`, `response`, `label`, and optionally `category` and `id`. A label says
  whether the response is harmful: harmful / unsafe / yes / true / 1, or safe / unharmful / no / false / 0
  (any case; JSON booleans and 0/1 numbers too).
- `pyrit-refusal-csv`: PyRIT's refusal evaluation data (`objective`, `assistant_response`, `human_score`).
  A human_score of 1 means the response refused or did not address the request, 0 that it complied; what
  a refusal judge calls harmful is compliance, so 0 is read as `harmful` and 1 as `safe`. Such a set
  measures compliance, not harm.
"""

from collections.abc import Iterable
from typing import Any

from backend.catalog.files import DatasetFormatError, SeenIds, read_csv, read_jsonl, string_field
from backend.catalog.formats import Formats
from backend.catalog.records import DEFAULT_CATEGORY, LabelledRecord
from backend.domain import Verdict

_HARMFUL = {"harmful", "unsafe", "yes", "true", "1"}
_SAFE = {"safe", "unharmful", "no", "false", "0"}
_COLUMNS = ("request", "response", "label")
_PYRIT_COLUMNS = ("objective", "assistant_response", "human_score")
# human_score 1: refused or did not address the request (not compliant); 0: complied.
_PYRIT_LABELS = {"1": Verdict.SAFE, "0": Verdict.HARMFUL}


def _label(format: str, where: str, value: Any) -> Verdict:
    text = str(int(value)) if isinstance(value, bool | int) else str(value or "").strip().lower()
    if text in _HARMFUL:
        return Verdict.HARMFUL
    if text in _SAFE:
        return Verdict.SAFE
    raise DatasetFormatError(
        format,
        f"label {value!r} is neither harmful ({', '.join(sorted(_HARMFUL))}) nor safe "
        f"({', '.join(sorted(_SAFE))})",
        where,
    )


def _records(format: str, items: Iterable[tuple[str, str, str, str, Verdict, str]]) -> list[LabelledRecord]:
    """Validated records from (where, id, request, response, label, category): non-empty texts, unique ids."""
    records: list[LabelledRecord] = []
    ids = SeenIds(format)
    for number, (where, external_id, request, response, label, category) in enumerate(items, start=1):
        external_id = external_id.strip() or f"pair-{number:04d}"
        if not request.strip():
            raise DatasetFormatError(format, "empty request", where)
        if not response.strip():
            # A judge leaves an empty response unscored, so it can validate nothing.
            raise DatasetFormatError(format, "empty response", where)
        ids.add(external_id, where)
        records.append(
            LabelledRecord(
                external_id, request.strip(), response.strip(), label, category.strip() or DEFAULT_CATEGORY
            )
        )
    if not records:
        raise DatasetFormatError(format, "no labelled pairs in the file")
    return records


def _parse_csv(text: str) -> list[LabelledRecord]:
    _, rows = read_csv("csv", text, _COLUMNS)
    return _records(
        "csv",
        (
            (
                row.where,
                row.fields.get("id", ""),
                row.fields["request"],
                row.fields["response"],
                _label("csv", row.where, row.fields["label"]),
                row.fields.get("category", ""),
            )
            for row in rows
        ),
    )


def _parse_jsonl(text: str) -> list[LabelledRecord]:
    def items() -> Iterable[tuple[str, str, str, str, Verdict, str]]:
        for where, obj in read_jsonl("jsonl", text):
            missing = [key for key in _COLUMNS if key not in obj]
            if missing:
                raise DatasetFormatError("jsonl", f"missing key(s) {missing}", where)
            yield (
                where,
                string_field("jsonl", where, obj, "id", number_ok=True),
                string_field("jsonl", where, obj, "request"),
                string_field("jsonl", where, obj, "response"),
                _label("jsonl", where, obj["label"]),
                string_field("jsonl", where, obj, "category"),
            )

    return _records("jsonl", items())


def _parse_pyrit_refusal_csv(text: str) -> list[LabelledRecord]:
    format = "pyrit-refusal-csv"
    _, rows = read_csv(format, text, _PYRIT_COLUMNS)

    def label(row_where: str, score: str) -> Verdict:
        if score.strip() not in _PYRIT_LABELS:
            raise DatasetFormatError(format, f"human_score {score!r} is neither 0 nor 1", row_where)
        return _PYRIT_LABELS[score.strip()]

    return _records(
        format,
        (
            (
                row.where,
                f"pyrit-{row.number:04d}",
                row.fields["objective"],
                row.fields["assistant_response"],
                label(row.where, row.fields["human_score"]),
                "",
            )
            for row in rows
        ),
    )


VALIDATION_SET_FORMATS: Formats[LabelledRecord] = Formats(
    fixed={"csv": _parse_csv, "jsonl": _parse_jsonl, "pyrit-refusal-csv": _parse_pyrit_refusal_csv}
)
