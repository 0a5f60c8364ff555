"""The conditions' rates corrected for the judge's errors, on the hand-worked experiment
(tests/api/conftest.py) with a finished validation whose counts are chosen here."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.domain import Verdict
from backend.stats.corrected import ValidationCounts, corrected_rate
from backend.stats.seeds import seed_summary
from tests.factories import add_verdicts, experiment_spec, finish_validation

# 25 examples labelled harmful, 25 safe; the judge calls 23 of the harmful ones harmful and 3 of the safe
# ones: sensitivity 23 / 25 = 0.92, specificity 22 / 25 = 0.88, Se + Sp - 1 = 0.8.
LABELS = ["harmful"] * 25 + ["safe"] * 25
VERDICTS = ["harmful"] * 23 + ["safe"] * 2 + ["harmful"] * 3 + ["safe"] * 22


def _validate(client: TestClient, experiment: dict, labels: list[str], verdicts: list[str]) -> None:
    """Upload a validation set labelled for what the experiment's judge measures; finish its validation."""
    judge = experiment["judges"][0]
    _validate_judge(client, judge["ref"], judge["measures"], labels, verdicts)


def _validate_judge(
    client: TestClient, ref: str, measures: str, labels: list[str], verdicts: list[str]
) -> None:
    upload = {
        "name": "labels",
        "format": "jsonl",
        "measures": measures,
        "content": "\n".join(
            json.dumps({"request": f"q{i}", "response": f"r{i}", "label": label})
            for i, label in enumerate(labels)
        ),
    }
    assert client.post("/api/validation-sets", json=upload).status_code == 201
    validation = client.post("/api/judge-validations", json={"judge": ref, "validation_set": "labels"}).json()
    finish_validation(client.app.state.session_factory, validation["id"], verdicts=verdicts)  # type: ignore[attr-defined]


def _conditions(client: TestClient, experiment: dict) -> dict[str, dict]:
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    return {c["name"]: c for c in analysis["conditions"]}


def test_without_a_validation_the_corrected_rate_is_withheld(client: TestClient, experiment: dict) -> None:
    for condition in _conditions(client, experiment).values():
        corrected = condition["corrected"]
        assert corrected["pooled"] is None and corrected["mean"] is None and corrected["validation"] is None
        assert "no finished validation in this project" in corrected["withheld"]
        assert condition["pooled"]["rate"] is not None  # the raw rate stays


def test_a_finished_validation_corrects_every_condition(client: TestClient, experiment: dict) -> None:
    _conditions(client, experiment)  # computed and memoised before the validation exists
    _validate(client, experiment, LABELS, VERDICTS)
    conditions = _conditions(client, experiment)
    tuned = conditions["lr-2e-4"]
    corrected = tuned["corrected"]
    assert corrected["withheld"] is None
    assert corrected["validation"] == {
        "validation_id": corrected["validation"]["validation_id"],
        "validation_set": "labels@1",
        "n": 50,
        "n_harmful": 25,
        "n_safe": 25,
        "sensitivity": pytest.approx(0.92),
        "specificity": pytest.approx(0.88),
    }
    # By hand: (rate + 0.88 - 1) / 0.8, for the pooled rate 6 / 12 and the mean over seeds (0.5 + 0.75 +
    # 0.25) / 3; the raw rates are still there, unchanged.
    assert tuned["pooled"]["rate"] == 0.5 and tuned["mean"] == 0.5
    assert corrected["pooled"]["estimate"] == pytest.approx(0.38 / 0.8)
    assert corrected["mean"]["estimate"] == pytest.approx(0.38 / 0.8)
    assert conditions["baseline"]["corrected"]["pooled"]["estimate"] == pytest.approx(0.13 / 0.8)
    assert conditions["lr-5e-4"]["corrected"]["pooled"]["estimate"] == pytest.approx((11 / 12 - 0.12) / 0.8)
    # One seed: a corrected mean without an interval, as the raw mean has none.
    baseline_mean = conditions["baseline"]["corrected"]["mean"]
    assert baseline_mean["low"] is None and baseline_mean["high"] is None
    # The intervals are backend.stats.corrected's at the raw rate's effective number of verdicts and the
    # seeds' t interval; the judge's uncertainty makes the pooled one at least as wide as the raw Wilson
    # interval mapped through the correction.
    pooled = tuned["pooled"]
    expected = corrected_rate(
        ValidationCounts(23, 2, 22, 3),
        0.5,
        12 / pooled["design_effect"],
        seed_summary([0.5, 0.75, 0.25], step=1 / 4),
    )
    assert expected.pooled is not None and expected.mean is not None
    assert (corrected["pooled"]["low"], corrected["pooled"]["high"]) == pytest.approx(
        (expected.pooled.low, expected.pooled.high)
    )
    assert (corrected["mean"]["low"], corrected["mean"]["high"]) == pytest.approx(
        (expected.mean.low, expected.mean.high)
    )
    mapped = np.clip((np.array([pooled["low"], pooled["high"]]) - 0.12) / 0.8, 0, 1)
    assert corrected["pooled"]["low"] <= mapped[0] + 0.01 and corrected["pooled"]["high"] >= mapped[1] - 0.01


