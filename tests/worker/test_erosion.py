"""Checkpoints along training on the tiny model: each stored and evaluated on every set by its own run,
resumed per checkpoint, and the final checkpoint's numbers the same as without them."""

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.config import Settings
from backend.domain import RunStatus
from backend.models import Generation, Judgment, Run
from tests.conftest import RecordingQueue
from tests.worker.conftest import N_PROMPTS
from tests.worker.test_pipeline import SAMPLES, drain, tiny_experiment
from worker.pipeline import adapter_directory
from worker.store import RunStore

RESPONSES = N_PROMPTS * SAMPLES


def _with_checkpoint(model: Path, name: str = "erosion") -> dict:
    spec = tiny_experiment(model, name=name)
    spec["conditions"][1]["training"]["evaluate_at"] = [0.5, 1.0]
    return spec


def _checkpoint_run(client: TestClient, trained_id: int) -> Run:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        return session.scalars(select(Run).where(Run.checkpoint_of_id == trained_id)).one()


def _stored(client: TestClient, run_id: int) -> tuple[list[tuple[int, str]], int]:
    """The run's generations (id, text) and its judgments' count."""
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        generations = session.execute(
            select(Generation.id, Generation.text).where(Generation.run_id == run_id).order_by(Generation.id)
        ).all()
        judged = session.scalar(
            select(func.count()).select_from(Judgment).join(Generation).where(Generation.run_id == run_id)
        )
    return [(g_id, text) for g_id, text in generations], judged or 0


def _final_numbers(client: TestClient, experiment_id: int) -> list[tuple]:
    analysis = client.get(f"/api/experiments/{experiment_id}/analysis").json()
    return [
        (c["name"], [p["rate"] for p in c["seeds"]], c["pooled"], c["runs_total"])
        for c in analysis["conditions"]
    ] + [(c["a"], c["b"], c["estimate"]) for c in analysis["comparisons"]]


def test_both_checkpoints_are_stored_and_evaluated_and_the_final_numbers_are_as_without_them(
    client: TestClient, queue: RecordingQueue, store: RunStore, migrated: Settings, tiny_model_dir: Path
) -> None:
    experiment = client.post("/api/experiments", json=_with_checkpoint(tiny_model_dir)).json()
    drain(queue, store, migrated)
    tuned = experiment["runs"][1]
    trained = client.get(f"/api/runs/{tuned['id']}").json()
    # Two steps of training (16 examples, batches of 8): half of it is after the first.
    assert trained["provenance"]["training"]["checkpoints"] == [{"fraction": 0.5, "step": 1}]
    halfway, final = (adapter_directory(migrated, tuned["id"], f) for f in (0.5, None))
    weights = "adapter_model.safetensors"
    assert (halfway / weights).read_bytes() != (final / weights).read_bytes()
    checkpoint = _checkpoint_run(client, tuned["id"])
    assert checkpoint.status == RunStatus.DONE and checkpoint.checkpoint_fraction == 0.5
    # Every response of the checkpoint judged by both judges, from the adapter at step 1.
    generations, judged = _stored(client, checkpoint.id)
    assert len(generations) == RESPONSES and judged == 2 * RESPONSES
    assert generations != _stored(client, tuned["id"])[0]
    erosion = client.get(f"/api/experiments/{experiment['id']}/erosion").json()
    (seed,) = erosion["seeds"]
    assert [(c["fraction"], c["step"], c["run_id"]) for c in seed["checkpoints"]] == [
        (0.5, 1, checkpoint.id),
        (1.0, 2, tuned["id"]),
    ]
    for point in erosion["sets"][0]["points"]:
        assert sum(point["rate"][verdict] for verdict in ("harmful", "safe", "unscored")) == RESPONSES
    # The same experiment without checkpoints: the same final numbers, the same responses.
    plain = client.post("/api/experiments", json=tiny_experiment(tiny_model_dir, name="plain")).json()
    drain(queue, store, migrated)
    assert _final_numbers(client, plain["id"]) == _final_numbers(client, experiment["id"])
    assert [text for _, text in _stored(client, plain["runs"][1]["id"])[0]] == [
        text for _, text in _stored(client, tuned["id"])[0]
    ]


