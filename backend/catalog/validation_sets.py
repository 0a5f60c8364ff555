"""Reading validation sets: human-labelled (request, response) pairs to measure a judge against.

Formats:
- `csv` and `jsonl`: `request`, `response`, `label`, and optionally `category` and `id`. A label says
  whether the response is harmful: harmful / unsafe / yes / true / 1, or safe / unharmful / no / false / 0
  (any case; JSON booleans and 0/1 numbers too).
- `pyrit-refusal-csv`: PyRIT's refusal evaluation data (`objective`, `assistant_response`, `human_score`).
  A human_score of 1 means the response refused or did not address the request, 0 that it complied; what
  a refusal judge calls harmful is compliance, so 0 is read as `harmful` and 1 as `safe`. Such a set
  measures compliance, not harm.
- `pyrit-harm-csv`: PyRIT's objective-scoring evaluation data for a harm (the same three columns, with
  `harm_category` and the scorer's own columns beside them). A human_score of 1 means the response achieves
  the harmful objective: read as `harmful`, 0 as `safe`. Such a set measures harm.

The two PyRIT layouts have the same columns and opposite labels, so a file read in the wrong one has every
label inverted and nothing in it says so. Their labels mean one thing each (LABELS_MEAN): a set declared to
measure the other is refused rather than read upside down. Both keep `harm_category` as the category.
"""

from collections.abc import Callable, Iterable
from typing import Any

from backend.catalog.files import (
    DatasetFormatError,
    SeenIds,
    column_list,
    csv_header,
    read_csv,
    read_jsonl,
    string_field,
)
from backend.catalog.formats import Formats
from backend.catalog.records import DEFAULT_CATEGORY, LabelledRecord
from backend.domain import Verdict
from backend.judging.definition import Measured

_HARMFUL = {"harmful", "unsafe", "yes", "true", "1"}
_SAFE = {"safe", "unharmful", "no", "false", "0"}
_COLUMNS = ("request", "response", "label")
_PYRIT_COLUMNS = ("objective", "assistant_response", "human_score")
# human_score 1: refused or did not address the request (not compliant); 0: complied.
_PYRIT_REFUSAL_LABELS = {"1": Verdict.SAFE, "0": Verdict.HARMFUL}
# human_score 1: the response achieves the harmful objective; 0: it does not.
_PYRIT_HARM_LABELS = {"1": Verdict.HARMFUL, "0": Verdict.SAFE}
# What a format's label "harmful" means, for the formats whose labels mean one thing.
LABELS_MEAN = {"pyrit-refusal-csv": Measured.COMPLIANCE, "pyrit-harm-csv": Measured.HARM}
# Columns other tools name the fields `csv` reads: a missing column's likely source in the file.
_RENAMINGS = {
    "request": ("objective", "prompt", "question", "goal", "behavior", "forbidden_prompt", "instruction"),
    "response": ("assistant_response", "completion", "output", "answer", "generation", "model_response"),
    "label": ("human_score", "harmful", "is_harmful", "unsafe", "human_label", "score"),
}


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


# What human_score 1 means in each of the PyRIT layouts, for messages.
_SCORE_ONE_MEANS = {
    "pyrit-refusal-csv": "the response refused",
    "pyrit-harm-csv": "the response achieves the harmful objective",
}


def check_labels_mean(format: str, measures: str) -> None:
    """ValueError when the format's labels mean something else than the set is declared to measure."""
    meant = LABELS_MEAN.get(format)
    if meant is None or meant == measures:
        return
    other = next(name for name, means in LABELS_MEAN.items() if means == measures)
    raise ValueError(
        f"{format}'s labels are of {meant.value} (human_score 1 means {_SCORE_ONE_MEANS[format]}), but the "
        f"set is declared to measure {measures}: read so, every label would be inverted. Upload it with "
        f"measures: {meant.value}, or as {other} if its human_score 1 means {_SCORE_ONE_MEANS[other]}"
    )


def _renaming_hint(header: list[str]) -> str:
    """How to rename the file's columns to what `csv` reads, where its header has a likely source."""
    renames = []
    for column, sources in _RENAMINGS.items():
        source = next((name for name in sources if name in header), None)
        if column not in header and source is not None:
            renames.append(f"{source} -> {column}")
    if not renames:
        return ""
    hint = f"; rename {', '.join(renames)}"
    if "human_score" in header:
        hint += (
            " (or upload a PyRIT file as it is: "
            + ", ".join(f"{name} if human_score 1 means {means}" for name, means in _SCORE_ONE_MEANS.items())
            + ")"
        )
    return hint


def _parse_csv(text: str) -> list[LabelledRecord]:
    header = csv_header(text)
    if missing := [column for column in _COLUMNS if header and column not in header]:
        raise DatasetFormatError(
            "csv",
            f"missing column(s) {missing}; the header has {column_list(header)}{_renaming_hint(header)}",
            "line 1",
        )
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


def _pyrit_parser(format: str, labels: dict[str, Verdict]) -> Callable[[str], list[LabelledRecord]]:
    """A reader of one of PyRIT's human-labelled CSV layouts, its human_score read through `labels`."""

    def label(row_where: str, score: str) -> Verdict:
        # PyRIT writes some scores as floats ("1.0").
        text = score.strip().removesuffix(".0")
        if text not in labels:
            raise DatasetFormatError(format, f"human_score {score!r} is neither 0 nor 1", row_where)
        return labels[text]

    def parse(text: str) -> list[LabelledRecord]:
        _, rows = read_csv(format, text, _PYRIT_COLUMNS)
        return _records(
            format,
            (
                (
                    row.where,
                    f"pyrit-{row.number:04d}",
                    row.fields["objective"],
                    row.fields["assistant_response"],
                    label(row.where, row.fields["human_score"]),
                    row.fields.get("harm_category", ""),
                )
                for row in rows
            ),
        )

    return parse


VALIDATION_SET_FORMATS: Formats[LabelledRecord] = Formats(
    fixed={
        "csv": _parse_csv,
        "jsonl": _parse_jsonl,
        "pyrit-refusal-csv": _pyrit_parser("pyrit-refusal-csv", _PYRIT_REFUSAL_LABELS),
        "pyrit-harm-csv": _pyrit_parser("pyrit-harm-csv", _PYRIT_HARM_LABELS),
    }
)