def test_a_validation_too_small_is_named_with_the_reason(client: TestClient, experiment: dict) -> None:
    _validate(client, experiment, ["harmful", "safe"], ["harmful", "safe"])
    corrected = _conditions(client, experiment)["lr-2e-4"]["corrected"]
    assert corrected["validation"]["validation_set"] == "labels@1" and corrected["validation"]["n"] == 2
    assert corrected["pooled"] is None and "the validation is too small" in corrected["withheld"]


def test_the_report_has_a_corrected_line_per_condition(client: TestClient, experiment: dict) -> None:
    _validate(client, experiment, LABELS, VERDICTS)
    markdown = client.get(f"/api/experiments/{experiment['id']}/report.md").text
    assert "Corrected for the judge's errors" in markdown
    assert "sensitivity 0.920 and specificity 0.880 on `labels@1` (25 harmful and 25 safe" in markdown
    # lr-2e-4: (0.5 + 0.88 - 1) / 0.8, pooled and over seeds; the baseline has one seed.
    assert "- `lr-2e-4`: all verdicts pooled 47.5% [" in markdown and "mean over seeds 47.5% [" in markdown
    assert "mean over seeds 16.2% (one seed: no interval)" in markdown


OVER_REFUSAL = "seedscope-over-refusal-demo"
HARM_CLASSIFIER = {
    "name": "harm-cls",
    "kind": "sequence-classifier",
    "model": "org/harm",
    "labels": {"unsafe": "harmful", "safe": "safe"},
}


@pytest.mark.parametrize(
    "judges",
    [
        pytest.param(["refusal-phrases"], id="the experiment's refusal judge scores the set"),
        pytest.param(["harm-cls"], id="the built-in refusal judge scores the set"),
    ],
)
def test_an_over_refusal_rate_is_corrected_as_a_share_of_refusals(
    client: TestClient, judges: list[str]
) -> None:
    assert client.post("/api/judges", json=HARM_CLASSIFIER).status_code == 201
    spec = experiment_spec(judges=judges, over_refusal=[OVER_REFUSAL], seeds=[0])
    experiment = client.post("/api/experiments", json=spec).json()
    over_refusal = next(b for b in experiment["benchmarks"] if b["measures"] == "over_refusal")
    scorer, n_prompts = over_refusal["scorer"], over_refusal["n_prompts"]
    # The scorer's "safe" is a refusal: every run refuses the first quarter of the prompts.
    refused = n_prompts // 4
    verdicts = [[Verdict.SAFE]] * refused + [[Verdict.HARMFUL]] * (n_prompts - refused)
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            add_verdicts(session, run["id"], verdicts, judge=scorer, on=OVER_REFUSAL)
    url = f"/api/experiments/{experiment['id']}/analysis"
    before = client.get(url, params={"benchmark": OVER_REFUSAL}).json()["conditions"][0]
    assert f"{scorer} has no finished validation" in before["corrected"]["withheld"]
    state = client.get(f"/api/experiments/{experiment['id']}/state").json()["version"]

    # Labelled for compliance: sensitivity 0.92 on complying responses, specificity 0.88 on refusals.
    _validate_judge(client, scorer, "compliance", LABELS, VERDICTS)
    # The dashboard polls the state: the scorer's validation moves it, as a judge's does.
    assert client.get(f"/api/experiments/{experiment['id']}/state").json()["version"] != state
    analysis = client.get(url, params={"benchmark": OVER_REFUSAL}).json()  # the memo's key moved
    rate = refused / n_prompts
    for condition in analysis["conditions"]:
        assert condition["pooled"]["rate"] == pytest.approx(rate)
        # A share of refusals: (rate + Se - 1) / (Se + Sp - 1), which is 1 minus the corrected share of
        # complying verdicts; as a share of harmful verdicts it would be (rate + Sp - 1) / 0.8.
        corrected = condition["corrected"]
        assert corrected["pooled"]["estimate"] == pytest.approx((rate - 0.08) / 0.8)
        assert corrected["pooled"]["low"] < corrected["pooled"]["estimate"] < corrected["pooled"]["high"]
        assert corrected["mean"]["estimate"] == pytest.approx((rate - 0.08) / 0.8)
        assert corrected["validation"]["sensitivity"] == pytest.approx(0.92)
