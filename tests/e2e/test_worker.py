"""A real Celery worker process runs experiments submitted through the API, on both brokers."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.api.app import create_app
from backend.config import Settings
from backend.migrate import upgrade_to_head
from backend.models import Generation, Judgment
from tests.conftest import TEST_CLIENT_HOST, sign_in_as_local_owner
from tests.e2e.conftest import Service, all_finished, wait_for
from tests.e2e.experiment import SAMPLES, check_results, submit_tiny_experiment

pytestmark = pytest.mark.slow


@pytest.fixture
def e2e_settings(tmp_path: Path, broker_url: str, shared_models: Path) -> Settings:
    settings = Settings(
        home=tmp_path / "home",
        model_roots=[shared_models],
        database_url=f"sqlite:///{tmp_path / 'seedscope.sqlite'}",
        broker_url=broker_url,
        allowed_hosts=[TEST_CLIENT_HOST],
        # Several generation batches per run, and a fresh pool process for every run.
        generation_token_budget=300,
        worker_max_tasks_per_child=1,
    )
    settings.ensure_dirs()
    upgrade_to_head(settings.resolved_database_url)
    return settings


def test_experiment_runs_to_done_through_a_real_worker(
    e2e_settings: Settings, start_worker: Callable[..., Service], tiny_model_dir: Path
) -> None:
    worker = start_worker(e2e_settings)
    with TestClient(create_app(e2e_settings)) as client:
        sign_in_as_local_owner(client, e2e_settings)
        experiment_id, runs = submit_tiny_experiment(client, tiny_model_dir)
        wait_for(
            lambda: all_finished(runs()), 300, "every run to finish", lambda: f"{runs()}\n{worker.log()}"
        )
        check_results(client, experiment_id)
        # One task per run, each in its own pool process (recycled after every task here).
        claims = re.findall(r"run (\d+): claimed by worker-0@[^:]+:(\d+):", worker.log_path.read_text())
        assert sorted(int(run_id) for run_id, _ in claims) == [run["id"] for run in runs()]
        assert len({pid for _, pid in claims}) == len(claims)
        a_third_judge_judges_the_stored_responses(client, experiment_id, worker)


def a_third_judge_judges_the_stored_responses(
    client: TestClient, experiment_id: int, worker: Service
) -> None:
    """A judge added after the runs: the worker's rescoring judges every stored response, generating none."""
    sessions = client.app.state.session_factory  # type: ignore[attr-defined]
    stored = select(Generation.id, Generation.run_id, Generation.text, Generation.created_at).order_by(
        Generation.id
    )
    with sessions() as session:
        before = session.execute(stored).all()
    judge = client.post("/api/judges", json={"name": "third-phrases", "kind": "refusal-phrases"})
    assert judge.status_code == 201, judge.text
    added = client.post(f"/api/experiments/{experiment_id}/judges", json={"judges": ["third-phrases"]})
    assert added.status_code == 201, added.text

    def rescoring() -> dict:
        return client.get(f"/api/experiments/{experiment_id}").json()["rescorings"][0]

    wait_for(
        lambda: rescoring()["status"] == "done",
        120,
        "the rescoring",
        lambda: f"{rescoring()}\n{worker.log()}",
    )
    with sessions() as session:
        assert session.execute(stored).all() == before
        judged = session.scalar(
            select(func.count(Judgment.id)).where(Judgment.judge_id == judge.json()["id"])
        )
    assert judged == rescoring()["n_judged"] == len(before)
    analysis = client.get(f"/api/experiments/{experiment_id}/analysis").json()
    assert [view["judge"] for view in analysis["by_judge"]][-1] == "third-phrases@1"


def test_an_evaluation_only_run_waits_for_its_checkpoint_then_generates_with_it(
    e2e_settings: Settings, start_worker: Callable[..., Service], tiny_model_dir: Path
) -> None:
    conditions = [
        {"name": "tuned", "training": {"subset_size": 24, "batch_size": 4, "max_length": 64}},
        {
            "name": "hot",
            "evaluates": "tuned",
            "generation": {"max_new_tokens": 12, "samples_per_prompt": SAMPLES, "temperature": 1.0},
        },
    ]
    # Two workers: while one trains the checkpoint, the other is handed the run that evaluates it.
    # Started together, as `--gpus 0,1` starts them: on a fresh SQLite broker both create the queue
    # (backend.queue.declare_task_queue).
    workers = [start_worker(e2e_settings), start_worker(e2e_settings)]
    for worker in workers:
        wait_for(lambda w=worker: "adapters are read" in w.log(), 60, "the workers to start", worker.log)
    with TestClient(create_app(e2e_settings)) as client:
        sign_in_as_local_owner(client, e2e_settings)
        experiment_id, runs = submit_tiny_experiment(client, tiny_model_dir, seeds=[0], conditions=conditions)
        logs = lambda: "\n".join(worker.log() for worker in workers)  # noqa: E731
        wait_for(lambda: all_finished(runs()), 300, "every run to finish", lambda: f"{runs()}\n{logs()}")
        check_results(client, experiment_id)
        tuned, hot = (next(r for r in runs() if r["condition_name"] == name) for name in ("tuned", "hot"))
        assert (
            f"run {hot['id']}: waiting for run {tuned['id']} to train the checkpoint it evaluates" in logs()
        )
        assert set(hot["timings"]) == {"generating", "judging"}
        assert "training" in tuned["timings"]
