"""Labelling an experiment's own responses: who may draw and label, what each labeller sees (their own
labels, no verdict) and when the results appear."""

import pytest
from fastapi.testclient import TestClient

from backend.config import Settings
from backend.domain import ShareScope
from tests.support.accounts import USERS, World, build_world


@pytest.fixture
def world(anonymous_client: TestClient, migrated: Settings) -> World:
    return build_world(anonymous_client, migrated)


def samples_path(world: World) -> str:
    return f"/api/experiments/{world.experiment_id}/labelling-samples"


def draw(client: TestClient, world: World, size: int = 8, who: str = "editor") -> dict:
    response = client.post(samples_path(world), json={"size": size, "seed": 1}, headers=world.cookie(who))
    assert response.status_code == 201, response.text
    return response.json()


def label_all(client: TestClient, world: World, sample_id: int, who: str, labels: list[str]) -> None:
    path = f"{samples_path(world)}/{sample_id}"
    items = client.get(f"{path}/items", headers=world.cookie(who)).json()
    for item, label in zip(items, labels, strict=True):
        saved = client.put(
            f"{path}/items/{item['id']}/label", json={"label": label}, headers=world.cookie(who)
        )
        assert saved.status_code == 204, saved.text


def test_a_sample_is_drawn_by_an_editor_and_read_by_members_only(
    anonymous_client: TestClient, world: World
) -> None:
    assert (
        anonymous_client.post(
            samples_path(world), json={"size": 8}, headers=world.cookie("viewer")
        ).status_code
        == 403
    )
    sample = draw(anonymous_client, world)
    assert (sample["size"], sample["measures"], sample["seed"], sample["labelled_by_me"]) == (
        8,
        "compliance",
        1,
        0,
    )
    # The same seed draws the same responses.
    again = draw(anonymous_client, world)
    items = [
        [
            i["response"]
            for i in anonymous_client.get(
                f"{samples_path(world)}/{s['id']}/items", headers=world.cookie("viewer")
            ).json()
        ]
        for s in (sample, again)
    ]
    assert items[0] == items[1] and len(items[0]) == 8
    for scope in ShareScope:
        assert anonymous_client.get(samples_path(world), headers=world.bearer(scope)).status_code in (
            401,
            403,
        )
    assert anonymous_client.get(samples_path(world), headers=world.cookie("outsider")).status_code == 404
    too_many = anonymous_client.post(samples_path(world), json={"size": 500}, headers=world.cookie("editor"))
    assert too_many.status_code == 422 and "fewer than the 500 asked for" in too_many.text


def test_each_labeller_sees_only_their_own_labels_and_no_verdict(
    anonymous_client: TestClient, world: World
) -> None:
    sample_id = draw(anonymous_client, world)["id"]
    label_all(anonymous_client, world, sample_id, "editor", ["harmful"] * 8)
    items = anonymous_client.get(
        f"{samples_path(world)}/{sample_id}/items", headers=world.cookie("viewer")
    ).json()
    assert {item["label"] for item in items} == {None}
    assert set(items[0]) == {"id", "position", "prompt", "response", "label", "note"}
    blocked = anonymous_client.get(
        f"{samples_path(world)}/{sample_id}/results", headers=world.cookie("viewer")
    )
    assert blocked.status_code == 409 and "label the 8 item(s)" in blocked.text
    # An item of this sample only, through this experiment only.
    other = draw(anonymous_client, world, size=4)["id"]
    foreign = anonymous_client.get(
        f"{samples_path(world)}/{other}/items", headers=world.cookie("viewer")
    ).json()[0]
    wrong = anonymous_client.put(
        f"{samples_path(world)}/{sample_id}/items/{foreign['id']}/label",
        json={"label": "safe"},
        headers=world.cookie("viewer"),
    )
    assert wrong.status_code == 404


def test_two_labellers_results_show_their_agreement_and_each_judge_per_condition(
    anonymous_client: TestClient, world: World
) -> None:
    sample_id = draw(anonymous_client, world)["id"]
    label_all(anonymous_client, world, sample_id, "editor", ["harmful", "safe"] * 4)
    label_all(
        anonymous_client,
        world,
        sample_id,
        "viewer",
        ["harmful", "safe", "safe", "safe", "harmful", "safe", "cant_tell", "safe"],
    )
    results = anonymous_client.get(
        f"{samples_path(world)}/{sample_id}/results", headers=world.cookie("viewer")
    ).json()
    assert results["labellers"] == sorted([USERS["editor"], USERS["viewer"]])
    # Item 3 is disputed; item 7 has one label (the other "can't tell"): 7 agreed, the pair's kappa on 7.
    assert (results["n_agreed"], results["n_disputed"], results["n_untold"]) == (7, 1, 0)
    (pair,) = results["human_agreement"]
    assert pair["n"] == 7 and pair["kappa"] is not None
    (judge,) = results["judges"]
    assert judge["judge"] == "refusal-minilm@2" and judge["overall"]["n"] == 7
    conditions = [
        c["name"]
        for c in anonymous_client.get(
            f"/api/experiments/{world.experiment_id}", headers=world.cookie("viewer")
        ).json()["conditions"]
    ]
    assert [c["condition"] for c in judge["conditions"]] == [
        c for c in conditions if c in {x["condition"] for x in judge["conditions"]}
    ]
    assert sum(c["quality"]["n"] for c in judge["conditions"] if c["quality"]) == 7
    sample = anonymous_client.get(samples_path(world), headers=world.cookie("editor")).json()[0]
    assert (sample["labelled_by_me"], sample["finished_labellers"]) == (8, 2)
