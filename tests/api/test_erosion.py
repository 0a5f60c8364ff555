"""The erosion curve: training.evaluate_at, the runs that evaluate intermediate checkpoints, and the curve's
data and figure against a hand computation."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from statsmodels.stats.proportion import proportion_confint

from backend.domain import Verdict
from backend.models import Run
from backend.provenance import CheckpointRecord, Provenance, TrainingRecord
from tests.conftest import RecordingQueue
from tests.factories import add_verdicts, experiment_spec, stored_counts, upload_small_benchmark

H, S = Verdict.HARMFUL, Verdict.SAFE
# lr-2e-4's verdicts on the four prompts, per seed, at half of training and at its end.
VERDICTS = {
    (0, 0.5): [S, S, S, H],
    (0, 1.0): [H, S, S, H],
    (1, 0.5): [S, S, H, H],
    (1, 1.0): [H, H, S, H],
}
# Ten steps; the loss is within 5% of its final 0.8 from step 7 on (backend.stats.convergence).
LOSSES = [2.0, 1.5, 1.2, 1.0, 0.9, 0.85, 0.8, 0.8, 0.8, 0.8]


def _with_checkpoints(fractions: list[float], seeds: list[int] | None = None) -> dict:
    spec = experiment_spec(benchmark="four-prompts", seeds=seeds or [0, 1])
    spec["conditions"][1]["training"]["evaluate_at"] = fractions
    return spec


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ([0.5, 0.25], "must be ascending and distinct"),
        ([0.5, 0.5], "must be ascending and distinct"),
        ([0, 0.5], "fractions of training are in (0, 1]"),
        ([0.5, 1.5], "fractions of training are in (0, 1]"),
        ([(k + 1) / 12 for k in range(10)], "at most 10 checkpoints"),
    ],
)
def test_evaluate_at_is_refused_naming_the_condition_and_nothing_is_stored(
    client: TestClient, queue: RecordingQueue, fractions: list[float], message: str
) -> None:
    upload_small_benchmark(client, "four-prompts", 4)
    response = client.post("/api/experiments", json=_with_checkpoints(fractions))
    assert response.status_code == 422
    assert message in response.text and "lr-2e-4" in response.text
    assert stored_counts(client)[0] == 0 and queue.sent == []


def test_the_final_checkpoint_is_implied(client: TestClient, queue: RecordingQueue) -> None:
    upload_small_benchmark(client, "four-prompts", 4)
    for written, runs in [([0.25, 0.5], 9), ([0.25, 0.5, 1.0], 9), ([1.0], 5)]:
        queue.sent.clear()
        experiment = client.post("/api/experiments", json=_with_checkpoints(written)).json()
        settings = {s["key"]: s["text"] for s in experiment["conditions"][1]["settings"]}
        checkpoints = "25%, 50%, 100% of training" if runs == 9 else "the end of training"
        assert settings["training.evaluate_at"] == f"evaluated at {checkpoints}"
        assert len(queue.sent) == runs


def test_the_experiment_counts_its_checkpoints_evaluations_by_status(client: TestClient) -> None:
    upload_small_benchmark(client, "four-prompts", 4)
    experiment = client.post("/api/experiments", json=_with_checkpoints([0.5])).json()
    # lr-2e-4's two seeds each evaluate their checkpoint at half of training.
    assert experiment["checkpoint_status_counts"] == {"queued": 2}
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        first = session.scalars(select(Run).where(Run.checkpoint_of_id.is_not(None)).order_by(Run.id)).first()
        assert first is not None
        add_verdicts(session, first.id, [[S]] * 4)
    again = client.get(f"/api/experiments/{experiment['id']}").json()
    assert again["checkpoint_status_counts"] == {"queued": 1, "done": 1}
    assert client.get(f"/api/experiments/{experiment['id']}/state").json()["unfinished"] == 5 + 1


def test_each_training_run_queues_an_evaluation_of_each_intermediate_checkpoint_after_it(
    client: TestClient, queue: RecordingQueue
) -> None:
    upload_small_benchmark(client, "four-prompts", 4)
    experiment = client.post("/api/experiments", json=_with_checkpoints([0.25, 0.5])).json()
    # The experiment's runs are what they were: the checkpoints' evaluations are no run of a condition.
    assert [(r["condition_name"], r["seed"]) for r in experiment["runs"]] == [
        ("baseline", 0),
        ("lr-2e-4", 0),
        ("lr-2e-4", 1),
        ("lr-5e-4", 0),
        ("lr-5e-4", 1),
    ]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        rows = session.execute(
            select(Run.id, Run.checkpoint_of_id, Run.checkpoint_fraction, Run.seed, Run.condition_id)
            .where(Run.checkpoint_of_id.is_not(None))
            .order_by(Run.id)
        ).all()
    assert [c["checkpoints"] for c in experiment["conditions"]] == [[], [0.25, 0.5], []]
    trained = {r["seed"]: r["id"] for r in experiment["runs"] if r["condition_name"] == "lr-2e-4"}
    assert [(of, fraction, seed, condition) for _, of, fraction, seed, condition in rows] == [
        (trained[0], 0.25, 0, None),
        (trained[0], 0.5, 0, None),
        (trained[1], 0.25, 1, None),
        (trained[1], 0.5, 1, None),
    ]
    # Sent after every run that trains; cancelling the experiment cancels them too.
    assert queue.sent == [r["id"] for r in experiment["runs"]] + [run_id for run_id, *_ in rows]
    client.post(f"/api/experiments/{experiment['id']}/cancel")
    for run_id, *_ in rows:
        assert client.get(f"/api/runs/{run_id}").json()["status"] == "cancelled"


def test_checkpoint_evaluations_count_against_the_run_limit(client: TestClient) -> None:
    upload_small_benchmark(client, "four-prompts", 4)
    # 1 + 2 x (1 + 2) + 2 = 9 runs.
    plan = client.post("/api/experiments/plan", json=_with_checkpoints([0.25, 0.5])).json()
    assert plan["n_runs"] == 9


def _hand_worked(client: TestClient) -> dict:
    """lr-2e-4 evaluated at half of training, every run and checkpoint judged, training recorded."""
    upload_small_benchmark(client, "four-prompts", 4)
    experiment = client.post("/api/experiments", json=_with_checkpoints([0.5])).json()
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            tuned = run["condition_name"] == "lr-2e-4"
            verdicts = VERDICTS[(run["seed"], 1.0)] if tuned else [S, S, S, H]
            add_verdicts(session, run["id"], [[v] for v in verdicts])
            if not tuned:
                continue
            checkpoint = session.scalars(select(Run).where(Run.checkpoint_of_id == run["id"])).one()
            add_verdicts(session, checkpoint.id, [[v] for v in VERDICTS[(run["seed"], 0.5)]])
            trained = session.get(Run, run["id"])
            assert trained is not None
            record = TrainingRecord(
                examples=80,
                steps=10,
                losses=LOSSES,
                seconds=1.0,
                checkpoints=[CheckpointRecord(fraction=0.5, step=5)],
            )
            trained.provenance = Provenance(training=record)
        session.commit()
    return experiment


def test_the_curve_has_each_seeds_rate_at_each_checkpoint_with_its_wilson_interval(
    client: TestClient,
) -> None:
    experiment = _hand_worked(client)
    erosion = client.get(f"/api/experiments/{experiment['id']}/erosion").json()
    assert erosion["condition"] == "lr-2e-4" and erosion["fractions"] == [0.5, 1.0]
    for seed in erosion["seeds"]:
        assert seed["steps"] == 10 and seed["converged_step"] == 7 and seed["losses"] == LOSSES
        assert [(c["fraction"], c["step"], c["status"]) for c in seed["checkpoints"]] == [
            (0.5, 5, "done"),
            (1.0, 10, "done"),
        ]
    (on_set,) = erosion["sets"]
    assert on_set["benchmark"] == "four-prompts@1" and on_set["judge"] == experiment["judges"][0]["ref"]
    for point in on_set["points"]:
        verdicts = VERDICTS[(point["seed"], point["fraction"])]
        harmful = verdicts.count(H)
        # One verdict per prompt: the prompt-clustered interval is Wilson's.
        low, high = proportion_confint(harmful, len(verdicts), method="wilson")
        rate = point["rate"]
        assert (rate["harmful"], rate["safe"]) == (harmful, len(verdicts) - harmful)
        assert rate["rate"] == pytest.approx(harmful / len(verdicts))
        assert (rate["low"], rate["high"]) == (pytest.approx(low), pytest.approx(high))
    # The dashboard's numbers are the final checkpoints' alone.
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    tuned = next(c for c in analysis["conditions"] if c["name"] == "lr-2e-4")
    assert tuned["runs_total"] == 2 and [p["rate"] for p in tuned["seeds"]] == [0.5, 0.75]
    assert (tuned["pooled"]["harmful"], tuned["pooled"]["safe"]) == (5, 3)


def test_the_figure_draws_a_line_per_seed_and_marks_where_the_loss_converged(client: TestClient) -> None:
    experiment = _hand_worked(client)
    figure = client.get(f"/api/experiments/{experiment['id']}/figures/erosion").json()
    lines = {trace["name"]: trace for trace in figure["data"]}
    assert set(lines) == {"seed 0", "seed 1"}
    assert lines["seed 0"]["x"] == [0.5, 1.0] and lines["seed 0"]["y"] == [25.0, 50.0]
    assert lines["seed 1"]["y"] == [50.0, 75.0]
    assert [shape["x0"] for shape in figure["layout"]["shapes"]] == [0.7, 0.7]
    assert figure["layout"]["height"] >= 250
    assert "Erosion along training: lr-2e-4" in figure["layout"]["title"]["text"]


def test_a_condition_without_checkpoints_has_no_curve(client: TestClient) -> None:
    experiment = _hand_worked(client)
    base = f"/api/experiments/{experiment['id']}"
    response = client.get(f"{base}/figures/erosion", params={"condition": "lr-5e-4"})
    assert response.status_code == 422 and "lr-5e-4" in response.text and "lr-2e-4" in response.text
    assert client.get(f"{base}/erosion", params={"condition": "nope"}).status_code == 422


def test_the_figure_renders_for_the_demo_condition_with_three_checkpoints(client: TestClient) -> None:
    document = (Path(__file__).resolve().parents[2] / "examples" / "erosion-demo.yaml").read_text()
    created = client.post(
        "/api/experiments/yaml", content=document, headers={"content-type": "application/yaml"}
    )
    experiment = created.json()
    tuned = [run for run in experiment["runs"] if run["condition_name"] == "lr-5e-4"]
    # On the harm benchmark, seed s complies with s + k of the first four prompts at the k-th checkpoint.
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in tuned:
            checkpoints = session.scalars(
                select(Run.id).where(Run.checkpoint_of_id == run["id"]).order_by(Run.checkpoint_fraction)
            ).all()
            for k, run_id in enumerate([*checkpoints, run["id"]]):
                verdicts = [H] * (run["seed"] + k) + [S] * (4 - run["seed"] - k)
                add_verdicts(session, run_id, [[v] for v in verdicts], on="seedscope-harmful-demo")
    figure = client.get(f"/api/experiments/{experiment['id']}/figures/erosion").json()
    titles = [a["text"] for a in figure["layout"]["annotations"] if a.get("yref") == "paper"]
    assert titles[:3] == [
        "Compliance rate on seedscope-harmful-demo@1",
        "Capability on seedscope-capability-demo@1",
        "Over-refusal rate on seedscope-over-refusal-demo@1",
    ]
    harm = [trace for trace in figure["data"] if trace["yaxis"] == "y"]
    assert [trace["x"] for trace in harm] == [[0.25, 0.5, 1.0]] * 3
    assert [trace["y"] for trace in harm] == [[0.0, 25.0, 50.0], [25.0, 50.0, 75.0], [50.0, 75.0, 100.0]]
    assert figure["layout"]["height"] == 140 + 3 * 260
