"""The sweep queues again the jobs of every kind that nobody would finish, and leaves alone jobs waiting
their turn, whatever kind of job they wait behind."""

import time
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from backend.config import Settings
from backend.jobs import RUNS, VALIDATIONS, JobKind
from backend.models import utcnow
from tests.worker.conftest import Jobs
from worker.store import RunStore
from worker.sweep import sweep
from worker.validation import ValidationStore

Submitted = tuple[TestClient, RunStore, list[int]]


def run_sweep(
    client: TestClient, settings: Settings, worker_up_for: timedelta = timedelta(hours=2)
) -> dict[JobKind[Any], list[int]]:
    """The ids sent, by kind, by a sweep of a worker that has been taking tasks for `worker_up_for`."""
    sent: list[tuple[JobKind[Any], int]] = []
    sessions = client.app.state.session_factory  # type: ignore[attr-defined]
    returned = sweep(
        sessions, lambda kind, job_id: sent.append((kind, job_id)), settings, utcnow() - worker_up_for
    )
    by_kind: dict[JobKind[Any], list[int]] = {}
    for kind, job_id in sent:
        by_kind.setdefault(kind, []).append(job_id)
    assert returned == by_kind
    return by_kind


def sent_of(queued: Jobs, settings: Settings, worker_up_for: timedelta = timedelta(hours=2)) -> list[int]:
    """The ids of the kind under test that a sweep sent."""
    return run_sweep(queued.client, settings, worker_up_for).get(queued.kind, [])


def sent_an_hour_ago(queued: Jobs) -> None:
    """As if every job's task had been sent an hour ago, one a second, in order."""
    start = utcnow() - timedelta(hours=1)
    for offset, job_id in enumerate(queued.ids):
        queued.set_columns(job_id, enqueued_at=start + timedelta(seconds=offset))


def test_a_job_whose_worker_stopped_mid_work_is_queued_again_once(
    queued: Jobs, both_databases: Settings
) -> None:
    job_id, store = queued.ids[0], queued.store
    lease, _ = store.claim(job_id, "killed:1:aa", lease_s=0.5, max_attempts=3)
    assert lease is not None
    queued.start(lease)
    assert sent_of(queued, both_databases) == []  # the lease is live: its worker may be busy
    time.sleep(0.6)
    assert sent_of(queued, both_databases) == [job_id]
    job = queued.read(job_id)
    assert (job["status"], job["progress_message"], job["lease_owner"], job["attempts"]) == (
        "queued",
        "queued again: its worker stopped",
        None,
        1,  # the sweep's re-queue counts on toward the limit
    )
    assert sent_of(queued, both_databases) == []
    # The worker, were it only stalled, can no longer write.
    assert not store.renew(lease)


def test_a_job_claimed_but_never_started_is_queued_again(queued: Jobs, both_databases: Settings) -> None:
    job_id = queued.ids[0]
    assert queued.store.claim(job_id, "killed:1:aa", lease_s=0.05, max_attempts=3)[0] is not None
    time.sleep(0.1)
    assert sent_of(queued, both_databases) == [job_id]


def test_queued_jobs_are_left_to_wait_while_their_messages_may_still_come(
    queued: Jobs, both_databases: Settings
) -> None:
    assert sent_of(queued, both_databases) == []  # just sent
    sent_an_hour_ago(queued)
    # A worker busy with the first job; the others wait behind it, in the order they were sent.
    assert queued.store.claim(queued.ids[0], "busy:1:aa", lease_s=60, max_attempts=3)[0] is not None
    assert sent_of(queued, both_databases) == []


def test_queued_jobs_are_lost_when_the_workers_are_idle(queued: Jobs, both_databases: Settings) -> None:
    for job_id in queued.ids:
        queued.set_columns(job_id, enqueued_at=utcnow() - timedelta(hours=1))
    # A worker that has just started has not had the time to take their messages yet.
    assert sent_of(queued, both_databases, worker_up_for=timedelta(seconds=1)) == []
    assert sent_of(queued, both_databases) == queued.ids
    assert {queued.read(job_id)["progress_message"] for job_id in queued.ids} == {
        "queued again: its task was lost"
    }
    assert sent_of(queued, both_databases) == []  # sent again just now: waiting once more


