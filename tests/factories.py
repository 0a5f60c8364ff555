"""Builders for experiment definitions and stored results, with defaults a test overrides."""

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.catalog.builtin import HARMFUL_DEMO, benchmark_records
from backend.domain import RunStatus, Verdict
from backend.models import Generation, Judgment, Prompt, Run
from backend.repositories.cells import refresh_prompt_cells


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


def upload_small_benchmark(
    client: TestClient,
    name: str,
    n_prompts: int,
    project: int | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """n built-in harmful prompts, one per category in turn (hd-001, hd-007, ...), so tests stay fast;
    into `project` (default: the caller's first)."""
    records = benchmark_records(HARMFUL_DEMO)[::6][:n_prompts]
    content = "\n".join(
        json.dumps({"id": r.external_id, "prompt": r.text, "category": r.category}) for r in records
    )
    upload = {"name": name, "format": "jsonl", "content": content, "project": project}
    response = client.post("/api/benchmarks", json=upload, headers=headers)
    assert response.status_code == 201, response.text


def add_verdicts(
    session: Session, run_id: int, verdicts: list[list[Verdict]], judge: str = "refusal-minilm@1"
) -> None:
    """verdicts[i][k]: the verdict on sample k of the run's i-th benchmark prompt. Marks the run done."""
    run = session.get(Run, run_id)
    assert run is not None
    prompt_ids = session.scalars(
        select(Prompt.id)
        .where(Prompt.benchmark_id == run.condition.experiment.benchmark_id)
        .order_by(Prompt.position)
    ).all()
    for prompt_id, samples in zip(prompt_ids, verdicts, strict=False):
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
            session.add(Judgment(generation_id=generation.id, judge=judge, verdict=verdict, output="test"))
    session.flush()
    refresh_prompt_cells(session, run_id, judge)
    run.status = RunStatus.DONE
    session.commit()
