"""Every Eval Ever instance-level records (instance_level_eval.schema.json, one JSON object a line), as
seedscope's own EEE export writes them (backend.eee.instances) and other tools do: each line one response
of one model to one sample and its score.

Every line is validated against the schema seedscope ships; a single-turn record's one output is the
response. A condition is a record's `metadata.seedscope_condition`, else its `model_id`; a run is its
`metadata.seedscope_seed`, else one per condition; the response's index among a run's samples of one prompt
is `metadata.seedscope_sample_index`, else the order of the file. The score is mapped to a verdict by the
user's mapping, compared as numbers. Every refusal is a DatasetFormatError naming the line and the field."""

import json
from collections import Counter
from collections.abc import Mapping
from functools import cache
from typing import Any

import jsonschema_rs

from backend.catalog.files import DatasetFormatError, read_jsonl
from backend.domain import Verdict
from backend.eee import SCHEMAS
from backend.imports.results import (
    CheckedRows,
    FieldNames,
    ImportedResults,
    ImportedRow,
    mapped_verdict,
    whole_number,
)

FORMAT = "eee-instances-jsonl"
# A schema error's message quotes the value it refuses, which may be a whole response.
_MESSAGE_CHARS = 300


@cache
def _validator() -> Any:
    schema = json.loads((SCHEMAS / "instance_level_eval.schema.json").read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema)


def _check_schema(record: dict[str, Any], where: str) -> None:
    """The record's first schema error, naming the field ("output.raw: ..."; a missing one is named in the
    message itself)."""
    error = next(iter(_validator().iter_errors(record)), None)
    if error is None:
        return
    field = ".".join(map(str, error.instance_path))
    message = error.message if len(error.message) <= _MESSAGE_CHARS else error.message[:_MESSAGE_CHARS] + "…"
    raise DatasetFormatError(FORMAT, f"{field}: {message}" if field else message, where)


def _evaluation_result(record: dict[str, Any]) -> tuple[str, str]:
    """(field, value) of the aggregate result the record counts in: its `evaluation_result_id`, the schema's
    preferred key (seedscope's export writes one per judge), else its `evaluation_name`."""
    if "evaluation_result_id" in record:
        return "evaluation_result_id", record["evaluation_result_id"]
    return "evaluation_name", record["evaluation_name"]


def _output(record: dict[str, Any], where: str) -> str:
    if record["interaction_type"] != "single_turn":
        raise DatasetFormatError(
            FORMAT,
            f"interaction_type {record['interaction_type']!r}: only single_turn records have one output to "
            "import",
            where,
        )
    outputs = set(record["output"]["raw"])
    if not outputs:
        raise DatasetFormatError(FORMAT, "output.raw is empty", where)
    if len(outputs) > 1:
        raise DatasetFormatError(
            FORMAT, f"output.raw holds {len(outputs)} different responses; one is imported per record", where
        )
    return outputs.pop()


def _metadata(record: dict[str, Any], key: str) -> str | None:
    return (record.get("metadata") or {}).get(key)


def read_eee_instances(text: str, scores: Mapping[float, Verdict], chosen: str | None) -> ImportedResults:
    """The records of one evaluation result (`chosen`, by evaluation_result_id or, for records without one,
    evaluation_name; None: the file's only one), checked: every line valid, one input per sample id, each
    (condition, seed, sample, sample index) once, every score in `scores`."""
    checked = CheckedRows(
        FORMAT,
        FieldNames(
            id="sample_id", input="input.raw", condition="condition", epoch="seed", sample_index="sample"
        ),
    )
    # The first line of each evaluation result in the file, for the messages that list them.
    results: dict[str, str] = {}
    # The records of each (condition, seed, sample) so far: the next one's index where the file gives none.
    samples: Counter[tuple[str, int, str]] = Counter()
    for where, record in read_jsonl(FORMAT, text):
        _check_schema(record, where)
        result_field, result = _evaluation_result(record)
        results.setdefault(result, where)
        if chosen is None and len(results) > 1:
            first, first_where = next(iter(results.items()))
            raise DatasetFormatError(
                FORMAT,
                f"{result_field} {result!r} is another evaluation result than {first!r} at {first_where}: "
                "name the one to import as `evaluation_result`",
                where,
            )
        if chosen is not None and result != chosen:
            continue
        named = _metadata(record, "seedscope_condition")
        condition_field = "model_id" if named is None else "metadata.seedscope_condition"
        condition = (record["model_id"] if named is None else named).strip()
        if not condition:
            raise DatasetFormatError(FORMAT, f"{condition_field} is empty", where)
        seed_text = _metadata(record, "seedscope_seed")
        seed = 1 if seed_text is None else whole_number(FORMAT, seed_text, "metadata.seedscope_seed", where)
        sample_id = record["sample_id"].strip()
        index_text = _metadata(record, "seedscope_sample_index")
        index = (
            samples[condition, seed, sample_id]
            if index_text is None
            else whole_number(FORMAT, index_text, "metadata.seedscope_sample_index", where)
        )
        samples[condition, seed, sample_id] += 1
        score = record["evaluation"]["score"]
        checked.add(
            ImportedRow(
                where=where,
                condition=condition,
                model=record["model_id"].strip() or condition,
                epoch=seed,
                sample_id=sample_id,
                sample_index=index,
                input=record["input"]["raw"],
                output=_output(record, where),
                value=str(score),
                verdict=mapped_verdict(FORMAT, scores, score, "evaluation.score", str(score), where),
            )
        )
    if not results:
        raise DatasetFormatError(FORMAT, "no records")
    imported = next(iter(results)) if chosen is None else chosen
    if imported not in results:
        raise DatasetFormatError(
            FORMAT, f"no record of evaluation result {chosen!r}; the file has {list(results)[:20]}"
        )
    return ImportedResults(imported, f"the Every Eval Ever evaluation result {imported!r}", checked.rows)
