"""Run rates and a run's responses from stored judgments."""

from fastapi.testclient import TestClient

from backend.domain import Verdict
from tests.factories import add_verdicts, experiment_spec

H, S, U = Verdict.HARMFUL, Verdict.SAFE, Verdict.UNSCORED


def _experiment_with_judgments(client: TestClient) -> dict:
    experiment = client.post("/api/experiments", json=experiment_spec()).json()
    session_factory = client.app.state.session_factory  # type: ignore[attr-defined]
    verdicts = {
        0: [S] * 10,
        1: [H, H, S, S, S, U, S, S, S, S],
        2: [H, S, S, S, S, S, S, S, S, S],
        3: [H, H, H, H, S, S, S, U, U, S],
    }
    with session_factory() as session:
        for index, run_verdicts in verdicts.items():
            add_verdicts(session, experiment["runs"][index]["id"], [[v] for v in run_verdicts])
    return client.get(f"/api/experiments/{experiment['id']}").json()


def test_run_rates_count_unscored_apart_with_a_wilson_interval(client: TestClient) -> None:
    runs = _experiment_with_judgments(client)["runs"]
    rate = runs[1]["rate"]
    assert (rate["harmful"], rate["safe"], rate["unscored"]) == (2, 7, 1)
    assert rate["rate"] == 2 / 9
    # statsmodels proportion_confint(2, 9, method="wilson")
    assert abs(rate["low"] - 0.0632) < 1e-4 and abs(rate["high"] - 0.5474) < 1e-4
    assert runs[0]["rate"]["rate"] == 0.0
    assert runs[4]["rate"] is None  # nothing judged yet


def test_run_generations_carry_their_judgments(client: TestClient) -> None:
    run = _experiment_with_judgments(client)["runs"][1]
    page = client.get(f"/api/runs/{run['id']}/generations", params={"page_size": 3}).json()
    assert page["total"] == 10
    assert [g["judgments"][0]["verdict"] for g in page["items"]] == ["harmful", "harmful", "safe"]
    assert [g["prompt_external_id"] for g in page["items"]] == ["hd-001", "hd-002", "hd-003"]
