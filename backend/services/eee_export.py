"""An experiment in the Every Eval Ever schema, as one zip laid out like the EEE datastore.

One aggregate record per (condition, safety benchmark): the schema describes one model per record, and each
condition is a model of its own (the baseline: the base model; a fine-tuned condition: its seeds' adapters).
Beside each, its instance records as <uuid>_samples.jsonl, for callers who may read response text: a "figures
only" share link gets the aggregate records alone. The numbers come from the analysis (backend.services
.analysis), computed before the stream starts; the instance records are streamed, a chunk at a time.
Capability and over-refusal sets are left out: their rates measure something other than harm, by a scorer
that is not one of the experiment's judges.
"""

import hashlib
import json
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from itertools import groupby
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from backend.catalog.kinds import BENCHMARKS
from backend.domain import SetMeasure
from backend.eee import aggregate, instances, layout
from backend.errors import Conflict
from backend.repositories import catalog as catalog_repository
from backend.repositories import exports as repository
from backend.repositories import judges as judge_repository
from backend.services import analysis
from backend.services.cache import AnalysisCache
from backend.services.experiment_state import read_experiment
from backend.services.exports import CHUNK_ROWS, Drain, condition_settings, setting_columns


@dataclass(frozen=True)
class PlannedRecord:
    """An aggregate record, ready but for its samples' reference, and what its instance records need."""

    condition_id: int
    benchmark_id: int
    condition: str
    benchmark: str  # name@version
    place: layout.RecordPlace
    record: dict[str, Any]
    # judge name@version -> the id of its pooled result, which its instance records point at; a judge
    # without one (none of its verdicts counted yet) has no instance records either.
    pooled_results: dict[str, str]


@dataclass(frozen=True)
class EeeExport:
    experiment_id: int
    records: list[PlannedRecord]
    benchmark_ids: list[int]
    judge_ids: list[int]


def _seedscope_version() -> str:
    try:
        return version("seedscope")
    except PackageNotFoundError:
        return "unknown"


def plan(session: Session, experiment_id: int, cache: AnalysisCache) -> EeeExport:
    """Every record with results; Conflict when there is none (no scored verdict on a safety benchmark)."""
    settings = condition_settings(session, experiment_id)  # NotFound first
    experiment = read_experiment(session, cache, experiment_id)
    columns = [column.name for column in setting_columns()]
    judges = judge_repository.judges_of_experiment(session, experiment_id)
    validations = {judge.id: judge.validation for judge in experiment.judges}
    safety = [b for b in experiment.benchmarks if b.measures == SetMeasure.HARM]
    retrieved_at = datetime.now(UTC)
    records = []
    for listed in safety:
        benchmark = catalog_repository.get(session, BENCHMARKS, listed.id)
        data = analysis.load(session, experiment_id, cache, benchmark=listed.reference)
        by_judge = {
            judge.id: {
                s.condition_id: s for s in analysis.condition_summaries(session, data.for_judge(judge.id))
            }
            for judge in judges
        }
        for condition in experiment.conditions:
            model = layout.model_id(
                condition.spec.base_model, experiment_id, condition.name, condition.is_baseline
            )
            inputs = aggregate.AggregateInputs(
                experiment=experiment,
                condition=condition,
                benchmark=benchmark,
                rates=[
                    aggregate.JudgedRates(judge, validations.get(judge.id), by_judge[judge.id][condition.id])
                    for judge in judges
                ],
                settings=dict(zip(columns, settings[condition.id], strict=True)),
                model_id=model,
                evaluation_id=aggregate.evaluation_id(listed.reference, model, retrieved_at),
                retrieved_at=retrieved_at,
                seedscope_version=_seedscope_version(),
            )
            record = aggregate.aggregate_record(inputs)
            if not record["evaluation_results"]:
                continue
            records.append(
                PlannedRecord(
                    condition_id=condition.id,
                    benchmark_id=listed.id,
                    condition=condition.name,
                    benchmark=listed.reference,
                    place=layout.place(
                        listed.reference, model, layout.record_uuid(experiment_id, condition.id, listed.id)
                    ),
                    record=record,
                    pooled_results={
                        rates.judge.ref: aggregate.result_id(listed.reference, rates.judge.ref, "pooled")
                        for rates in inputs.rates
                        if rates.summary.pooled.rate is not None
                    },
                )
            )
    if not records:
        raise Conflict(
            f"experiment {experiment_id} has no scored verdict on a safety benchmark yet: an Every Eval Ever "
            "record needs a rate (export again once a run is judged)"
        )
    return EeeExport(experiment_id, records, [b.id for b in safety], [judge.id for judge in judges])


def _json(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode()


def zip_stream(
    factory: sessionmaker[Session], export: EeeExport, with_text: bool, chunk_size: int = CHUNK_ROWS
) -> Iterator[bytes]:
    """The zip, streamed: each record's samples (with_text) as they are read, then the aggregate records,
    which carry their samples' row count and sha256."""
    planned = {(r.condition_id, r.benchmark_id): r for r in export.records}
    written: dict[tuple[int, int], tuple[int, str]] = {}
    sink = Drain()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if with_text:
            with factory() as session:
                chunks = repository.scored_responses(
                    session, export.experiment_id, export.benchmark_ids, export.judge_ids, chunk_size
                )
                rows = (row for chunk in chunks for row in chunk)
                for key, group in groupby(rows, key=lambda row: (row.condition_id, row.benchmark_id)):
                    if (record := planned.get(key)) is None:
                        continue
                    written[key] = yield from _samples(archive, sink, record, group)
        for key, record in planned.items():
            content = record.record
            if key in written:
                content = aggregate.with_samples(content, record.place.samples_path, *written[key])
            archive.writestr(record.place.aggregate_path, _json(content))
            yield sink.take()
    yield sink.take()


def _samples(
    archive: zipfile.ZipFile, sink: Drain, record: PlannedRecord, rows: Iterator[repository.ScoredResponse]
) -> Generator[bytes, None, tuple[int, str]]:
    """One record's instance records into the zip; hands back (rows, sha256) when done."""
    digest = hashlib.sha256()
    count = 0
    evaluation_id = record.record["evaluation_id"]
    model_id = record.record["model_info"]["id"]
    with archive.open(record.place.samples_path, "w", force_zip64=True) as entry:
        for row in rows:
            if row.judge not in record.pooled_results:
                continue
            line = instances.jsonl_line(
                instances.instance_record(
                    row,
                    evaluation_id=evaluation_id,
                    model_id=model_id,
                    evaluation_name=record.benchmark,
                    evaluation_result_id=record.pooled_results[row.judge],
                    condition=record.condition,
                )
            )
            entry.write(line)
            digest.update(line)
            count += 1
            if count % CHUNK_ROWS == 0:
                yield sink.take()
    yield sink.take()
    return count, digest.hexdigest()
