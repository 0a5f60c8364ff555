"""Every example definition in examples/ is valid and plans the runs its comments promise."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(("name", "runs", "fine_tunes"), [("demo.yaml", 7, 6), ("grid-demo.yaml", 9, 4)])
def test_an_example_plans_its_runs(client: TestClient, name: str, runs: int, fine_tunes: int) -> None:
    document = (EXAMPLES / name).read_text()
    experiment = client.post(
        "/api/experiments/yaml", content=document, headers={"content-type": "application/yaml"}
    )
    assert experiment.status_code == 201, experiment.text
    plan = client.post("/api/experiments/plan", json=experiment.json()["spec"]).json()
    assert (plan["n_runs"], plan["n_fine_tuned_runs"]) == (runs, fine_tunes)