def test_queued_jobs_are_lost_when_a_job_sent_after_them_was_taken(
    queued: Jobs, both_databases: Settings
) -> None:
    ids, store = queued.ids, queued.store
    sent_an_hour_ago(queued)
    assert store.claim(ids[0], "busy:1:aa", lease_s=60, max_attempts=3)[0] is not None
    # The fourth job's message was handed out ten minutes ago, so the second and third job's, sent before
    # it, should have been too. The fifth job's was sent after it: it may still be waiting.
    taken, _ = store.claim(ids[3], "other:2:bb", lease_s=60, max_attempts=3)
    assert taken is not None
    queued.finish(taken)
    queued.set_columns(ids[3], claimed_at=utcnow() - timedelta(minutes=10))
    assert sent_of(queued, both_databases) == [ids[1], ids[2]]


def test_a_sweep_does_not_touch_finished_jobs(queued: Jobs, both_databases: Settings) -> None:
    ids, store = queued.ids, queued.store
    lease, _ = store.claim(ids[0], "w:1:aa", lease_s=0.05, max_attempts=3)
    assert lease is not None
    queued.finish(lease)
    failed, _ = store.claim(ids[1], "w:2:bb", lease_s=0.05, max_attempts=3)
    assert failed is not None
    store.fail(failed, "the judge could not load")
    for job_id in ids[:2]:
        queued.set_columns(job_id, enqueued_at=utcnow() - timedelta(hours=1))
    time.sleep(0.1)
    assert sent_of(queued, both_databases) == []
    assert [queued.read(job_id)["status"] for job_id in ids[:2]] == ["done", "failed"]


def test_a_sweep_does_not_touch_cancelled_runs(submitted: Submitted, both_databases: Settings) -> None:
    client, store, run_ids = submitted
    runs = Jobs(RUNS, client, store, run_ids)
    lease, _ = store.claim(run_ids[0], "w:1:aa", lease_s=0.05, max_attempts=3)
    assert lease is not None
    runs.start(lease)
    client.post("/api/experiments/1/cancel")  # the worker's lease then lapses: it was killed
    for run_id in run_ids:
        runs.set_columns(run_id, enqueued_at=utcnow() - timedelta(hours=1))
    time.sleep(0.1)
    assert run_sweep(client, both_databases) == {}
    assert {r["status"] for r in client.get("/api/experiments/1").json()["runs"]} == {"cancelled"}


def test_validations_wait_behind_a_busy_run_and_are_lost_once_a_run_sent_after_them_is_taken(
    submitted: Submitted, both_databases: Settings
) -> None:
    """Every kind shares one broker queue: a worker busy with a run keeps the validations queued behind it
    waiting, and a run whose task was sent after theirs being taken means theirs were lost."""
    client, run_store, run_ids = submitted
    runs = Jobs(RUNS, client, run_store, run_ids)
    validation_store = ValidationStore(client.app.state.session_factory)  # type: ignore[attr-defined]
    validations = Jobs(VALIDATIONS, client, validation_store, [])
    validation_ids = []
    for _ in range(2):
        response = client.post(
            "/api/judge-validations", json={"judge": "refusal-phrases", "validation_set": "pyrit-refusal"}
        )
        validation_ids.append(response.json()["id"])
    # Sent an hour ago, in this order: the first run, the validations, the last run, the other runs.
    sent = utcnow() - timedelta(hours=1)
    runs.set_columns(run_ids[0], enqueued_at=sent)
    for validation_id in validation_ids:
        validations.set_columns(validation_id, enqueued_at=sent + timedelta(seconds=1))
    runs.set_columns(run_ids[4], enqueued_at=sent + timedelta(seconds=2))
    for run_id in run_ids[1:4]:
        runs.set_columns(run_id, enqueued_at=sent + timedelta(seconds=3))
    assert run_store.claim(run_ids[0], "busy:1:aa", lease_s=60, max_attempts=3)[0] is not None
    assert run_sweep(client, both_databases) == {}
    # The last run's message, sent after the validations', was taken ten minutes ago: theirs are gone.
    assert run_store.claim(run_ids[4], "other:2:bb", lease_s=60, max_attempts=3)[0] is not None
    runs.set_columns(run_ids[4], claimed_at=utcnow() - timedelta(minutes=10))
    assert run_sweep(client, both_databases) == {VALIDATIONS: validation_ids}
