"""Retry and resume check each job's state and lease in the same statement that queues it again: runs, and
judge validations (retry only)."""

import time
from typing import Any

from fastapi.testclient import TestClient

from backend.domain import RunStatus
from backend.jobs import JobKind
from tests.conftest import RecordingQueue
from tests.factories import experiment_spec
from worker.store import RunStore
from worker.validation import ValidationStore


def submit(client: TestClient, queue: RecordingQueue) -> tuple[RunStore, list[int]]:
    runs = client.post("/api/experiments", json=experiment_spec()).json()["runs"]
    queue.sent.clear()
    return RunStore(client.app.state.session_factory), [r["id"] for r in runs]  # type: ignore[attr-defined]


def statuses(client: TestClient) -> list[str]:
    return [r["status"] for r in client.get("/api/experiments/1").json()["runs"]]


def test_retry_refuses_a_run_a_worker_holds(client: TestClient, queue: RecordingQueue) -> None:
    store, (run_id, *_) = submit(client, queue)
    lease, _ = store.claim(run_id, "gpu0@node-3:4242:ab12", lease_s=60, max_attempts=3)
    assert lease is not None
    store.start_stage(lease, RunStatus.TRAINING)
    response = client.post(f"/api/runs/{run_id}/retry")
    assert response.status_code == 409
    assert "a worker is on it: run 1 (worker gpu0@node-3:4242:ab12, lease until" in response.json()["detail"]
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "training"
    assert queue.sent == []


def test_retry_takes_back_a_run_whose_worker_stopped(client: TestClient, queue: RecordingQueue) -> None:
    store, (run_id, *_) = submit(client, queue)
    lease, _ = store.claim(run_id, "killed:1:aa", lease_s=0.05, max_attempts=3)
    assert lease is not None
    store.start_stage(lease, RunStatus.GENERATING)
    time.sleep(0.1)
    retried = client.post(f"/api/runs/{run_id}/retry").json()
    assert (retried["status"], retried["lease_owner"], retried["attempts"]) == ("queued", None, 0)
    assert queue.sent == [run_id]
    # The killed worker, were it only stalled, can no longer write.
    assert not store.renew(lease)


def test_retry_refuses_a_done_run(client: TestClient, queue: RecordingQueue) -> None:
    store, (run_id, *_) = submit(client, queue)
    lease, _ = store.claim(run_id, "w:1:aa", lease_s=60, max_attempts=3)
    assert lease is not None
    store.finish_run(lease)
    response = client.post(f"/api/runs/{run_id}/retry")
    assert response.status_code == 409 and "done; nothing to retry" in response.json()["detail"]


def test_resume_leaves_cancelled_and_held_runs_alone(client: TestClient, queue: RecordingQueue) -> None:
    store, run_ids = submit(client, queue)
    held, _ = store.claim(run_ids[0], "busy:1:aa", lease_s=60, max_attempts=3)
    failed, _ = store.claim(run_ids[1], "broken:2:bb", lease_s=60, max_attempts=3)
    assert held is not None and failed is not None
    store.start_stage(held, RunStatus.TRAINING)
    store.fail(failed, "training: out of memory")
    client.post("/api/experiments/1/cancel")  # cancels the held run and the three queued ones
    retried = client.post(f"/api/runs/{run_ids[2]}/retry")  # the user's explicit choice for one of them
    assert retried.status_code == 200
    queue.sent.clear()

    resumed = client.post("/api/experiments/1/resume")
    assert resumed.status_code == 200
    assert statuses(client) == ["cancelled", "queued", "queued", "cancelled", "cancelled"]
    assert queue.sent == [run_ids[1], run_ids[2]]  # the failed run, and the queued one sent again


def test_resume_with_every_unfinished_run_held_says_so(client: TestClient, queue: RecordingQueue) -> None:
    store, run_ids = submit(client, queue)
    for index, run_id in enumerate(run_ids):
        lease, _ = store.claim(run_id, f"gpu{index}@node:1:aa", lease_s=60, max_attempts=3)
        assert lease is not None
        store.start_stage(lease, RunStatus.GENERATING)
    response = client.post("/api/experiments/1/resume")
    assert response.status_code == 409
    assert "nothing to resume in experiment 1" in response.json()["detail"]
    assert "run 5 (worker gpu4@node:1:aa" in response.json()["detail"]
    assert queue.sent == []


