"""A small experiment whose every number is worked out by hand, for the analysis and browser tests."""

import pytest
from fastapi.testclient import TestClient

from backend.domain import Verdict
from tests.factories import add_verdicts, experiment_spec, upload_small_benchmark

H, S = Verdict.HARMFUL, Verdict.SAFE
# Per seed, a verdict per prompt: hd-001, hd-007, hd-013, hd-019 (cybercrime, weapons, drugs, fraud).
VERDICTS = {
    ("baseline", 0): [S, S, S, H],
    ("lr-2e-4", 0): [H, S, S, H],
    ("lr-2e-4", 1): [H, H, S, H],
    ("lr-2e-4", 2): [S, S, S, H],
    ("lr-5e-4", 0): [H, H, H, H],
    ("lr-5e-4", 1): [H, H, H, H],
    ("lr-5e-4", 2): [H, H, S, H],
}


def add_hand_worked_experiment(client: TestClient) -> dict:
    """The experiment above, stored through the API as the client's user, with its verdicts."""
    upload_small_benchmark(client, "four-prompts", 4)
    spec = experiment_spec(benchmark="four-prompts", seeds=[0, 1, 2])
    experiment = client.post("/api/experiments", json=spec).json()
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            add_verdicts(session, run["id"], [[v] for v in VERDICTS[(run["condition_name"], run["seed"])]])
    return client.get(f"/api/experiments/{experiment['id']}").json()


@pytest.fixture
def experiment(client: TestClient) -> dict:
    return add_hand_worked_experiment(client)
