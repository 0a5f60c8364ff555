"""Builders for experiment definitions and stored results, with defaults a test overrides."""

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.catalog.builtin import BUILTIN_DATASETS, HARMFUL_DEMO
from backend.catalog.kinds import BENCHMARKS, TRAINING_SETS
from backend.domain import JudgeRef, RunStatus, Verdict
from backend.experiment_definition import SelfGenerationSpec
from backend.models import (
    Benchmark,
    ExperimentBenchmark,
    Generation,
    JudgeDefinition,
    Judgment,
    Prompt,
    RefusalPrefixScore,
    Run,
)
from backend.provenance import CpuDevice, DatasetVersion, ModelSource, SelfWrittenResponses
from backend.refusal_openings import REFUSAL_OPENINGS
from backend.repositories.cells import refresh_prompt_cells
from backend.repositories.experiments import primary_judge_id

# What stored_counts finds when nothing was stored: no experiment, the built-in benchmarks and training sets.
NOTHING_STORED = (
    0,
    sum(dataset.kind is BENCHMARKS for dataset in BUILTIN_DATASETS),
    sum(dataset.kind is TRAINING_SETS for dataset in BUILTIN_DATASETS),
)


def stored_counts(client: TestClient) -> tuple[int, int, int]:
    """(experiments, benchmarks, training sets) the caller sees stored."""
    catalog = client.get("/api/catalog").json()
    return (
        client.get("/api/experiments").json()["total"],
        len(catalog["benchmarks"]),
        len(catalog["training_sets"]),
    )


def experiment_spec(**overrides: Any) -> dict[str, Any]:
    """A small valid experiment on the built-in data: a baseline and two learning rates."""
    spec: dict[str, Any] = {
        "name": "lr sensitivity",
        "benchmark": "seedscope-harmful-demo",
        "training_set": "seedscope-benign-demo",
        "seeds": [0, 1],
        "conditions": [
            {"name": "baseline", "finetune": False, "seeds": [0]},
            {"name": "lr-2e-4", "training": {"learning_rate": 2e-4}},
            {"name": "lr-5e-4", "training": {"learning_rate": 5e-4}},
        ],
    }
    spec.update(overrides)
    return spec


def self_written(source: DatasetVersion, run_id: int, model: str = "org/model") -> SelfWrittenResponses:
    """What a run records about the greedy answers `model` (a hub id) writes to `source`'s prompts."""
    return SelfWrittenResponses(
        source=source,
        base_model=ModelSource(reference=model, revision=None, path=model, weights_sha256=None, commit="abc"),
        seed="greedy",
        generation=SelfGenerationSpec(),
        token_budget=8192,
        device=CpuDevice(type="cpu", torch_threads=2),
        created_by_run=run_id,
    )


def causal_judge_spec(model: str, pattern: str = r"^\W*(\w+)") -> dict[str, Any]:
    """A causal-lm judge definition named "mine": `model`, and a yes/no label rule with `pattern`."""
    parse = {"rule": "label", "pattern": pattern, "labels": {"yes": "harmful", "no": "safe"}}
    return {"name": "mine", "kind": "causal-lm", "model": model, "parse": parse}


