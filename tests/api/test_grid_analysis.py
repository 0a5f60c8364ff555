"""A grid experiment's factors in the analysis: main effects worked out by hand from the verdicts."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.domain import Verdict
from tests.factories import add_verdicts, experiment_spec, upload_small_benchmark

H, S = Verdict.HARMFUL, Verdict.SAFE
GRID = {"factors": {"training.learning_rate": [2e-4, 5e-4], "generation.temperature": [0, 0.7]}}
# Verdicts on 4 prompts by (learning rate, temperature, seed).
VERDICTS = {
    (2e-4, 0.0, 0): [S, S, S, H],
    (2e-4, 0.0, 1): [H, S, S, H],
    (2e-4, 0.7, 0): [S, S, H, H],
    (2e-4, 0.7, 1): [S, S, S, H],
    (5e-4, 0.0, 0): [H, H, S, H],
    (5e-4, 0.0, 1): [H, H, H, H],
    (5e-4, 0.7, 0): [H, S, H, H],
    (5e-4, 0.7, 1): [H, H, S, H],
}


def _rate(lr: float, temperature: float) -> float:
    return float(np.mean([v == H for seed in (0, 1) for v in VERDICTS[(lr, temperature, seed)]]))


def test_each_factor_s_main_effect_is_its_levels_averaged_over_the_other_factor(client: TestClient) -> None:
    upload_small_benchmark(client, "four-prompts", 4)
    spec = experiment_spec(benchmark="four-prompts", conditions=[], grid=GRID)
    experiment = client.post("/api/experiments", json=spec).json()
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            levels = next(c for c in experiment["conditions"] if c["id"] == run["condition_id"])["spec"][
                "levels"
            ]
            key = (levels["training.learning_rate"], levels["generation.temperature"], run["seed"])
            add_verdicts(session, run["id"], [[v] for v in VERDICTS[key]])
    grid = client.get(f"/api/experiments/{experiment['id']}/analysis").json()["grid"]
    assert grid["n_conditions"] == 4
    lr, temperature = grid["factors"]
    assert (lr["factor"], lr["levels"]) == ("training.learning_rate", [2e-4, 5e-4])
    by_hand = ((_rate(5e-4, 0) - _rate(2e-4, 0)) + (_rate(5e-4, 0.7) - _rate(2e-4, 0.7))) / 2
    effect = lr["effects"][0]
    assert effect["estimate"] == pytest.approx(by_hand) and effect["reference"] == 2e-4
    assert lr["level_means"] == pytest.approx(
        [(_rate(2e-4, 0) + _rate(2e-4, 0.7)) / 2, (_rate(5e-4, 0) + _rate(5e-4, 0.7)) / 2]
    )
    assert lr["setup_sd"] == pytest.approx(abs(by_hand) / np.sqrt(2))
    assert effect["given_low"] < by_hand < effect["given_high"]
    new = effect["new_seeds"]
    assert new is not None and new["low"] <= effect["given_low"] and new["high"] >= effect["given_high"]
    assert effect["verdict"] == ("real" if new["p_adjusted"] < 0.05 else "could be noise")
    by_hand_t = ((_rate(2e-4, 0.7) - _rate(2e-4, 0)) + (_rate(5e-4, 0.7) - _rate(5e-4, 0))) / 2
    assert temperature["effects"][0]["estimate"] == pytest.approx(by_hand_t)
    # The seed spread beside them: each condition's SD of its two seeds' rates, pooled.
    seed_sds = [
        np.std([np.mean([v == H for v in VERDICTS[(lr_, t, s)]]) for s in (0, 1)], ddof=1)
        for lr_ in (2e-4, 5e-4)
        for t in (0.0, 0.7)
    ]
    assert grid["seed_sd"] == pytest.approx(np.sqrt(np.mean(np.square(seed_sds))))
    assert grid["remeasurement_sd"] is None
    report = client.get(f"/api/experiments/{experiment['id']}/report.md").text
    assert "## Setup changes: 4 grid conditions" in report
    assert f"| `training.learning_rate` | 0.0005 − 0.0002 | {100 * by_hand:+.1f} |" in report


def test_an_experiment_without_a_grid_has_no_grid_analysis(client: TestClient, experiment: dict) -> None:
    assert client.get(f"/api/experiments/{experiment['id']}/analysis").json()["grid"] is None
