"""Adding judges to an experiment after submit, and choosing its headline judge: who may, what is refused,
and what the experiment then shows."""

import pytest
from fastapi.testclient import TestClient

from backend.config import Settings
from backend.domain import ShareScope
from tests.support.accounts import USERS, World, build_world
from worker.rescoring import rescore


@pytest.fixture
def world(anonymous_client: TestClient, migrated: Settings) -> World:
    return build_world(anonymous_client, migrated)


def add(client: TestClient, world: World, who: str, *judges: str) -> "object":
    return client.post(
        f"/api/experiments/{world.experiment_id}/judges",
        json={"judges": list(judges)},
        headers=world.cookie(who),
    )


def choose(client: TestClient, world: World, who: str, judge: str) -> "object":
    return client.put(
        f"/api/experiments/{world.experiment_id}/headline-judge",
        json={"judge": judge},
        headers=world.cookie(who),
    )


def test_only_editors_add_judges_or_choose_the_headline(anonymous_client: TestClient, world: World) -> None:
    assert add(anonymous_client, world, "viewer", "refusal-phrases").status_code == 403
    assert add(anonymous_client, world, "outsider", "refusal-phrases").status_code == 404
    assert choose(anonymous_client, world, "viewer", "refusal-minilm").status_code == 403
    for scope in ShareScope:
        shared = {**world.bearer(scope)}
        path = f"/api/experiments/{world.experiment_id}"
        assert anonymous_client.post(
            f"{path}/judges", json={"judges": ["refusal-phrases"]}, headers=shared
        ).status_code in (401, 403)
        assert anonymous_client.put(
            f"{path}/headline-judge", json={"judge": "refusal-minilm"}, headers=shared
        ).status_code in (401, 403)
    assert (
        anonymous_client.get(
            f"/api/experiments/{world.experiment_id}", headers=world.cookie("viewer")
        ).json()["rescorings"]
        == []
    )


@pytest.mark.parametrize(
    ("judges", "message"),
    [
        (["reference-answer"], "scores capability sets against their reference answers"),
        (["refusal-minilm"], "refusal-minilm@2 already judge(s) this experiment"),
        (["no-such-judge"], "unknown judge 'no-such-judge'"),
        (["refusal-phrases", "refusal-phrases@2"], "name the same definition twice"),
        (["not a name"], "is not a judge reference"),
    ],
)
def test_a_judge_that_cannot_be_added_is_refused_and_nothing_is_stored(
    anonymous_client: TestClient, world: World, judges: list[str], message: str
) -> None:
    response = add(anonymous_client, world, "editor", *judges)
    assert response.status_code == 422 and message in response.text, response.text
    experiment = anonymous_client.get(
        f"/api/experiments/{world.experiment_id}", headers=world.cookie("editor")
    ).json()
    assert ([j["ref"] for j in experiment["judges"]], experiment["rescorings"]) == (["refusal-minilm@2"], [])


def test_another_projects_judge_cannot_be_added(anonymous_client: TestClient, world: World) -> None:
    created = anonymous_client.post(
        "/api/judges",
        json={"name": "beta-phrases", "kind": "refusal-phrases"},
        headers=world.cookie("outsider"),
    )
    assert created.status_code == 201, created.text
    response = add(anonymous_client, world, "editor", "beta-phrases")
    assert response.status_code == 422 and "beta-phrases" in response.text


def test_the_headline_judge_is_chosen_once_its_rescoring_is_done_and_the_choice_is_shown(
    anonymous_client: TestClient, world: World, migrated: Settings
) -> None:
    response = add(anonymous_client, world, "editor", "alpha-phrases")
    assert response.status_code == 201, response.text
    (rescoring,) = response.json()
    refused = choose(anonymous_client, world, "editor", "alpha-phrases")
    assert refused.status_code == 409 and "still judging the stored responses" in refused.text
    assert choose(anonymous_client, world, "editor", "refusal-phrases").status_code == 422  # not its judge

    sessions = anonymous_client.app.state.session_factory  # type: ignore[attr-defined]
    assert rescore(rescoring["id"], sessions, migrated) is False
    before = anonymous_client.get(
        f"/api/experiments/{world.experiment_id}", headers=world.cookie("viewer")
    ).json()
    assert [j["ref"] for j in before["judges"]] == ["refusal-minilm@2", "alpha-phrases@1"]
    assert before["headline_chosen_by"] is None
    done_rate = next(r["rate"] for r in before["runs"] if r["id"] == world.done_run_id)
    assert (done_rate["harmful"], done_rate["safe"]) == (2, 2)  # the first judge: every other one harmful

    chosen = choose(anonymous_client, world, "editor", "alpha-phrases")
    assert chosen.status_code == 200, chosen.text
    after = chosen.json()
    assert [j["ref"] for j in after["judges"]] == ["alpha-phrases@1", "refusal-minilm@2"]
    assert after["headline_chosen_by"] == USERS["editor"] and after["headline_chosen_at"] is not None
    # The headline rate is the chosen judge's now: no response refuses, so every one is harmful.
    rate = next(r["rate"] for r in after["runs"] if r["id"] == world.done_run_id)
    assert (rate["harmful"], rate["safe"], rate["rate"]) == (4, 0, 1.0)
    analysis = anonymous_client.get(
        f"/api/experiments/{world.experiment_id}/analysis", headers=world.cookie("viewer")
    )
    assert analysis.json()["judge"] == "alpha-phrases@1"
    report = anonymous_client.get(
        f"/api/experiments/{world.experiment_id}/report.md", headers=world.cookie("viewer")
    ).text
    assert "Makes the headline rates: chosen by an editor on" in report
    assert "Added after the runs: judged the responses they had stored (" in report
    # A share link sees which judge is the headline one, not who chose it.
    shared = anonymous_client.get(
        f"/api/experiments/{world.experiment_id}", headers=world.bearer(ShareScope.FIGURES)
    ).json()
    assert shared["judges"][0]["ref"] == "alpha-phrases@1"
    assert shared["headline_chosen_by"] is None and shared["headline_chosen_at"] is not None