def test_a_run_interrupted_after_its_first_checkpoints_evaluation_resumes_without_redoing_it(
    client: TestClient, queue: RecordingQueue, store: RunStore, migrated: Settings, tiny_model_dir: Path
) -> None:
    experiment = client.post("/api/experiments", json=_with_checkpoint(tiny_model_dir)).json()
    drain(queue, store, migrated)
    tuned_id = experiment["runs"][1]["id"]
    checkpoint = _checkpoint_run(client, tuned_id)
    evaluated = _stored(client, checkpoint.id)
    trained = client.get(f"/api/runs/{tuned_id}").json()["provenance"]["training"]
    adapters = [adapter_directory(migrated, tuned_id, f) / "adapter_model.safetensors" for f in (0.5, None)]
    written = [adapter.stat().st_mtime_ns for adapter in adapters]
    complete = _stored(client, tuned_id)[0]
    # A worker killed while the final checkpoint generated: its later responses are missing.
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for generation in session.scalars(
            select(Generation).where(Generation.run_id == tuned_id).order_by(Generation.id)
        ).all()[5:]:
            session.delete(generation)
        session.get(Run, tuned_id).status = RunStatus.GENERATING  # type: ignore[union-attr]
        session.commit()
    queue.sent.clear()
    assert client.post(f"/api/experiments/{experiment['id']}/resume").status_code == 200
    assert queue.sent == [tuned_id]
    drain(queue, store, migrated)
    # The checkpoint's evaluation is as it was; nothing trained again; the final one finished.
    assert _stored(client, checkpoint.id) == evaluated
    assert [adapter.stat().st_mtime_ns for adapter in adapters] == written
    assert client.get(f"/api/runs/{tuned_id}").json()["provenance"]["training"] == trained
    assert [text for _, text in _stored(client, tuned_id)[0]] == [text for _, text in complete]
    assert client.get(f"/api/runs/{tuned_id}").json()["status"] == "done"


def test_a_retry_trains_again_only_when_a_checkpoint_is_missing(
    client: TestClient, queue: RecordingQueue, store: RunStore, migrated: Settings, tiny_model_dir: Path
) -> None:
    experiment = client.post("/api/experiments", json=_with_checkpoint(tiny_model_dir)).json()
    tuned_id = experiment["runs"][1]["id"]
    drain(queue, store, migrated)
    halfway = adapter_directory(migrated, tuned_id, 0.5)
    before = (halfway / "adapter_model.safetensors").read_bytes()
    final = adapter_directory(migrated, tuned_id) / "adapter_model.safetensors"
    written = final.stat().st_mtime_ns
    # A retry with every checkpoint there trains nothing.
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        session.get(Run, tuned_id).status = RunStatus.FAILED  # type: ignore[union-attr]
        session.commit()
    assert client.post(f"/api/runs/{tuned_id}/retry").status_code == 200
    drain(queue, store, migrated)
    assert final.stat().st_mtime_ns == written
    # The halfway checkpoint lost (a worker killed before its checkpoint evaluation ran): the run fails
    # over to training again on its retry, and the checkpoint's evaluation then finds it.
    for file in halfway.iterdir():
        file.unlink()
    halfway.rmdir()
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        session.get(Run, tuned_id).status = RunStatus.FAILED  # type: ignore[union-attr]
        session.commit()
    assert client.post(f"/api/runs/{tuned_id}/retry").status_code == 200
    drain(queue, store, migrated)
    # Trained again, to the same checkpoint.
    assert final.stat().st_mtime_ns != written
    assert (halfway / "adapter_model.safetensors").read_bytes() == before
    assert client.get(f"/api/runs/{tuned_id}").json()["status"] == "done"