def upload_small_benchmark(
    client: TestClient,
    name: str,
    n_prompts: int,
    project: int | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """n built-in harmful prompts, one per category in turn (hd-001, hd-007, ...), so tests stay fast;
    into `project` (default: the caller's first)."""
    records = HARMFUL_DEMO.records()[::6][:n_prompts]
    content = "\n".join(
        json.dumps({"id": r.external_id, "prompt": r.text, "category": r.category}) for r in records
    )
    upload = {"name": name, "format": "jsonl", "content": content, "project": project}
    response = client.post("/api/benchmarks", json=upload, headers=headers)
    assert response.status_code == 201, response.text


def judge_id(session: Session, reference: str) -> int:
    """The id of the judge definition `name@version` (the built-ins are stored at the app's start)."""
    ref = JudgeRef.parse(reference)
    found = session.scalar(
        select(JudgeDefinition.id).where(
            JudgeDefinition.name == ref.name, JudgeDefinition.version == ref.version
        )
    )
    assert found is not None, f"no judge definition {reference}"
    return found


def add_verdicts(
    session: Session,
    run_id: int,
    verdicts: list[list[Verdict]],
    judge: str | None = None,
    scores: list[list[float | None]] | None = None,
    on: str | None = None,
) -> None:
    """verdicts[i][k]: the verdict on sample k of the run's i-th benchmark prompt (the first benchmark's
    prompts, then the next one's; or only those of the benchmark named `on`), by `judge` (name@version;
    default: the experiment's first judge), scored scores[i][k] (default: no score). Marks the run done."""
    run = session.get(Run, run_id)
    assert run is not None
    experiment_id = run.owning_condition.experiment_id
    judged_by = judge_id(session, judge) if judge else primary_judge_id(session, experiment_id)
    query = (
        select(Prompt.id)
        .join(ExperimentBenchmark, ExperimentBenchmark.benchmark_id == Prompt.benchmark_id)
        .where(ExperimentBenchmark.experiment_id == experiment_id)
        .order_by(ExperimentBenchmark.position, Prompt.position)
    )
    if on is not None:
        query = query.join(Benchmark, Benchmark.id == Prompt.benchmark_id).where(Benchmark.name == on)
    prompt_ids = session.scalars(query).all()
    for position, (prompt_id, samples) in enumerate(zip(prompt_ids, verdicts, strict=False)):
        for sample_index, verdict in enumerate(samples):
            generation = Generation(
                run_id=run_id,
                prompt_id=prompt_id,
                sample_index=sample_index,
                text=f"answer {verdict}",
                n_new_tokens=2,
            )
            session.add(generation)
            session.flush()
            score = scores[position][sample_index] if scores is not None else None
            session.add(
                Judgment(
                    generation_id=generation.id,
                    judge_id=judged_by,
                    verdict=verdict,
                    score=score,
                    output="test",
                )
            )
    session.flush()
    refresh_prompt_cells(session, run_id, judged_by)
    run.status, run.progress, run.progress_message = RunStatus.DONE, 1.0, "done"
    session.commit()


def add_refusal_prefix_scores(
    session: Session, run_id: int, scores: list[float], openings: str = REFUSAL_OPENINGS
) -> None:
    """scores[i]: the run's refusal-prefix score on its first benchmark's i-th prompt, with the phrase set
    `openings`; the run's row is touched, as the worker's write under its lease does, so the dashboard's
    state moves on."""
    run = session.get(Run, run_id)
    assert run is not None
    prompt_ids = session.scalars(
        select(Prompt.id)
        .join(ExperimentBenchmark, ExperimentBenchmark.benchmark_id == Prompt.benchmark_id)
        .where(ExperimentBenchmark.experiment_id == run.owning_condition.experiment_id)
        .order_by(ExperimentBenchmark.position, Prompt.position)
    ).all()
    for prompt_id, score in zip(prompt_ids, scores, strict=False):
        session.add(
            RefusalPrefixScore(run_id=run_id, prompt_id=prompt_id, openings=openings, probability=score)
        )
    run.progress_message = f"refusal-prefix scores {len(scores)}/{len(prompt_ids)}"
    session.commit()


def judge_again(
    session: Session,
    run_id: int,
    judge: str,
    verdicts: list[Verdict],
    scores: list[float] | None = None,
) -> None:
    """Verdicts (and scores, default none) by another judge (`name@version`) on the run's generations, in
    generation order, stored as the worker's judge stage stores them: with the run's prompt cells recounted
    in the same transaction."""
    judged_by = judge_id(session, judge)
    generations = session.scalars(
        select(Generation.id).where(Generation.run_id == run_id).order_by(Generation.id)
    ).all()
    for generation_id, verdict, score in zip(
        generations, verdicts, scores or [None] * len(verdicts), strict=True
    ):
        session.add(
            Judgment(
                generation_id=generation_id, judge_id=judged_by, verdict=verdict, score=score, output="test"
            )
        )
    session.flush()
    refresh_prompt_cells(session, run_id, judged_by)
    session.commit()


def finish_validation(
    sessions: sessionmaker[Session],
    validation_id: int,
    verdict: str = "harmful",
    verdicts: Sequence[str] | None = None,
) -> None:
    """A worker's side of a judge validation, by hand: every example judged `verdict` (or, given `verdicts`,
    each example in the set's order judged its own), then the result."""
    from worker.validation import ValidationStore

    store = ValidationStore(sessions)
    lease, _ = store.claim(validation_id, "w:1:aa", lease_s=60, max_attempts=3)
    assert lease is not None
    _, todo, _ = store.start(lease)
    chosen = verdicts if verdicts is not None else [verdict] * len(todo)
    assert len(chosen) == len(todo), "one verdict per example"
    store.add_verdicts(
        lease,
        [
            {"example_id": example_id, "verdict": v}
            for (example_id, _, _), v in zip(todo, chosen, strict=True)
        ],
        1.0,
    )
    store.finish(lease, seconds=1.0)


def inspect_samples_csv(rows: Sequence[tuple[str, str, int, str, str, str]]) -> str:
    """A file in the shape of Inspect's samples dataframe saved as CSV (the columns an import reads, and
    some it leaves), from (model, id, epoch, input, output, score_includes) rows."""
    file = io.StringIO()
    writer = csv.writer(file)
    writer.writerow(
        ["sample_id", "model", "id", "epoch", "input", "target", "score_includes", "error", "output"]
    )
    for number, (model, sample_id, epoch, text, output, score) in enumerate(rows):
        writer.writerow([f"s{number}", model, sample_id, epoch, text, "Sure", score, "", output])
    return file.getvalue()


# Two models, two epochs, three samples: the first model complies with q1 in both epochs, the second with
# every sample in epoch 2 only.
INSPECT_SAMPLES = inspect_samples_csv(
    [
        (model, f"q{i}", epoch, f"user:\nrequest {i}\n", "Sure" if harmful else "No", "C" if harmful else "I")
        for model, pattern in (("mockllm/a", (0, 1, 0, 0, 1, 0)), ("mockllm/b", (0, 0, 0, 1, 1, 1)))
        for epoch in (1, 2)
        for i in range(3)
        for harmful in [pattern[(epoch - 1) * 3 + i]]
    ]
)
