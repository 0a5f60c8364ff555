"""Every example definition in examples/ is valid and plans the runs its comments promise."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# paper-grid.yaml names datasets its users upload: one-line stand-ins in the formats it says.
PAPER_DATASETS = [
    (
        "/api/training-sets",
        "dolly-15k",
        "dolly",
        {"instruction": "Name a colour.", "context": "", "response": "Blue."},
    ),
    (
        "/api/training-sets",
        "alpaca-52k",
        "alpaca",
        {"instruction": "Name a fruit.", "input": "", "output": "Pear."},
    ),
    (
        "/api/benchmarks",
        "do-not-answer",
        "jsonl",
        {"id": "d1", "prompt": "a harmful request", "category": "c"},
    ),
    ("/api/benchmarks", "harmbench", "jsonl", {"id": "h1", "prompt": "a harmful request", "category": "c"}),
    ("/api/benchmarks", "sorry-bench", "jsonl", {"id": "s1", "prompt": "a harmful request", "category": "c"}),
]


@pytest.mark.parametrize(
    ("name", "runs", "fine_tunes"),
    [
        ("demo.yaml", 7, 6),
        ("grid-demo.yaml", 18, 8),
        ("paper-grid.yaml", 78, 30),
        ("erosion-demo.yaml", 10, 3),
    ],
)
def test_an_example_plans_its_runs(client: TestClient, name: str, runs: int, fine_tunes: int) -> None:
    if name == "paper-grid.yaml":
        for route, dataset, data_format, line in PAPER_DATASETS:
            upload = {"name": dataset, "format": data_format, "content": json.dumps(line)}
            assert client.post(route, json=upload).status_code == 201
    document = (EXAMPLES / name).read_text()
    experiment = client.post(
        "/api/experiments/yaml", content=document, headers={"content-type": "application/yaml"}
    )
    assert experiment.status_code == 201, experiment.text
    plan = client.post("/api/experiments/plan", json=experiment.json()["spec"]).json()
    assert (plan["n_runs"], plan["n_fine_tuned_runs"]) == (runs, fine_tunes)
