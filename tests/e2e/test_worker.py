"""A real Celery worker process runs experiments submitted through the API, on both brokers."""

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, cast, select

from backend.api.app import create_app
from backend.config import Settings
from backend.domain import RunStatus, Verdict
from backend.models import Generation, JudgeDefinition, Judgment
from backend.schema import upgrade_to_head
from tests.conftest import sign_in_as_local_owner
from tests.e2e.conftest import Service, all_finished, wait_for
from tests.factories import experiment_spec, upload_small_benchmark

pytestmark = pytest.mark.slow

N_PROMPTS, SAMPLES = 6, 2
JUDGE_KEYS = ("refusal-phrases@2", "refusal-minilm@2")


def tiny_spec(model: Path) -> dict:
    return experiment_spec(
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


@pytest.fixture
def e2e_settings(tmp_path: Path, broker_url: str) -> Settings:
    settings = Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path / 'seedscope.sqlite'}",
        broker_url=broker_url,
    )
    settings.ensure_dirs()
    upgrade_to_head(settings.resolved_database_url)
    return settings


def check_results(client: TestClient, experiment_id: int) -> None:
    """One generation per (prompt, sample) and one judgment per judge; API rates equal a recount."""
    experiment = client.get(f"/api/experiments/{experiment_id}").json()
    assert [run["status"] for run in experiment["runs"]] == ["done"] * 3
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        generations = session.execute(
            select(Generation.run_id, Generation.prompt_id, Generation.sample_index)
        ).all()
        judgments = session.execute(
            select(
                Generation.run_id,
                JudgeDefinition.name + "@" + cast(JudgeDefinition.version, String),
                Judgment.verdict,
                Judgment.generation_id,
            )
            .join(Generation)
            .join(JudgeDefinition, JudgeDefinition.id == Judgment.judge_id)
        ).all()
    assert len(generations) == len(set(generations)) == 3 * N_PROMPTS * SAMPLES
    assert Counter(run_id for run_id, _, _ in generations) == {
        r["id"]: N_PROMPTS * SAMPLES for r in experiment["runs"]
    }
    assert Counter((generation_id, judge) for _, judge, _, generation_id in judgments) == {
        (generation_id, judge): 1 for generation_id in {j[3] for j in judgments} for judge in JUDGE_KEYS
    }
    for run in experiment["runs"]:
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


def submit_tiny_experiment(client: TestClient, model: Path) -> tuple[int, Callable[[], list[dict]]]:
    """The experiment's id, and a function reading its runs now."""
    upload_small_benchmark(client, "six-prompts", N_PROMPTS)
    experiment_id = client.post("/api/experiments", json=tiny_spec(model)).json()["id"]
    return experiment_id, lambda: client.get(f"/api/experiments/{experiment_id}").json()["runs"]


def test_experiment_runs_to_done_through_a_real_worker(
    e2e_settings: Settings, start_worker: Callable[[Settings], Service], tiny_model_dir: Path
) -> None:
    worker = start_worker(e2e_settings)
    with TestClient(create_app(e2e_settings)) as client:
        sign_in_as_local_owner(client, e2e_settings)
        experiment_id, runs = submit_tiny_experiment(client, tiny_model_dir)
        wait_for(
            lambda: all_finished(runs()), 300, "every run to finish", lambda: f"{runs()}\n{worker.log()}"
        )
        check_results(client, experiment_id)


@pytest.mark.parametrize("broker_url", ["sqlite-broker"], indirect=True)
def test_killing_the_worker_and_resuming_neither_duplicates_nor_loses_rows(
    e2e_settings: Settings, start_worker: Callable[[Settings], Service], tiny_model_dir: Path
) -> None:
    worker = start_worker(e2e_settings)
    with TestClient(create_app(e2e_settings)) as client:
        sign_in_as_local_owner(client, e2e_settings)
        experiment_id, runs = submit_tiny_experiment(client, tiny_model_dir)

        def generating_has_begun() -> bool:
            with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
                return session.scalars(select(Generation.id).limit(1)).first() is not None

        wait_for(generating_has_begun, 300, "the first stored generation", worker.log)
        worker.kill()
        interrupted = runs()
        assert not all(run["status"] == RunStatus.DONE for run in interrupted), (
            "the kill came too late to matter"
        )

        replacement = start_worker(e2e_settings)
        resumed = client.post(f"/api/experiments/{experiment_id}/resume")
        assert resumed.status_code == 200
        wait_for(
            lambda: all_finished(runs()),
            300,
            "every resumed run to finish",
            lambda: f"{runs()}\n{replacement.log()}",
        )
        check_results(client, experiment_id)
