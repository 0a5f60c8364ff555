"""The experiments API on a temporary SQLite database, with the broker replaced by a recorder."""

from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from backend.domain import RunStatus
from backend.experiment_definition import SEED_LIMIT
from backend.jobs import JobKind
from tests.conftest import RecordingQueue
from tests.factories import experiment_spec


def _stored_counts(client: TestClient) -> tuple[int, int]:
    experiments = client.get("/api/experiments").json()
    runs = sum(sum(e["status_counts"].values()) for e in experiments["items"])
    return experiments["total"], runs


def test_submit_stores_one_queued_run_per_condition_and_seed(
    client: TestClient, queue: RecordingQueue
) -> None:
    response = client.post("/api/experiments", json=experiment_spec())
    assert response.status_code == 201
    experiment = response.json()
    runs = experiment["runs"]
    assert [(r["condition_name"], r["seed"]) for r in runs] == [
        ("baseline", 0),
        ("lr-2e-4", 0),
        ("lr-2e-4", 1),
        ("lr-5e-4", 0),
        ("lr-5e-4", 1),
    ]
    assert {r["status"] for r in runs} == {"queued"}
    assert experiment["benchmark"] == "seedscope-harmful-demo@1"
    assert experiment["runs_here"] is True
    # One task per run; the worker works out which stage each needs.
    assert queue.sent == [r["id"] for r in runs]


def test_each_seed_is_recorded_and_pinned_seeds_stay_fixed(client: TestClient) -> None:
    spec = experiment_spec(
        seeds=[3, 4], conditions=[{"name": "order-only", "pin_seeds": {"lora_init": 7, "data_subset": 7}}]
    )
    runs = client.post("/api/experiments", json=spec).json()["runs"]
    assert [
        (r["lora_init_seed"], r["data_order_seed"], r["data_subset_seed"], r["sampling_seed"]) for r in runs
    ] == [
        (7, 3, 7, 3),
        (7, 4, 7, 4),
    ]


def test_yaml_submission_equals_json_submission(client: TestClient) -> None:
    from_yaml = client.post(
        "/api/experiments/yaml",
        content=yaml.safe_dump(experiment_spec()).encode(),
        headers={"content-type": "application/yaml"},
    )
    assert from_yaml.status_code == 201
    from_json = client.post("/api/experiments", json=experiment_spec()).json()
    assert from_yaml.json()["spec"] == from_json["spec"]
    assert len(from_yaml.json()["runs"]) == len(from_json["runs"])


@pytest.mark.parametrize(
    ("spec", "status", "message"),
    [
        (experiment_spec(benchmark="no-such-benchmark"), 422, "unknown benchmark 'no-such-benchmark'"),
        (experiment_spec(training_set="nope@3"), 422, "unknown training set 'nope@3'"),
        (experiment_spec(seeds=[]), 422, "seeds"),
        (
            experiment_spec(conditions=[{"name": "a", "training": {"learning_rate": -0.001}}]),
            422,
            "learning_rate",
        ),
        (experiment_spec(conditions=[{"name": "a", "lora": {"rank": 0}}]), 422, "rank"),
        (experiment_spec(judges=["gpt-judge"]), 422, "unknown judge"),
        (experiment_spec(base_model="embedded:gpt-5"), 422, "unknown embedded model"),
        (experiment_spec(base_model="not a model"), 422, "neither an embedded model"),
        (
            experiment_spec(conditions=[{"name": "a", "training": {"subset_size": 10_000}}]),
            422,
            "subset_size",
        ),
    ],
)
def test_bad_input_is_a_clear_4xx_and_stores_nothing(
    client: TestClient, queue: RecordingQueue, spec: dict, status: int, message: str
) -> None:
    response = client.post("/api/experiments", json=spec)
    assert response.status_code == status
    assert message in str(response.json()["detail"])
    assert _stored_counts(client) == (0, 0)
    assert queue.sent == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("name: x\nseeds: [0, 1\n", "malformed YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        (yaml.safe_dump(experiment_spec(seeds=[])), "seeds"),
        (yaml.safe_dump(experiment_spec(conditions=[{"name": "a", "lora": {"rank": 0}}])), "lora.rank"),
    ],
)
def test_bad_yaml_is_a_clear_422_and_stores_nothing(client: TestClient, document: str, message: str) -> None:
    response = client.post(
        "/api/experiments/yaml", content=document.encode(), headers={"content-type": "application/yaml"}
    )
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert _stored_counts(client) == (0, 0)


