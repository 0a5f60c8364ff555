"""The sweep queues again the runs nobody would finish, and leaves alone runs waiting their turn."""

import time
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from backend.config import Settings
from backend.domain import RunStatus
from backend.models import Run, utcnow
from worker.store import RunStore
from worker.sweep import sweep

Submitted = tuple[TestClient, RunStore, list[int]]


def run_sweep(
    client: TestClient, settings: Settings, worker_up_for: timedelta = timedelta(hours=2)
) -> list[int]:
    """The ids sent by a sweep of a worker that has been taking tasks for `worker_up_for`."""
    sent: list[int] = []
    sessions = client.app.state.session_factory  # type: ignore[attr-defined]
    sweep(sessions, sent.append, settings, utcnow() - worker_up_for)
    return sent


def set_columns(client: TestClient, run_id: int, **values: object) -> None:
    with client.app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
        session.execute(update(Run).where(Run.id == run_id).values(**values))


def test_a_run_whose_worker_stopped_mid_stage_is_queued_again_once(
    submitted: Submitted, both_databases: Settings
) -> None:
    client, store, (run_id, *_) = submitted
    lease, _ = store.claim(run_id, "killed:1:aa", lease_s=0.05, max_attempts=3)
    assert lease is not None
    store.start_stage(lease, RunStatus.GENERATING)
    assert run_sweep(client, both_databases) == []  # the lease is live: its worker may be busy
    time.sleep(0.1)
    assert run_sweep(client, both_databases) == [run_id]
    run = client.get(f"/api/runs/{run_id}").json()
    assert (run["status"], run["progress_message"], run["lease_owner"]) == (
        "queued",
        "queued again: its worker stopped",
        None,
    )
    assert run_sweep(client, both_databases) == []


def test_a_run_claimed_but_never_started_is_queued_again(
    submitted: Submitted, both_databases: Settings
) -> None:
    client, store, (run_id, *_) = submitted
    assert store.claim(run_id, "killed:1:aa", lease_s=0.05, max_attempts=3)[0] is not None
    time.sleep(0.1)
    assert run_sweep(client, both_databases) == [run_id]


def test_queued_runs_are_left_to_wait_while_their_messages_may_still_come(
    submitted: Submitted, both_databases: Settings
) -> None:
    client, store, run_ids = submitted
    assert run_sweep(client, both_databases) == []  # just sent
    start = utcnow() - timedelta(hours=1)
    for offset, run_id in enumerate(run_ids):
        set_columns(client, run_id, enqueued_at=start + timedelta(seconds=offset))
    # A worker busy with the first run; the others wait behind it, in the order they were sent.
    assert store.claim(run_ids[0], "busy:1:aa", lease_s=60, max_attempts=3)[0] is not None
    assert run_sweep(client, both_databases) == []


def test_queued_runs_are_lost_when_the_workers_are_idle(
    submitted: Submitted, both_databases: Settings
) -> None:
    client, _, run_ids = submitted
    for run_id in run_ids:
        set_columns(client, run_id, enqueued_at=utcnow() - timedelta(hours=1))
    # A worker that has just started has not had the time to take their messages yet.
    assert run_sweep(client, both_databases, worker_up_for=timedelta(seconds=1)) == []
    assert run_sweep(client, both_databases) == run_ids
    assert {r["progress_message"] for r in client.get("/api/experiments/1").json()["runs"]} == {
        "queued again: its task was lost"
    }
    assert run_sweep(client, both_databases) == []  # sent again just now: waiting once more


def test_queued_runs_are_lost_when_a_run_sent_after_them_was_taken(
    submitted: Submitted, both_databases: Settings
) -> None:
    client, store, run_ids = submitted
    start = utcnow() - timedelta(hours=1)
    for offset, run_id in enumerate(run_ids):
        set_columns(client, run_id, enqueued_at=start + timedelta(seconds=offset))
    assert store.claim(run_ids[0], "busy:1:aa", lease_s=60, max_attempts=3)[0] is not None
    # The fourth run's message was handed out ten minutes ago, so the second and third run's, sent before
    # it, should have been too. The fifth run's was sent after it: it may still be waiting.
    taken, _ = store.claim(run_ids[3], "other:2:bb", lease_s=60, max_attempts=3)
    assert taken is not None
    store.finish_run(taken)
    set_columns(client, run_ids[3], claimed_at=utcnow() - timedelta(minutes=10))
    assert run_sweep(client, both_databases) == [run_ids[1], run_ids[2]]


def test_a_sweep_does_not_touch_finished_or_cancelled_runs(
    submitted: Submitted, both_databases: Settings
) -> None:
    client, store, run_ids = submitted
    lease, _ = store.claim(run_ids[0], "w:1:aa", lease_s=0.05, max_attempts=3)
    assert lease is not None
    store.finish_run(lease)
    client.post("/api/experiments/1/cancel")
    for run_id in run_ids:
        set_columns(client, run_id, enqueued_at=utcnow() - timedelta(hours=1))
    time.sleep(0.1)
    assert run_sweep(client, both_databases) == []
    assert [r["status"] for r in client.get("/api/experiments/1").json()["runs"]] == ["done"] + [
        "cancelled"
    ] * 4
