"""The per-prompt browser's filters, search and pagination, on the hand-worked experiment."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.domain import Verdict
from backend.models import Generation, Judgment, Prompt
from backend.repositories import browser as browser_repository
from tests.api.conftest import VERDICTS
from tests.factories import add_verdicts, experiment_spec, judge_id, upload_small_benchmark

H, S = Verdict.HARMFUL, Verdict.SAFE
CONDITIONS = ("baseline", "lr-2e-4", "lr-5e-4")


def ids(client: TestClient, experiment: dict, **params: object) -> list[str]:
    page = client.get(f"/api/experiments/{experiment['id']}/prompts", params=params)
    assert page.status_code == 200, page.text
    return [item["external_id"] for item in page.json()["items"]]


def test_each_prompt_has_its_rate_per_condition_and_where_it_flips(
    client: TestClient, experiment: dict
) -> None:
    page = client.get(f"/api/experiments/{experiment['id']}/prompts").json()
    assert page["total"] == 4
    first = page["items"][0]
    assert first["external_id"] == "hd-001"
    assert [(r["condition"], r["harmful"], r["scored"]) for r in first["rates"]] == [
        ("baseline", 0, 1),
        ("lr-2e-4", 2, 3),
        ("lr-5e-4", 3, 3),
    ]
    assert {item["external_id"]: item["flips_in"] for item in page["items"]} == {
        "hd-001": ["lr-2e-4"],
        "hd-007": ["lr-2e-4"],
        "hd-013": ["lr-5e-4"],
        "hd-019": [],
    }


def test_filters(client: TestClient, experiment: dict) -> None:
    assert ids(client, experiment, flips_only=True) == ["hd-001", "hd-007", "hd-013"]
    assert ids(client, experiment, flips_only=True, condition="lr-5e-4") == ["hd-013"]
    assert ids(client, experiment, category="fraud") == ["hd-019"]
    assert ids(client, experiment, verdict="safe", condition="lr-5e-4") == ["hd-013"]
    assert ids(client, experiment, verdict="harmful", condition="baseline") == ["hd-019"]
    assert ids(client, experiment, verdict="unscored") == []
    bad = client.get(f"/api/experiments/{experiment['id']}/prompts", params={"condition": "nope"})
    assert bad.status_code == 422


def test_the_flips_filter_follows_new_verdicts(client: TestClient) -> None:
    """The prompts it keeps are memoised on the experiment's data: a run judged later moves them."""
    upload_small_benchmark(client, "four-prompts", 4)
    experiment = client.post(
        "/api/experiments", json=experiment_spec(benchmark="four-prompts", seeds=[0, 1, 2])
    ).json()
    last, *others = sorted(
        experiment["runs"], key=lambda run: (run["condition_name"] != "lr-5e-4", -run["seed"])
    )
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in others:
            add_verdicts(session, run["id"], [[v] for v in VERDICTS[(run["condition_name"], run["seed"])]])
        # Seeds 0 and 1 of lr-5e-4 find hd-013 harmful; its seed 2, not judged yet, finds it safe.
        assert ids(client, experiment, flips_only=True) == ["hd-001", "hd-007"]
        add_verdicts(session, last["id"], [[v] for v in VERDICTS[(last["condition_name"], last["seed"])]])
    assert ids(client, experiment, flips_only=True) == ["hd-001", "hd-007", "hd-013"]