def test_unknown_ids_are_404(client: TestClient) -> None:
    assert client.get("/api/experiments/999").status_code == 404
    assert client.get("/api/runs/999").status_code == 404
    assert client.post("/api/runs/999/retry").status_code == 404
    assert client.get("/api/runs/999/generations").status_code == 404


def test_cancel_then_retry(client: TestClient, queue: RecordingQueue) -> None:
    experiment = client.post("/api/experiments", json=experiment_spec()).json()
    cancelled = client.post(f"/api/experiments/{experiment['id']}/cancel").json()
    assert {r["status"] for r in cancelled["runs"]} == {RunStatus.CANCELLED}
    run = cancelled["runs"][1]
    queue.sent.clear()
    retried = client.post(f"/api/runs/{run['id']}/retry")
    assert retried.status_code == 200
    assert retried.json()["status"] == RunStatus.QUEUED
    assert queue.sent == [run["id"]]


def test_broker_down_fails_the_runs_with_a_message(client: TestClient, queue: RecordingQueue) -> None:
    def refuse(kind: JobKind[Any], job_id: int) -> None:
        raise ConnectionRefusedError("connection refused")

    queue.enqueue = refuse  # type: ignore[method-assign]
    response = client.post("/api/experiments", json=experiment_spec())
    assert response.status_code == 503
    assert "could not reach the task broker" in response.json()["detail"]
    runs = client.get("/api/experiments/1").json()["runs"]
    assert {r["status"] for r in runs} == {RunStatus.FAILED}
    assert all("retry" in r["error"] for r in runs)


