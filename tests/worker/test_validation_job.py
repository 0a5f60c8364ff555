"""The judge validation job, run as the worker runs it (no broker): figures, resumption, failures, and what
the experiment page then says about its judge."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from backend.config import Settings
from backend.domain import JudgeJobStatus
from backend.models import JudgeValidation, ValidationJudgment
from tests.factories import experiment_spec
from worker.validation import run_validation


def start(client: TestClient, judge: str, validation_set: str = "pyrit-refusal-extra") -> int:
    response = client.post("/api/judge-validations", json={"judge": judge, "validation_set": validation_set})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def run(client: TestClient, settings: Settings, validation_id: int) -> dict:
    assert run_validation(validation_id, client.app.state.session_factory, settings)  # type: ignore[attr-defined]
    return client.get(f"/api/judge-validations/{validation_id}").json()


def test_refusal_phrases_on_the_held_out_set(client: TestClient, migrated: Settings) -> None:
    result = run(client, migrated, start(client, "refusal-phrases"))
    quality = result["quality"]
    assert (result["status"], result["n"], result["n_unscored"]) == ("done", 64, 0)
    # bench/judge_validation.py measures the same judge on the same pairs: accuracy 0.516, kappa 0.168.
    assert quality["accuracy"]["numerator"] == 33 and quality["accuracy"]["denominator"] == 64
    assert result["kappa"] == pytest.approx(0.168, abs=0.001) == quality["kappa"]
    assert quality["kappa_low"] < result["kappa"] < quality["kappa_high"]
    confusion = quality["confusion"]
    # It never calls a human-labelled compliance safe: every error is a refusal without a phrase.
    assert confusion["harmful"] == {"harmful": 25, "safe": 0, "unscored": 0}
    assert confusion["safe"]["harmful"] == 31
    assert quality["recall"]["estimate"] == 1.0
    assert [c["category"] for c in quality["categories"]] == ["uncategorized"]
    assert len(result["disagreements"]) == 31
    assert {(d["label"], d["verdict"]) for d in result["disagreements"]} == {("safe", "harmful")}
    assert result["seconds"] is not None


def test_a_weak_validation_warns_on_the_experiment_page(client: TestClient, migrated: Settings) -> None:
    run(client, migrated, start(client, "refusal-phrases"))
    experiment = client.post("/api/experiments", json=experiment_spec(judges=["refusal-phrases"])).json()
    (judge,) = experiment["judges"]
    assert judge["validation"]["validation_set"] == "pyrit-refusal-extra@1"
    assert "agrees only weakly with human labels: Cohen's kappa 0.17" in judge["warning"]


@pytest.mark.slow
def test_a_strong_validation_on_labels_of_what_the_judge_measures_lifts_the_warning(
    client: TestClient, migrated: Settings
) -> None:
    minilm = run(client, migrated, start(client, "refusal-minilm"))
    assert minilm["kappa"] == pytest.approx(0.872, abs=0.001)
    experiment = client.post("/api/experiments", json=experiment_spec(judges=["refusal-minilm"])).json()
    assert experiment["judges"][0]["validation"]["id"] == minilm["id"]
    assert experiment["judges"][0]["warning"] is None


def test_a_validation_resumes_from_the_verdicts_it_stored(client: TestClient, migrated: Settings) -> None:
    validation_id = start(client, "refusal-phrases")
    first = run(client, migrated, validation_id)
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    with factory.begin() as session:
        # As if the worker had died after judging half of the set: drop the rest and mark it unfinished.
        kept = session.scalars(
            select(ValidationJudgment.example_id)
            .where(ValidationJudgment.judge_validation_id == validation_id)
            .order_by(ValidationJudgment.example_id)
            .limit(32)
        ).all()
        session.execute(delete(ValidationJudgment).where(ValidationJudgment.example_id.not_in(kept)))
        validation = session.get(JudgeValidation, validation_id)
        assert validation is not None
        validation.status = JudgeJobStatus.RUNNING
    again = run(client, migrated, validation_id)
    assert again["quality"] == first["quality"]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ValidationJudgment)) == 64
    # A done validation sent again is left alone.
    assert not run_validation(validation_id, factory, migrated)


def test_a_judge_that_cannot_load_fails_the_validation_with_a_readable_error(
    client: TestClient, migrated: Settings, models_dir: Path
) -> None:
    definition = {
        "name": "missing-model",
        "kind": "sequence-classifier",
        "model": str(models_dir / "no-such-model"),
        "labels": {"unsafe": "harmful", "safe": "safe"},
    }
    assert client.post("/api/judges", json=definition).status_code == 201
    validation_id = start(client, "missing-model")
    assert run_validation(validation_id, client.app.state.session_factory, migrated)  # type: ignore[attr-defined]
    result = client.get(f"/api/judge-validations/{validation_id}").json()
    assert (result["status"], result["lease_owner"]) == ("failed", None)
    assert result["error"].startswith(f"could not load judge model '{models_dir / 'no-such-model'}'")
    assert result["quality"] is None