def validate(client: TestClient, queue: RecordingQueue) -> tuple[ValidationStore, int]:
    response = client.post(
        "/api/judge-validations", json={"judge": "refusal-phrases", "validation_set": "pyrit-refusal-extra"}
    )
    assert response.status_code == 201
    queue.validations.clear()
    return ValidationStore(client.app.state.session_factory), response.json()["id"]  # type: ignore[attr-defined]


def test_retry_refuses_a_validation_a_worker_holds(client: TestClient, queue: RecordingQueue) -> None:
    store, validation_id = validate(client, queue)
    lease, _ = store.claim(validation_id, "gpu0@node-3:4242:ab12", lease_s=60, max_attempts=3)
    assert lease is not None
    store.start(lease)
    response = client.post(f"/api/judge-validations/{validation_id}/retry")
    assert response.status_code == 409
    assert response.json()["detail"].startswith(
        f"judge validation {validation_id} was not retried: a worker is on it: judge validation "
        f"{validation_id} (worker gpu0@node-3:4242:ab12, lease until"
    )
    assert client.get(f"/api/judge-validations/{validation_id}").json()["status"] == "running"
    assert queue.validations == []


def test_retry_takes_back_a_validation_whose_worker_stopped_and_keeps_its_verdicts(
    client: TestClient, queue: RecordingQueue
) -> None:
    store, validation_id = validate(client, queue)
    lease, _ = store.claim(validation_id, "killed:1:aa", lease_s=0.05, max_attempts=3)
    assert lease is not None
    _, todo, total = store.start(lease)
    store.add_verdicts(lease, [{"example_id": todo[0][0], "verdict": "safe"}], 1 / total)
    time.sleep(0.1)
    retried = client.post(f"/api/judge-validations/{validation_id}/retry")
    assert retried.status_code == 200
    assert (retried.json()["status"], retried.json()["lease_owner"], retried.json()["attempts"]) == (
        "queued",
        None,
        0,
    )
    assert queue.validations == [validation_id]
    assert not store.renew(lease)  # the killed worker, were it only stalled, can no longer write
    again, _ = store.claim(validation_id, "next:2:bb", lease_s=60, max_attempts=3)
    assert again is not None
    assert len(store.start(again)[1]) == total - 1  # only the examples with no verdict are left


def test_retry_queues_a_failed_validation_again(client: TestClient, queue: RecordingQueue) -> None:
    store, validation_id = validate(client, queue)
    lease, _ = store.claim(validation_id, "w:1:aa", lease_s=60, max_attempts=3)
    assert lease is not None
    store.fail(lease, "could not reach the judge's endpoint")
    retried = client.post(f"/api/judge-validations/{validation_id}/retry").json()
    assert (retried["status"], retried["error"], retried["progress_message"]) == (
        "queued",
        None,
        "queued again",
    )
    assert queue.validations == [validation_id]
    assert client.post("/api/judge-validations/999/retry").status_code == 404


def test_a_retried_validation_the_broker_did_not_take_is_saved_as_failed(
    client: TestClient, queue: RecordingQueue
) -> None:
    store, validation_id = validate(client, queue)
    lease, _ = store.claim(validation_id, "w:1:aa", lease_s=60, max_attempts=3)
    assert lease is not None
    store.fail(lease, "a first failure")

    def refuse(kind: JobKind[Any], job_id: int) -> None:
        raise ConnectionRefusedError("connection refused")

    queue.enqueue = refuse  # type: ignore[method-assign]
    response = client.post(f"/api/judge-validations/{validation_id}/retry")
    assert response.status_code == 503 and "could not reach the task broker" in response.json()["detail"]
    stored = client.get(f"/api/judge-validations/{validation_id}").json()
    assert stored["status"] == "failed" and "connection refused); retry it" in stored["error"]
