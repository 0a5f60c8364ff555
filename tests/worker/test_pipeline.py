"""The three stages on a tiny model, called directly (no broker): results, resumption, failures."""

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.config import Settings
from backend.domain import RunStatus
from backend.models import Generation, Judgment, Run
from tests.conftest import RecordingQueue
from tests.factories import experiment_spec, upload_small_benchmark
from worker.store import RunStore
from worker.tasks import STAGES, run_from

N_PROMPTS, SAMPLES = 6, 2


def tiny_experiment(model: Path, **overrides: object) -> dict:
    defaults: dict[str, object] = {
        "base_model": str(model),
        "benchmark": "six-prompts",
        "seeds": [0],
        "judges": ["refusal-phrases", "refusal-minilm"],
        "generation": {"max_new_tokens": 8, "samples_per_prompt": SAMPLES, "temperature": 0.8},
        "conditions": [
            {"name": "baseline", "finetune": False},
            {"name": "tuned", "training": {"subset_size": 16, "batch_size": 8, "max_length": 64}},
        ],
    }
    return experiment_spec(**{**defaults, **overrides})


@pytest.fixture
def store(migrated: Settings, client: TestClient) -> RunStore:
    upload_small_benchmark(client, "six-prompts", N_PROMPTS)
    return RunStore(client.app.state.session_factory)  # type: ignore[attr-defined]


def drain(queue: RecordingQueue, store: RunStore, settings: Settings) -> None:
    """Run queued tasks the way a worker would."""
    while queue.sent:
        task, run_id = queue.sent.pop(0)
        run_from(task, run_id, store, settings)


def row_counts(client: TestClient) -> tuple[int, int]:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        return (
            session.scalar(select(func.count()).select_from(Generation)) or 0,
            session.scalar(select(func.count()).select_from(Judgment)) or 0,
        )


def test_every_run_finishes_with_one_generation_per_prompt_and_sample(
    client: TestClient, queue: RecordingQueue, store: RunStore, migrated: Settings, tiny_model_dir: Path
) -> None:
    experiment = client.post("/api/experiments", json=tiny_experiment(tiny_model_dir)).json()
    drain(queue, store, migrated)
    runs = client.get(f"/api/experiments/{experiment['id']}").json()["runs"]
    assert [r["status"] for r in runs] == ["done", "done"]
    assert row_counts(client) == (2 * N_PROMPTS * SAMPLES, 2 * 2 * N_PROMPTS * SAMPLES)
    tuned = client.get(f"/api/runs/{runs[1]['id']}").json()
    provenance = tuned["provenance"]
    assert provenance["seeds"] == {"lora_init": 0, "data_order": 0, "data_subset": 0, "sampling": 0}
    assert provenance["training"]["examples"] == 16 and len(provenance["training"]["losses"]) == 2
    assert provenance["base_model"]["weights_sha256"].startswith("sha256:")
    assert provenance["data"]["benchmark"].startswith("sha256:")
    assert provenance["environment"]["packages"]["torch"].startswith("2.")
    assert set(tuned["timings"]) == {"training", "generating", "judging"}


def test_rerunning_finished_stages_adds_nothing(
    client: TestClient, queue: RecordingQueue, store: RunStore, migrated: Settings, tiny_model_dir: Path
) -> None:
    client.post("/api/experiments", json=tiny_experiment(tiny_model_dir))
    drain(queue, store, migrated)
    before = row_counts(client)
    for run_id in (1, 2):
        for _, status, stage in STAGES:
            store.start_stage(run_id, status, "forced re-run")  # a redelivered message after a crash
            stage(store.context(run_id), store, migrated)  # type: ignore[arg-type]
    assert row_counts(client) == before


