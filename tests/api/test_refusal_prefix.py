"""The refusal-prefix metric on the hand-worked experiment: offered once scores exist, its numbers are the
stored scores' means, re-evaluations pooled into their seed, with every statistic on them."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.stats.cells import Cells
from backend.stats.variance import variance_components
from tests.factories import add_refusal_prefix_scores

# A refusal-prefix score per prompt of each (condition, seed): high for the baseline, eroded by tuning.
SCORES = {
    ("baseline", 0): [0.90, 0.80, 0.95, 0.40],
    ("lr-2e-4", 0): [0.50, 0.70, 0.85, 0.10],
    ("lr-2e-4", 1): [0.30, 0.40, 0.75, 0.05],
    ("lr-2e-4", 2): [0.60, 0.75, 0.90, 0.20],
    ("lr-5e-4", 0): [0.10, 0.20, 0.30, 0.01],
    ("lr-5e-4", 1): [0.05, 0.15, 0.35, 0.02],
    ("lr-5e-4", 2): [0.20, 0.10, 0.50, 0.03],
}
# A re-evaluation of lr-2e-4's seed 0 checkpoint (in practice it scores the same: no sampling).
REEVALUATED = [0.52, 0.68, 0.85, 0.12]


def test_the_metric_is_offered_only_with_scores_and_equals_the_stored_scores(
    client: TestClient, experiment: dict
) -> None:
    url = f"/api/experiments/{experiment['id']}"
    # Every run is done and none has a score (generated before seedscope computed them): not offered.
    assert [m["metric"] for m in experiment["metrics"]] == ["rate"]
    refused = client.get(f"{url}/analysis", params={"metric": "refusal-prefix"})
    assert refused.status_code == 422 and "no refusal-prefix scores" in refused.json()["detail"]

    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            key = (run["condition_name"], run["seed"])
            add_refusal_prefix_scores(session, run["id"], SCORES[key])
            # Another phrase set's scores are never pooled with these.
            add_refusal_prefix_scores(session, run["id"], [0.0] * 4, openings="other-openings@1")
    # Every run done, with scores: offered.
    offered = {m["metric"]: m for m in client.get(url).json()["metrics"]}
    assert set(offered) == {"rate", "refusal-prefix"}
    assert "higher = more refusing" in offered["refusal-prefix"]["meaning"]
    original = next(r for r in experiment["runs"] if (r["condition_name"], r["seed"]) == ("lr-2e-4", 0))
    again = client.post(f"/api/runs/{original['id']}/reevaluate", json={"count": 1}).json()["runs"][0]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        add_refusal_prefix_scores(session, again["id"], REEVALUATED)

    analysis = client.get(f"{url}/analysis", params={"metric": "refusal-prefix"}).json()
    assert (analysis["metric"], analysis["judge"]) == ("refusal-prefix", "seedscope-refusal-openings@1")
    summary = {c["name"]: c for c in analysis["conditions"]}

    def seed_mean(condition: str, seed: int) -> float:
        values = SCORES[(condition, seed)] + (REEVALUATED if (condition, seed) == ("lr-2e-4", 0) else [])
        return float(np.mean(values))

    for condition in ("lr-2e-4", "lr-5e-4"):
        means = [seed_mean(condition, seed) for seed in (0, 1, 2)]
        assert [p["rate"] for p in summary[condition]["seeds"]] == pytest.approx(means)
        assert summary[condition]["mean"] == pytest.approx(np.mean(means))
        assert summary[condition]["sd"] == pytest.approx(np.std(means, ddof=1))
    pooled = SCORES[("lr-2e-4", 0)] + SCORES[("lr-2e-4", 1)] + SCORES[("lr-2e-4", 2)] + REEVALUATED
    assert summary["lr-2e-4"]["pooled"]["rate"] == pytest.approx(np.mean(pooled))
    assert [p["n_scored"] for p in summary["lr-2e-4"]["seeds"]] == [8, 4, 4]

    comparison = next(c for c in analysis["comparisons"] if c["a"] == "lr-5e-4")
    per_prompt = np.mean([SCORES[("lr-5e-4", s)] for s in (0, 1, 2)], axis=0) - SCORES[("baseline", 0)]
    assert comparison["estimate"] == pytest.approx(per_prompt.mean())
    assert comparison["estimate"] < 0  # tuning erodes the refusal prefix
    assert comparison["new_seeds"] is not None

    # The variance components are those of the cells the stored scores make.
    values = np.array([SCORES[("lr-5e-4", s)] for s in (0, 1, 2)])
    cells = Cells(
        seed=np.repeat([0, 1, 2], 4),
        prompt=np.tile([0, 1, 2, 3], 3),
        harmful=values.reshape(-1),
        scored=np.ones(12, dtype=np.int64),
        sum_squares=values.reshape(-1) ** 2,
    )
    expected = variance_components(cells).components
    shown = next(v for v in analysis["variance"] if v["name"] == "lr-5e-4")["components"]
    assert shown["seed"]["estimate"] == pytest.approx(expected.seed)
    assert shown["prompt"]["estimate"] == pytest.approx(expected.prompt)

    figures = f"{url}/figures"
    seeds = client.get(f"{figures}/seeds", params={"metric": "refusal-prefix"}).json()
    assert seeds["layout"]["title"]["text"].startswith("Refusal-prefix probability per seed")
    for name in ("noise", "variance", "power", "forest"):
        assert client.get(f"{figures}/{name}", params={"metric": "refusal-prefix"}).status_code == 200
