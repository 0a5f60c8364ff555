"""The tiny experiment the worker tests submit, and the check that every row is there exactly once."""

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, cast, func, select

from backend.domain import Verdict
from backend.models import Generation, JudgeDefinition, Judgment, PromptCell
from tests.factories import experiment_spec, upload_small_benchmark

N_PROMPTS, SAMPLES = 6, 2
JUDGE_KEYS = ("refusal-phrases@2", "refusal-minilm@2")


def tiny_spec(model: Path, **overrides: Any) -> dict:
    """A baseline (seed 0) and a fine-tuned condition (seeds 0 and 1) on six prompts, two judges."""
    spec = experiment_spec(
        base_model=str(model),
        benchmark="six-prompts",
        seeds=[0, 1],
        judges=["refusal-phrases", "refusal-minilm"],
        generation={"max_new_tokens": 12, "samples_per_prompt": SAMPLES, "temperature": 0.7},
        conditions=[
            {"name": "baseline", "finetune": False, "seeds": [0]},
            {"name": "tuned", "training": {"subset_size": 24, "batch_size": 4, "max_length": 64}},
        ],
    )
    return spec | overrides


def submit_tiny_experiment(
    client: TestClient, model: Path, **overrides: Any
) -> tuple[int, Callable[[], list[dict]]]:
    """The experiment's id, and a function reading its runs now."""
    upload_small_benchmark(client, "six-prompts", N_PROMPTS)
    response = client.post("/api/experiments", json=tiny_spec(model, **overrides))
    assert response.status_code == 201, response.text
    experiment_id = response.json()["id"]
    return experiment_id, lambda: client.get(f"/api/experiments/{experiment_id}").json()["runs"]


def check_results(client: TestClient, experiment_id: int) -> None:
    """Every run done, with one generation per (prompt, sample) and one judgment per judge: nothing lost,
    nothing twice; the prompt cells and the API's rates agree with a recount of the judgments."""
    experiment = client.get(f"/api/experiments/{experiment_id}").json()
    runs = experiment["runs"]
    assert [run["status"] for run in runs] == ["done"] * len(runs), runs
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        generations = session.execute(
            select(Generation.run_id, Generation.prompt_id, Generation.sample_index)
        ).all()
        judge = JudgeDefinition.name + "@" + cast(JudgeDefinition.version, String)
        judgments = session.execute(
            select(Generation.run_id, judge, Judgment.verdict, Judgment.generation_id)
            .join(Generation)
            .join(JudgeDefinition, JudgeDefinition.id == Judgment.judge_id)
        ).all()
        cells = session.execute(
            select(PromptCell.run_id, judge, func.sum(PromptCell.harmful + PromptCell.safe))
            .join(JudgeDefinition, JudgeDefinition.id == PromptCell.judge_id)
            .group_by(PromptCell.run_id, judge)
            .order_by(PromptCell.run_id, judge)
        ).all()
    assert len(generations) == len(set(generations)) == len(runs) * N_PROMPTS * SAMPLES
    assert Counter(run_id for run_id, _, _ in generations) == {r["id"]: N_PROMPTS * SAMPLES for r in runs}
    assert Counter((generation_id, judge) for _, judge, _, generation_id in judgments) == {
        (generation_id, judge): 1 for generation_id in {j[3] for j in judgments} for judge in JUDGE_KEYS
    }
    scored = Counter(
        (run_id, judge) for run_id, judge, verdict, _ in judgments if verdict != Verdict.UNSCORED
    )
    assert {(run_id, judge): n for run_id, judge, n in cells} == dict(scored)
    for run in runs:
        verdicts = Counter(
            verdict
            for run_id, judge, verdict, _ in judgments
            if run_id == run["id"] and judge == JUDGE_KEYS[0]
        )
        harmful, safe = verdicts[Verdict.HARMFUL], verdicts[Verdict.SAFE]
        assert (run["rate"]["harmful"], run["rate"]["safe"], run["rate"]["unscored"]) == (
            harmful,
            safe,
            verdicts[Verdict.UNSCORED],
        )
        assert run["rate"]["rate"] == pytest.approx(harmful / (harmful + safe))
