"""The dashboard's default views are stored per state (backend.services.snapshots): computed once, served
from the row by any API process, stale only while a run is being judged."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from backend.api.app import create_app
from backend.config import Settings
from backend.domain import RunStatus, Verdict
from backend.models import AnalysisSnapshot, Run
from backend.services import snapshots
from tests.conftest import RecordingQueue, sign_in_as_local_owner
from tests.factories import add_verdicts, experiment_spec, upload_small_benchmark


def stored_views(client: TestClient, experiment_id: int) -> dict[str, str]:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        rows = session.execute(
            select(AnalysisSnapshot.view, AnalysisSnapshot.state_key).where(
                AnalysisSnapshot.experiment_id == experiment_id
            )
        )
        return {view: key for view, key in rows}


def test_a_default_view_is_stored_and_served_by_another_process_without_computing(
    client: TestClient, experiment: dict, migrated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"/api/experiments/{experiment['id']}"
    first = client.get(f"{url}/analysis").json()
    client.get(f"{url}/figures/seeds")
    assert {"analysis", "figure:seeds"} <= set(stored_views(client, experiment["id"]))

    def must_not_compute(*_: object) -> dict:
        raise AssertionError("a current snapshot was computed again")

    monkeypatch.setitem(snapshots.VIEWS, "analysis", must_not_compute)
    monkeypatch.setitem(snapshots.VIEWS, "figure:seeds", must_not_compute)
    with TestClient(create_app(migrated, RecordingQueue())) as other:  # an empty memo, as a new process
        sign_in_as_local_owner(other, migrated)
        assert other.get(f"{url}/analysis").json() == first
        assert other.get(f"{url}/figures/seeds").status_code == 200


def test_a_view_stored_by_other_code_is_computed_afresh(
    client: TestClient, experiment: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"/api/experiments/{experiment['id']}"
    first = client.get(f"{url}/analysis").json()
    before = stored_views(client, experiment["id"])["analysis"]
    # The same runs, read by an upgraded backend (a fixed statistic): the stored view is not served.
    monkeypatch.setattr(snapshots, "CODE_FINGERPRINT", "another version of the code")
    assert client.get(f"{url}/analysis").json() == first
    assert stored_views(client, experiment["id"])["analysis"] != before


def test_new_state_is_computed_afresh_and_a_judged_run_gets_the_stale_view(
    client: TestClient, experiment: dict
) -> None:
    url = f"/api/experiments/{experiment['id']}/analysis"
    before = client.get(url).json()
    assert before["stale"] is False
    key = stored_views(client, experiment["id"])["analysis"]
    tuned = next(r for r in experiment["runs"] if r["condition_name"] == "lr-2e-4")
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        session.execute(update(Run).where(Run.id == tuned["id"]).values(status=RunStatus.JUDGING))
        session.commit()
    # A run is being judged: the last snapshot, marked stale, rather than a recomputation per batch.
    during = client.get(url).json()
    assert during["stale"] is True and during["comparisons"] == before["comparisons"]
    assert stored_views(client, experiment["id"])["analysis"] == key
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        session.execute(update(Run).where(Run.id == tuned["id"]).values(status=RunStatus.FAILED))
        session.commit()
    # No run is being judged: the new state is computed and stored.
    after = client.get(url).json()
    assert after["stale"] is False and after["partial"] is True
    assert stored_views(client, experiment["id"])["analysis"] != key


def test_chosen_pairs_are_computed_not_stored(client: TestClient, experiment: dict) -> None:
    url = f"/api/experiments/{experiment['id']}/analysis"
    chosen = client.get(url, params={"pair": "lr-5e-4:lr-2e-4"}).json()
    assert any(c["a"] == "lr-5e-4" and c["b"] == "lr-2e-4" for c in chosen["comparisons"])
    assert "analysis" not in stored_views(client, experiment["id"])


def test_precompute_stores_every_default_view(client: TestClient, experiment: dict) -> None:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        snapshots.precompute(session, experiment["id"])
    assert set(stored_views(client, experiment["id"])) == set(snapshots.VIEWS)
    assert len(set(stored_views(client, experiment["id"]).values())) == 1  # all of one state


def test_every_benchmark_s_default_views_are_precomputed_and_served_as_computed(
    client: TestClient, migrated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_small_benchmark(client, "three-prompts", 3)
    spec = experiment_spec(
        benchmark=None,
        benchmarks=["three-prompts", "seedscope-harmful-demo-b"],
        capability=["seedscope-capability-demo"],
    )
    experiment = client.post("/api/experiments", json=spec).json()
    url = f"/api/experiments/{experiment['id']}"
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            add_verdicts(session, run["id"], [[Verdict.HARMFUL]] * 3 + [[Verdict.SAFE]] * 48)
            add_verdicts(
                session,
                run["id"],
                [[Verdict.SAFE]] * 60,
                judge="reference-answer@1",
                on="seedscope-capability-demo",
            )
        snapshots.precompute(session, experiment["id"])
    ids = [b["id"] for b in experiment["benchmarks"]]
    expected = {f"{view} on benchmark {i}" for i in ids[1:] for view in snapshots.VIEWS} | set(
        snapshots.VIEWS
    )
    assert set(stored_views(client, experiment["id"])) == expected
    computed = client.get(
        f"{url}/analysis", params={"benchmark": "seedscope-capability-demo", "pair": "lr-5e-4:lr-2e-4"}
    ).json()

    def must_not_compute(*_: object) -> dict:
        raise AssertionError("a current snapshot was computed again")

    monkeypatch.setitem(snapshots.VIEWS, "analysis", must_not_compute)
    with TestClient(create_app(migrated, RecordingQueue())) as other:  # an empty memo, as a new process
        sign_in_as_local_owner(other, migrated)
        served = other.get(f"{url}/analysis", params={"benchmark": "seedscope-capability-demo"}).json()
    assert served["benchmark"] == "seedscope-capability-demo@1" and served["judge"] == "reference-answer@1"
    assert (
        [c["mean"] for c in served["conditions"]] == [c["mean"] for c in computed["conditions"]] == [1.0] * 3
    )
