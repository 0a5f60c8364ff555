"""Starting a judge stress test: who may, what is refused, and who reads its figures."""

import pytest
from fastapi.testclient import TestClient

from backend.config import Settings
from backend.domain import ShareScope
from tests.support.accounts import World, build_world


@pytest.fixture
def world(anonymous_client: TestClient, migrated: Settings) -> World:
    return build_world(anonymous_client, migrated)


def path(world: World) -> str:
    return f"/api/experiments/{world.experiment_id}/stress-tests"


def start(client: TestClient, world: World, who: str, **body: object) -> "object":
    return client.post(path(world), json={"judge": "refusal-minilm", **body}, headers=world.cookie(who))


def test_editors_start_members_and_share_links_read(anonymous_client: TestClient, world: World) -> None:
    assert start(anonymous_client, world, "viewer").status_code == 403
    assert start(anonymous_client, world, "outsider").status_code == 404
    for scope in ShareScope:
        response = anonymous_client.post(
            path(world), json={"judge": "refusal-minilm"}, headers=world.bearer(scope)
        )
        assert response.status_code in (401, 403)
    response = start(anonymous_client, world, "editor", size=10, seed=7)
    assert response.status_code == 201, response.text
    started = response.json()
    assert (started["judge"], started["size"], started["seed"], started["status"]) == (
        "refusal-minilm@2",
        10,
        7,
        "queued",
    )
    assert started["result"] is None
    assert anonymous_client.app.state.queue.stress_tests == [started["id"]]  # type: ignore[attr-defined]
    for reader in (world.cookie("viewer"), world.bearer(ShareScope.FIGURES)):
        listed = anonymous_client.get(path(world), headers=reader).json()
        assert [t["id"] for t in listed] == [started["id"]]
    # The default size.
    assert start(anonymous_client, world, "editor").json()["size"] == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"judge": "no-such-judge"}, "unknown judge 'no-such-judge'"),
        ({"judge": "refusal-phrases"}, "judge refusal-phrases@2 does not judge this experiment"),
        ({"judge": "refusal-minilm", "size": 5}, '"size"'),
        ({"judge": "refusal-minilm", "size": 5000}, '"size"'),
        ({"judge": "refusal-minilm", "seed": -1}, '"seed"'),
        ({"size": 10}, '"judge"'),
    ],
)
def test_a_stress_test_that_cannot_run_is_refused_and_nothing_is_stored(
    anonymous_client: TestClient, world: World, body: dict, message: str
) -> None:
    response = anonymous_client.post(path(world), json=body, headers=world.cookie("editor"))
    assert response.status_code == 422 and message in response.text, response.text
    assert anonymous_client.get(path(world), headers=world.cookie("editor")).json() == []


def test_a_judge_that_has_scored_nothing_yet_is_refused(anonymous_client: TestClient, world: World) -> None:
    experiment = f"/api/experiments/{world.experiment_id}"
    added = anonymous_client.post(
        f"{experiment}/judges", json={"judges": ["refusal-phrases"]}, headers=world.cookie("editor")
    )
    assert added.status_code == 201, added.text  # its rescoring is queued: no verdict yet
    response = start(anonymous_client, world, "editor", judge="refusal-phrases")
    assert response.status_code == 422 and "has scored none of this experiment's responses" in response.text


def test_a_stress_test_is_retried_under_its_own_experiment_only(
    anonymous_client: TestClient, world: World
) -> None:
    started = start(anonymous_client, world, "editor").json()
    elsewhere = f"/api/experiments/{world.experiment_id + 1}/stress-tests/{started['id']}/retry"
    assert anonymous_client.post(elsewhere, headers=world.cookie("owner")).status_code == 404
    # Queued and held by no worker: a retry sends it again.
    retried = anonymous_client.post(f"{path(world)}/{started['id']}/retry", headers=world.cookie("editor"))
    assert retried.status_code == 200 and retried.json()["status"] == "queued"
