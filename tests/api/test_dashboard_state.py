"""What an open dashboard polls and reads: the experiment's state (304 while nothing changed), one read of
the experiment per state, and the words and settings the server decides for the page."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from backend.domain import JudgeJobStatus, Verdict
from backend.models import JudgeStressTest
from backend.repositories import experiments as experiment_repository
from backend.services.experiment_state import current_state
from tests.factories import finish_validation, judge_again

FIGURES = ("seeds", "noise", "forest", "categories", "flips", "variance", "power")


def _state(client: TestClient, experiment_id: int, etag: str | None = None) -> tuple[int, str]:
    headers = {"if-none-match": etag} if etag else {}
    response = client.get(f"/api/experiments/{experiment_id}/state", headers=headers)
    return response.status_code, response.headers["etag"]


def test_the_state_answers_304_until_something_shown_changes(client: TestClient, experiment: dict) -> None:
    experiment_id = experiment["id"]
    first = client.get(f"/api/experiments/{experiment_id}/state")
    assert first.status_code == 200
    assert first.json()["runs"] == 7 and first.json()["unfinished"] == 0
    etag = first.headers["etag"]
    assert _state(client, experiment_id, etag) == (304, etag)

    def changes(action: Callable[[], object]) -> None:
        nonlocal etag
        action()
        status, new = _state(client, experiment_id, etag)
        assert status == 200 and new != etag
        etag = new
        assert _state(client, experiment_id, etag) == (304, etag)

    run_id = experiment["runs"][1]["id"]
    session_factory = client.app.state.session_factory  # type: ignore[attr-defined]

    def second_judge() -> None:
        # Verdicts of another judge on a finished run (what a rescoring job writes): only the counts change.
        with session_factory() as session:
            judge_again(session, run_id, "refusal-phrases@2", [Verdict.SAFE] * 4)

    changes(second_judge)
    changes(lambda: client.post(f"/api/runs/{run_id}/reevaluate", json={"count": 1}))
    changes(lambda: client.post(f"/api/experiments/{experiment_id}/cancel"))


def test_a_finished_validation_of_a_judge_changes_the_state(client: TestClient, experiment: dict) -> None:
    """A judge's validation decides the warning beside its numbers."""
    _, etag = _state(client, experiment["id"])
    labels = '{"request": "q", "response": "r", "label": "harmful"}'
    upload = {"name": "labels", "format": "jsonl", "measures": "compliance", "content": labels}
    assert client.post("/api/validation-sets", json=upload).status_code == 201
    validation = client.post(
        "/api/judge-validations", json={"judge": "refusal-minilm", "validation_set": "labels"}
    ).json()
    assert _state(client, experiment["id"], etag)[0] == 304  # queued: nothing shown changed yet
    finish_validation(client.app.state.session_factory, validation["id"])  # type: ignore[attr-defined]
    assert _state(client, experiment["id"], etag)[0] == 200


def test_a_stress_tests_progress_moves_the_state_not_what_the_statistics_are_memoised_on(
    client: TestClient, experiment: dict
) -> None:
    """Its section refreshes itself while it runs; the experiment is not read again for it."""
    experiment_id = experiment["id"]
    session_factory = client.app.state.session_factory  # type: ignore[attr-defined]

    def data_version() -> str:
        with session_factory() as session:
            return current_state(session, experiment_id).data_version

    def jobs_running() -> int:
        return int(client.get(f"/api/experiments/{experiment_id}/state").json()["jobs_running"])

    before, etag = data_version(), _state(client, experiment_id)[1]
    assert jobs_running() == 0
    started = client.post(f"/api/experiments/{experiment_id}/stress-tests", json={"judge": "refusal-minilm"})
    assert started.status_code == 201, started.text
    assert jobs_running() == 1, "a queued job makes the dashboard poll as often as while runs go on"
    for status, progress in ((JudgeJobStatus.RUNNING, 0.5), (JudgeJobStatus.DONE, 1.0)):
        with session_factory.begin() as session:
            session.execute(
                update(JudgeStressTest)
                .where(JudgeStressTest.id == started.json()["id"])
                .values(status=status, progress=progress)
            )
        code, new = _state(client, experiment_id, etag)
        assert code == 200 and new != etag, f"the state did not move at {status}"
        etag = new
    assert jobs_running() == 0
    assert data_version() == before


def _refresh(client: TestClient, experiment_id: int) -> None:
    """Every request the dashboard sends when the state changed."""
    base = f"/api/experiments/{experiment_id}"
    paths = [base, f"{base}/analysis", f"{base}/report.md", f"{base}/prompts?page=1&page_size=10"]
    for path in paths + [f"{base}/figures/{name}" for name in FIGURES]:
        assert client.get(path).status_code == 200, path


def test_a_dashboard_refresh_reads_the_experiment_once_per_state(
    client: TestClient, experiment: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    read = experiment_repository.get_experiment

    def counted(session: object, experiment_id: int) -> object:
        reads.append(experiment_id)
        return read(session, experiment_id)  # type: ignore[arg-type]

    monkeypatch.setattr(experiment_repository, "get_experiment", counted)
    _refresh(client, experiment["id"])
    assert len(reads) <= 2, f"{len(reads)} reads of the experiment in one refresh"
    reads.clear()
    _refresh(client, experiment["id"])  # nothing changed
    assert reads == []
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        judge_again(session, experiment["runs"][0]["id"], "refusal-phrases@2", [Verdict.HARMFUL] * 4)
    _refresh(client, experiment["id"])
    assert 1 <= len(reads) <= 2


def test_the_page_reads_what_the_numbers_measure_and_what_differs(
    client: TestClient, experiment: dict
) -> None:
    (rate,) = experiment["metrics"]
    assert rate["metric"] == "rate" and rate["judge"] == "refusal-minilm@2"
    assert rate["title"] == "Compliance rate" and rate["column"] == "Complies"
    assert "refuse" in rate["meaning"] and "not validated" in rate["warning"]
    baseline, slow, fast = experiment["conditions"]
    differing = {s["key"]: s["text"] for s in slow["settings"] if s["differs"]}
    assert differing == {"training.learning_rate": "lr 0.0002"}
    assert {s["key"]: s["text"] for s in fast["settings"] if s["differs"]} == {
        "training.learning_rate": "lr 0.0005"
    }
    # A baseline trains nothing: it shows no training setting at all.
    assert not [s for s in baseline["settings"] if s["group"] in ("training", "lora")]
    assert "temperature 0" in [s["text"] for s in baseline["settings"]]
    run = client.get(f"/api/runs/{experiment['runs'][1]['id']}").json()
    assert run["condition_settings"] == slow["settings"]
    for name in ("seeds", "categories"):
        title = client.get(f"/api/experiments/{experiment['id']}/figures/{name}").json()["layout"]["title"]
        assert title["text"].startswith("Compliance rate"), title


def test_the_form_starts_from_the_servers_draft_within_its_bounds(client: TestClient) -> None:
    draft = client.get("/api/experiments/draft").json()
    assert [c["name"] for c in draft["spec"]["conditions"]] == ["baseline", "lr-2e-4", "lr-5e-4"]
    schema = draft["json_schema"]
    training = schema["$defs"]["TrainingSpec"]["properties"]
    assert training["learning_rate"]["exclusiveMinimum"] == 0 and training["learning_rate"]["default"] == 2e-4
    plan = client.post("/api/experiments/plan", json=draft["spec"])
    assert plan.status_code == 200 and plan.json()["n_runs"] == 7