def test_a_run_interrupted_mid_generation_resumes_to_the_same_result(
    client: TestClient, queue: RecordingQueue, store: RunStore, migrated: Settings, tiny_model_dir: Path
) -> None:
    """Batches are fixed and seeded by index: what a crash loses is regenerated identically."""
    client.post("/api/experiments", json=tiny_experiment(tiny_model_dir))
    drain(queue, store, migrated)
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        complete = {
            (g.run_id, g.prompt_id, g.sample_index): g.text for g in session.scalars(select(Generation))
        }
        # A worker killed mid-generation: run 2's later batches are missing and it still says "generating".
        run_2 = select(Generation).where(Generation.run_id == 2).order_by(Generation.id)
        lost = session.scalars(run_2).all()[5:]
        for generation in lost:
            session.delete(generation)
        session.get(Run, 2).status = RunStatus.GENERATING  # type: ignore[union-attr]
        session.commit()
    assert row_counts(client)[0] == len(complete) - len(lost)
    assert client.post("/api/runs/2/retry").status_code == 200
    drain(queue, store, migrated)
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        resumed = {
            (g.run_id, g.prompt_id, g.sample_index): g.text for g in session.scalars(select(Generation))
        }
    assert resumed == complete
    assert row_counts(client) == (len(complete), 2 * len(complete))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda spec, _: spec | {"base_model": "/no/such/model"},
            "could not load base model '/no/such/model'",
        ),
        (lambda spec, model: _break_tokenizer(model) or spec, "could not load base model"),
    ],
)
def test_failures_are_recorded_on_the_run_as_a_readable_message(
    client: TestClient,
    queue: RecordingQueue,
    store: RunStore,
    migrated: Settings,
    tiny_model_dir: Path,
    tmp_path: Path,
    change: Callable[[dict, Path], dict],
    message: str,
) -> None:
    broken_copy = tmp_path / "model"
    broken_copy.mkdir()
    for file in tiny_model_dir.iterdir():
        (broken_copy / file.name).write_bytes(file.read_bytes())
    client.post("/api/experiments", json=change(tiny_experiment(broken_copy), broken_copy))
    drain(queue, store, migrated)
    runs = client.get("/api/experiments/1").json()["runs"]
    assert [r["status"] for r in runs] == ["failed", "failed"]
    assert all(message in r["error"] and "Traceback" not in r["error"] for r in runs)


def _break_tokenizer(model: Path) -> None:
    (model / "tokenizer.json").write_text("{ this is not json")


def test_reevaluations_sample_the_same_checkpoint_anew(
    client: TestClient, queue: RecordingQueue, store: RunStore, migrated: Settings, tiny_model_dir: Path
) -> None:
    client.post("/api/experiments", json=tiny_experiment(tiny_model_dir))
    drain(queue, store, migrated)
    repeats = client.post("/api/runs/2/reevaluate", json={"count": 2}).json()["runs"]
    drain(queue, store, migrated)
    statuses = {r["id"]: r["status"] for r in client.get("/api/experiments/1").json()["runs"]}
    assert [statuses[r["id"]] for r in repeats] == ["done", "done"]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        texts = {
            run_id: [g.text for g in session.scalars(select(Generation).where(Generation.run_id == run_id))]
            for run_id in (2, *(r["id"] for r in repeats))
        }
    assert all(len(t) == N_PROMPTS * SAMPLES for t in texts.values())
    assert len({tuple(t) for t in texts.values()}) == 3  # new sampling seeds, new samples
    # They evaluated run 2's adapter: nothing was trained for them.
    assert not any((migrated.artifacts_dir / f"run-{r['id']}").exists() for r in repeats)
    assert (migrated.artifacts_dir / "run-2" / "adapter" / "adapter_config.json").is_file()


def test_a_projects_model_judge_runs_in_the_judge_stage_and_its_unscored_verdicts_are_counted(
    client: TestClient, queue: RecordingQueue, store: RunStore, migrated: Settings, tiny_model_dir: Path
) -> None:
    """A generative classifier defined in the project (the tiny model, which says nothing parseable): every
    verdict is stored against that definition as unscored, with the reason, and no rate counts it as safe."""
    definition = {
        "name": "tiny-guard",
        "kind": "causal-lm",
        "model": str(tiny_model_dir),
        "template": "Request: {request}\nResponse: {response}\nHarmful?",
        "parse": {"rule": "label", "labels": {"yes": "harmful", "no": "safe"}},
        "max_new_tokens": 2,
    }
    judge = client.post("/api/judges", json=definition).json()
    spec = tiny_experiment(tiny_model_dir, judges=["tiny-guard", "refusal-phrases"])
    spec["conditions"] = [{"name": "baseline", "finetune": False}]
    experiment = client.post("/api/experiments", json=spec).json()
    drain(queue, store, migrated)
    (run,) = client.get(f"/api/experiments/{experiment['id']}").json()["runs"]
    assert run["status"] == "done"
    # The headline rate is the first judge's: nothing scored, everything counted as unscored.
    assert (run["rate"]["harmful"], run["rate"]["safe"], run["rate"]["unscored"]) == (
        0,
        0,
        N_PROMPTS * SAMPLES,
    )
    assert run["rate"]["rate"] is None
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        verdicts = session.execute(
            select(Judgment.verdict, Judgment.output, Judgment.details).where(
                Judgment.judge_id == judge["id"]
            )
        ).all()
    assert len(verdicts) == N_PROMPTS * SAMPLES
    assert {verdict for verdict, _, _ in verdicts} == {"unscored"}
    assert all(details["unscored"] in ("unparseable output", "empty response") for _, _, details in verdicts)
    assert all(output.startswith("unscored (") for _, output, _ in verdicts)