def test_the_flips_filter_keeps_the_same_prompts_listed_or_aggregated(
    client: TestClient, experiment: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_LISTED_PROMPTS, the page's query aggregates the flips itself rather than list them."""

    def flipping() -> dict[str, list[str]]:
        by_condition = {c: ids(client, experiment, flips_only=True, condition=c) for c in CONDITIONS}
        return {"any condition": ids(client, experiment, flips_only=True), **by_condition}

    listed = flipping()
    monkeypatch.setattr(browser_repository, "MAX_LISTED_PROMPTS", 0)
    client.app.state.analysis_cache.clear()  # type: ignore[attr-defined]
    assert (
        flipping()
        == listed
        == {
            "any condition": ["hd-001", "hd-007", "hd-013"],
            "baseline": [],
            "lr-2e-4": ["hd-001", "hd-007"],
            "lr-5e-4": ["hd-013"],
        }
    )


def test_search_reads_prompts_and_responses_literally(client: TestClient, experiment: dict) -> None:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        fraud_text = session.scalars(select(Prompt.text).where(Prompt.external_id == "hd-019")).first()
    word = fraud_text.split()[2]
    assert "hd-019" in ids(client, experiment, q=word.upper())
    # The factory's responses read "answer harmful" / "answer safe".
    assert ids(client, experiment, q="answer safe", condition="lr-5e-4") == ["hd-013"]
    assert ids(client, experiment, q="100%") == []  # % is a character, not a wildcard


def test_pagination(client: TestClient, experiment: dict) -> None:
    second = client.get(
        f"/api/experiments/{experiment['id']}/prompts", params={"page": 2, "page_size": 3}
    ).json()
    assert (second["total"], [i["external_id"] for i in second["items"]]) == (4, ["hd-019"])


def test_responses_of_one_prompt_with_every_judgment(client: TestClient, experiment: dict) -> None:
    prompt = client.get(f"/api/experiments/{experiment['id']}/prompts").json()["items"][0]
    url = f"/api/experiments/{experiment['id']}/prompts/{prompt['prompt_id']}/responses"
    page = client.get(url).json()
    assert page["total"] == 7
    assert [(r["condition"], r["seed"]) for r in page["items"]][:3] == [
        ("baseline", 0),
        ("lr-2e-4", 0),
        ("lr-2e-4", 1),
    ]
    judgment = page["items"][1]["judgments"][0]
    assert judgment == {
        "judge_id": judgment["judge_id"],
        "judge": "refusal-minilm@2",
        "verdict": "harmful",
        "score": None,
        "output": "test",
        "details": {},
    }
    assert client.get(url, params={"verdict": "harmful"}).json()["total"] == 5
    assert client.get(url, params={"condition": "lr-5e-4"}).json()["total"] == 3


def test_judge_disagreements(client: TestClient, experiment: dict) -> None:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        generation = session.scalars(select(Generation).order_by(Generation.id).limit(2)).all()
        # A second judge agrees on the first generation (baseline, hd-001) and disagrees on the second.
        first_verdict = session.scalars(
            select(Judgment.verdict).where(Judgment.generation_id == generation[0].id)
        ).one()
        session.add(
            Judgment(
                generation_id=generation[0].id,
                judge_id=judge_id(session, "refusal-phrases@2"),
                verdict=first_verdict,
            )
        )
        session.add(
            Judgment(
                generation_id=generation[1].id,
                judge_id=judge_id(session, "refusal-phrases@2"),
                verdict=Verdict.HARMFUL,
            )
        )
        session.commit()
        disagreeing_prompt = session.get(Prompt, generation[1].prompt_id)
    assert ids(client, experiment, disagreements_only=True) == [disagreeing_prompt.external_id]
    responses = client.get(
        f"/api/experiments/{experiment['id']}/prompts/{disagreeing_prompt.id}/responses",
        params={"disagreements_only": True},
    ).json()
    assert [r["generation_id"] for r in responses["items"]] == [generation[1].id]
    assert [(j["judge"], j["verdict"]) for j in responses["items"][0]["judgments"]] == [
        ("refusal-minilm@2", "safe"),
        ("refusal-phrases@2", "harmful"),
    ]


def test_filters_on_each_of_several_benchmarks(client: TestClient) -> None:
    """Flips and verdicts are counted on the chosen benchmark's prompts: on the first the hand-worked verdicts
    (three prompts flip), on the second every fine-tuned verdict safe and every baseline one harmful."""
    upload_small_benchmark(client, "four-prompts", 4)
    upload_small_benchmark(client, "four-more", 4)
    spec = experiment_spec(benchmark=None, benchmarks=["four-prompts", "four-more"], seeds=[0, 1, 2])
    experiment = client.post("/api/experiments", json=spec).json()
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            second = [H] * 4 if run["condition_name"] == "baseline" else [S] * 4
            add_verdicts(
                session, run["id"], [[v] for v in VERDICTS[(run["condition_name"], run["seed"])] + second]
            )
    all_four = ["hd-001", "hd-007", "hd-013", "hd-019"]
    assert ids(client, experiment, flips_only=True) == ["hd-001", "hd-007", "hd-013"]
    assert ids(client, experiment, flips_only=True, benchmark="four-more") == []
    assert ids(client, experiment, verdict="safe", condition="lr-5e-4") == ["hd-013"]
    assert ids(client, experiment, verdict="safe", condition="lr-5e-4", benchmark="four-more") == all_four
    assert ids(client, experiment, verdict="harmful", condition="baseline") == ["hd-019"]
    assert ids(client, experiment, verdict="harmful", condition="baseline", benchmark="four-more") == all_four
    assert ids(client, experiment, verdict="harmful", condition="lr-2e-4", benchmark="four-more") == []
    page = client.get(
        f"/api/experiments/{experiment['id']}/prompts", params={"benchmark": "four-more"}
    ).json()
    assert [item["flips_in"] for item in page["items"]] == [[], [], [], []]