def test_more_seeds_join_every_fine_tuned_condition_as_a_marked_extension(
    client: TestClient, queue: RecordingQueue
) -> None:
    experiment = client.post("/api/experiments", json=experiment_spec(seeds=[0, 1])).json()
    queue.sent.clear()
    response = client.post(f"/api/experiments/{experiment['id']}/seeds", json={"count": 2})
    assert response.status_code == 201
    extended = response.json()
    added = [r for r in extended["runs"] if r["added_in"] == 1]
    # The next unused seeds, the same for both fine-tuned conditions (so they stay paired); none for
    # the baseline.
    assert sorted((r["condition_name"], r["seed"]) for r in added) == [
        ("lr-2e-4", 2),
        ("lr-2e-4", 3),
        ("lr-5e-4", 2),
        ("lr-5e-4", 3),
    ]
    assert queue.sent == sorted(r["id"] for r in added)
    specs = {c["name"]: c["spec"] for c in extended["conditions"]}
    assert specs["lr-2e-4"]["seeds"] == [0, 1, 2, 3] and specs["baseline"]["seeds"] == [0]
    # A second extension for one condition is the next one.
    again = client.post(
        f"/api/experiments/{experiment['id']}/seeds", json={"count": 1, "condition": "lr-5e-4"}
    )
    assert [(r["condition_name"], r["seed"]) for r in again.json()["runs"] if r["added_in"] == 2] == [
        ("lr-5e-4", 4)
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"count": 3, "condition": "baseline"}, "untuned baseline"),
        ({"count": 3, "condition": "nope"}, "no condition named 'nope'"),
        ({"count": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_seed_extensions_are_refused_and_store_nothing(
    client: TestClient, body: dict, message: str
) -> None:
    experiment = client.post("/api/experiments", json=experiment_spec()).json()
    response = client.post(f"/api/experiments/{experiment['id']}/seeds", json=body)
    assert response.status_code == 422 and message in response.text
    assert len(client.get(f"/api/experiments/{experiment['id']}").json()["runs"]) == len(experiment["runs"])


def test_seeds_past_the_largest_are_refused_and_the_experiment_still_reads(client: TestClient) -> None:
    """The next seeds after the largest valid seed would be stored where no definition could read them."""
    experiment = client.post("/api/experiments", json=experiment_spec(seeds=[SEED_LIMIT - 1])).json()
    response = client.post(f"/api/experiments/{experiment['id']}/seeds", json={"count": 2})
    assert response.status_code == 422 and f"would pass the largest seed, {SEED_LIMIT}" in response.text
    after = client.get(f"/api/experiments/{experiment['id']}")
    assert after.status_code == 200 and len(after.json()["runs"]) == len(experiment["runs"])
    assert client.post(f"/api/experiments/{experiment['id']}/seeds", json={"count": 1}).status_code == 201


def test_a_new_condition_runs_on_the_fine_tuned_seeds(client: TestClient, queue: RecordingQueue) -> None:
    experiment = client.post("/api/experiments", json=experiment_spec(seeds=[0, 1])).json()
    queue.sent.clear()
    condition = {"name": "lr-1e-3", "training": {"learning_rate": 1e-3}}
    response = client.post(f"/api/experiments/{experiment['id']}/conditions", json=condition)
    assert response.status_code == 201
    added = [r for r in response.json()["runs"] if r["condition_name"] == "lr-1e-3"]
    assert [(r["seed"], r["added_in"], r["status"]) for r in added] == [(0, 1, "queued"), (1, 1, "queued")]
    assert queue.sent == [r["id"] for r in added]
    duplicate = client.post(f"/api/experiments/{experiment['id']}/conditions", json=condition)
    assert duplicate.status_code == 409 and "already has a condition named 'lr-1e-3'" in duplicate.text
    too_big = {"name": "subset", "training": {"subset_size": 100_000}}
    refused = client.post(f"/api/experiments/{experiment['id']}/conditions", json=too_big)
    assert refused.status_code == 422 and "subset_size 100000 exceeds" in refused.text


def test_the_plan_counts_runs_and_stores_nothing(client: TestClient) -> None:
    plan = client.post("/api/experiments/plan", json=experiment_spec(seeds=[0, 1, 2])).json()
    # baseline: seed 0; two fine-tuned conditions x 3 seeds.
    assert (plan["n_runs"], plan["n_fine_tuned_runs"], plan["seeds_per_condition"]) == (7, 6, 3)
    assert plan["sizing"] is None and "no earlier experiment" in plan["sizing_basis"]
    assert client.get("/api/experiments").json()["total"] == 0
    bad = client.post("/api/experiments/plan", json=experiment_spec(benchmark="nope"))
    assert bad.status_code == 422 and "nope" in bad.text


GRID = {"factors": {"training.learning_rate": [2e-4, 5e-4], "lora.rank": [4, 8]}}


def test_a_grid_submitted_as_yaml_or_json_runs_every_combination(
    client: TestClient, queue: RecordingQueue
) -> None:
    spec = experiment_spec(conditions=[{"name": "baseline", "finetune": False, "seeds": [0]}], grid=GRID)
    plan = client.post("/api/experiments/plan", json=spec).json()
    assert (plan["n_runs"], plan["n_fine_tuned_runs"]) == (9, 8)
    # The factors' order names the conditions: the YAML keeps it.
    document = yaml.safe_dump(spec, sort_keys=False)
    from_yaml = client.post(
        "/api/experiments/yaml", content=document, headers={"content-type": "application/yaml"}
    )
    assert from_yaml.status_code == 201, from_yaml.text
    from_json = client.post("/api/experiments", json=spec).json()
    assert from_yaml.json()["spec"] == from_json["spec"]
    conditions = {c["name"]: c["spec"]["levels"] for c in from_json["conditions"]}
    assert conditions["learning_rate=0.0005 rank=4"] == {"training.learning_rate": 5e-4, "lora.rank": 4}
    assert len(conditions) == 5 and len(from_json["runs"]) == 9
    # A condition added later is not part of the grid.
    added = {"name": "late", "levels": {"lora.rank": 4}, "lora": {"rank": 4}}
    refused = client.post(f"/api/experiments/{from_json['id']}/conditions", json=added)
    assert refused.status_code == 422 and "not part of the experiment's grid" in refused.text


def test_a_bad_grid_is_a_422_naming_the_factor_and_stores_nothing(
    client: TestClient, queue: RecordingQueue
) -> None:
    bad = experiment_spec(grid={"factors": {"training.momentum": [0.9, 0.99]}})
    for response in (
        client.post("/api/experiments", json=bad),
        client.post(
            "/api/experiments/yaml", content=yaml.safe_dump(bad), headers={"content-type": "application/yaml"}
        ),
        client.post("/api/experiments/plan", json=bad),
    ):
        assert response.status_code == 422
        assert "grid factor 'training.momentum'" in str(response.json()["detail"])
    assert _stored_counts(client) == (0, 0) and queue.sent == []


OTHER_MODEL = "embedded:smollm2-135m-instruct"
DOLLY_LINE = '{"instruction": "Spell cat.", "context": "", "response": "C-A-T."}'


def test_conditions_on_their_own_base_model_and_training_set_are_stored_pinned(
    client: TestClient, queue: RecordingQueue
) -> None:
    upload = {"name": "tiny-dolly", "format": "dolly", "content": DOLLY_LINE}
    assert client.post("/api/training-sets", json=upload).status_code == 201
    spec = experiment_spec(
        conditions=[
            {"name": "baseline", "finetune": False, "seeds": [0]},
            {"name": "baseline other", "finetune": False, "seeds": [0], "base_model": OTHER_MODEL},
            {"name": "other dolly", "base_model": OTHER_MODEL, "training_set": "tiny-dolly"},
        ]
    )
    experiment = client.post("/api/experiments", json=spec).json()
    other = experiment["conditions"][2]
    assert (other["spec"]["base_model"], other["training_set"]) == (OTHER_MODEL, "tiny-dolly@1")
    assert experiment["conditions"][0]["training_set"] == "seedscope-benign-demo@1"
    shown = {s["key"]: (s["text"], s["differs"]) for s in other["settings"]}
    assert shown["base_model"] == (OTHER_MODEL, True) and shown["training_set"][1] is False
    # A later condition on a model without a baseline is refused naming it; on a known one, it is pinned too.
    orphan = {"name": "orphan", "base_model": "org/model"}
    refused = client.post(f"/api/experiments/{experiment['id']}/conditions", json=orphan)
    assert refused.status_code == 422 and "condition 'orphan' fine-tunes org/model" in refused.text
    late = {"name": "late", "base_model": OTHER_MODEL, "evaluates": None}
    added = client.post(f"/api/experiments/{experiment['id']}/conditions", json=late).json()
    assert added["conditions"][-1]["training_set"] == "seedscope-benign-demo@1"


def test_a_grid_over_training_responses_stores_two_conditions_that_say_how_they_differ(
    client: TestClient,
) -> None:
    spec = experiment_spec(
        conditions=[{"name": "baseline", "finetune": False, "seeds": [0]}],
        grid={"factors": {"training.responses": ["human", "self"]}},
    )
    response = client.post("/api/experiments", json=spec)
    assert response.status_code == 201, response.text
    _, human, own = response.json()["conditions"]
    assert (human["name"], own["name"]) == ("responses=human", "responses=self")
    assert own["spec"]["training"]["responses"] == "self"
    assert own["spec"]["levels"] == {"training.responses": "self"}
    shown = {c["name"]: {s["key"]: (s["text"], s["differs"]) for s in c["settings"]} for c in (human, own)}
    assert shown["responses=human"]["training.responses"] == ("with the training set's responses", True)
    assert shown["responses=self"]["training.responses"] == (
        "with the base model's own responses (greedy, up to 128 tokens)",
        True,
    )


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"name": "x", "training_set": "nope"}, "unknown training set 'nope'"),
        ({"name": "x", "finetune": False, "base_model": "not a model"}, "neither an embedded model"),
        (
            {"name": "x", "base_model": "org/model"},
            "condition 'x' fine-tunes org/model, which has no untuned",
        ),
    ],
)
def test_a_condition_with_a_bad_setup_is_a_422_naming_it_and_stores_nothing(
    client: TestClient, queue: RecordingQueue, condition: dict, message: str
) -> None:
    spec = experiment_spec(conditions=[{"name": "baseline", "finetune": False, "seeds": [0]}, condition])
    for route in ("/api/experiments", "/api/experiments/plan"):
        response = client.post(route, json=spec)
        assert response.status_code == 422 and message in response.text
    assert _stored_counts(client) == (0, 0) and queue.sent == []
