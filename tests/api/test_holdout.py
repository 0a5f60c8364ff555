"""training.holdout: a share of the training set kept out of training and evaluated as a capability set."""

from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.catalog.holdout import held_out_positions
from backend.models import Prompt, TrainingExample, TrainingSet
from tests.factories import experiment_spec

HOLDING_OUT = [
    {"name": "baseline", "finetune": False, "seeds": [0]},
    {"name": "lr-2e-4", "training": {"learning_rate": 2e-4, "holdout": 0.1}},
    {"name": "lr-5e-4", "training": {"learning_rate": 5e-4, "holdout": 0.1}},
]


def held_out_set(experiment: dict) -> dict:
    (held_out,) = [b for b in experiment["benchmarks"] if "-holdout-" in b["reference"]]
    return held_out


def test_the_held_out_split_is_stored_as_a_capability_set_every_run_answers(client: TestClient) -> None:
    response = client.post("/api/experiments", json=experiment_spec(conditions=HOLDING_OUT))
    assert response.status_code == 201, response.text
    experiment = response.json()
    held_out = held_out_set(experiment)
    assert held_out["reference"].startswith("seedscope-benign-demo-v1-holdout-0.1-")
    assert (held_out["measures"], held_out["scoring"], held_out["scorer"]) == (
        "capability",
        "recall",
        "reference-answer@1",
    )
    assert held_out["n_prompts"] == 24
    # The examples at the split's positions, the prompt as trained on, the response as the reference.
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        training_set = session.scalars(
            select(TrainingSet).where(TrainingSet.name == "seedscope-benign-demo")
        ).one()
        examples = session.execute(
            select(TrainingExample.prompt, TrainingExample.response)
            .where(TrainingExample.training_set_id == training_set.id)
            .order_by(TrainingExample.position)
        ).all()
        prompts = session.execute(
            select(Prompt.external_id, Prompt.text, Prompt.reference)
            .where(Prompt.benchmark_id == held_out["id"])
            .order_by(Prompt.position)
        ).all()
    positions = held_out_positions(len(examples), 0.1, training_set.content_hash)
    assert [tuple(row) for row in prompts] == [
        (f"example-{p + 1}", examples[p].prompt, examples[p].response) for p in positions
    ]


def test_every_experiment_that_holds_out_the_same_share_finds_the_same_set(client: TestClient) -> None:
    first = client.post("/api/experiments", json=experiment_spec(conditions=HOLDING_OUT)).json()
    again = client.post("/api/experiments", json=experiment_spec(conditions=HOLDING_OUT)).json()
    assert held_out_set(first)["id"] == held_out_set(again)["id"]
    other = [HOLDING_OUT[0], {"name": "tuned", "training": {"holdout": 0.2}}]
    third = client.post("/api/experiments", json=experiment_spec(conditions=other)).json()
    assert held_out_set(third)["n_prompts"] == 48 and held_out_set(third)["id"] != held_out_set(first)["id"]


def test_conditions_that_hold_out_different_shares_of_one_set_are_refused_and_nothing_is_stored(
    client: TestClient,
) -> None:
    trains_on_all = [HOLDING_OUT[0], HOLDING_OUT[1], {"name": "all", "training": {"learning_rate": 1e-4}}]
    response = client.post("/api/experiments", json=experiment_spec(conditions=trains_on_all))
    assert response.status_code == 422
    assert (
        "condition 'all' holds out nothing of seedscope-benign-demo, condition 'lr-2e-4' holds out 0.1"
        in str(response.json()["detail"])
    )
    grid = {"factors": {"training.holdout": [0.1, 0.2]}}
    response = client.post("/api/experiments", json=experiment_spec(conditions=HOLDING_OUT[:1], grid=grid))
    assert response.status_code == 422
    assert "'training.holdout': not a condition field a grid can vary" in str(response.json()["detail"])
    assert client.get("/api/experiments").json()["total"] == 0
    assert not [b for b in client.get("/api/catalog").json()["benchmarks"] if "holdout" in b["name"]]


def test_a_subset_larger_than_what_is_left_to_train_on_is_refused(client: TestClient) -> None:
    tuned = {"name": "tuned", "training": {"holdout": 0.5, "subset_size": 200}}
    response = client.post("/api/experiments", json=experiment_spec(conditions=[HOLDING_OUT[0], tuned]))
    assert response.status_code == 422
    assert (
        "training.subset_size 200 exceeds the 120 examples of seedscope-benign-demo@1 it may train on "
        "(120 are held out)" in response.json()["detail"]
    )
    too_much = {"name": "tuned", "training": {"holdout": 0.6}}
    response = client.post("/api/experiments", json=experiment_spec(conditions=[HOLDING_OUT[0], too_much]))
    assert response.status_code == 422 and "less than or equal to 0.5" in str(response.json()["detail"])


def test_a_condition_added_later_holds_out_only_what_the_experiment_is_evaluated_on(
    client: TestClient,
) -> None:
    experiment = client.post("/api/experiments", json=experiment_spec(conditions=HOLDING_OUT)).json()
    added = f"/api/experiments/{experiment['id']}/conditions"
    response = client.post(added, json={"name": "lr-1e-4", "training": {"learning_rate": 1e-4}})
    assert response.status_code == 422
    assert "condition 'lr-1e-4' holds out nothing of seedscope-benign-demo" in response.json()["detail"]
    dolly = {"name": "dolly", "training_set": "seedscope-benign-dolly", "training": {"holdout": 0.1}}
    response = client.post(added, json=dolly)
    assert response.status_code == 422
    assert (
        "holds out 0.1 of seedscope-benign-dolly, a split this experiment is not evaluated on"
        in (response.json()["detail"])
    )
    same = {"name": "lr-1e-4", "training": {"learning_rate": 1e-4, "holdout": 0.1}}
    assert client.post(added, json=same).status_code == 201
