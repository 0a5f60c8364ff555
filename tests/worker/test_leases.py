"""Leases on SQLite and PostgreSQL, for every kind of job: one holder per job, renewal, fencing of a lapsed
holder's writes, the attempt limit; and what only runs have (cancelling)."""

import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from backend.domain import RunStatus, Verdict
from tests.worker.conftest import Jobs
from worker.coherence import Coherence
from worker.generation import GeneratedText, GenerationItem
from worker.judges.base import JudgeResult
from worker.lease import Heartbeat, JobCancelled, Lease, LeaseLost
from worker.rescoring import RescoringStore
from worker.store import RunStore
from worker.stress_test import StressTestStore

Submitted = tuple[TestClient, RunStore, list[int]]


def test_of_two_workers_handed_the_same_job_one_claims_it(queued: Jobs) -> None:
    job_id, store = queued.ids[0], queued.store
    first, _ = store.claim(job_id, "worker-a:1:aa", lease_s=60, max_attempts=3)
    second, why = store.claim(job_id, "worker-b:2:bb", lease_s=60, max_attempts=3)
    assert first is not None and second is None
    assert "worker-a:1:aa holds it until" in why
    job = queued.read(job_id)
    assert (job["lease_owner"], job["attempts"]) == ("worker-a:1:aa", 1)


def test_concurrent_claims_yield_exactly_one_lease(queued: Jobs) -> None:
    job_id, store = queued.ids[0], queued.store
    start = threading.Barrier(8)
    leases = []

    def claim(index: int) -> None:
        start.wait()
        leases.append(store.claim(job_id, f"worker-{index}:1:x", lease_s=60, max_attempts=99)[0])

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(lease is not None for lease in leases) == 1
    assert queued.read(job_id)["attempts"] == 1


def late_writes(queued: Jobs, stale: Lease) -> list[Callable[[], object]]:
    """Every write of the job's kind, as the worker holding `stale` would make it."""
    store = queued.store
    if isinstance(store, RunStore):
        item = GenerationItem(prompt_id=1, prompt="p", sample_index=0)
        return [
            lambda: store.progress(stale, 0.5, "still here"),
            lambda: store.start_stage(stale, RunStatus.GENERATING),
            lambda: store.add_generations(
                stale, [GeneratedText(item, "late text", 2)], [Coherence(-2.0, 0.0, 0.0, incoherent=False)]
            ),
            lambda: store.finish_run(stale),
        ]
    if isinstance(store, RescoringStore):
        return [
            lambda: store.start(stale),
            lambda: store.add_verdicts(stale, 1, [], (0, 0), 0.1),
            lambda: store.wait(stale, "waiting"),
            lambda: store.finish(stale),
        ]
    if isinstance(store, StressTestStore):
        return [
            lambda: store.start(stale),
            lambda: store.add_verdicts(stale, [], (0, 0), 0.1),
            lambda: store.finish(stale),
        ]
    return [
        lambda: store.start(stale),
        lambda: store.add_verdicts(stale, [{"example_id": 1, "verdict": Verdict.SAFE}], 0.5),
        lambda: store.finish(stale, seconds=1.0),
    ]


def test_a_lapsed_lease_is_taken_over_and_the_old_holder_writes_nothing(queued: Jobs) -> None:
    job_id, store = queued.ids[0], queued.store
    stale, _ = store.claim(job_id, "stalled:1:aa", lease_s=0.05, max_attempts=3)
    assert stale is not None
    time.sleep(0.1)
    fresh, _ = store.claim(job_id, "fresh:2:bb", lease_s=60, max_attempts=3)
    assert fresh is not None
    for write in late_writes(queued, stale):
        with pytest.raises(LeaseLost):
            write()
    store.fail(stale, "the stalled worker gave up")
    store.release(stale)
    job = queued.read(job_id)
    assert (job["status"], job["lease_owner"], job["error"], job["progress"]) == (
        "queued",
        "fresh:2:bb",
        None,
        0,
    )
    assert store.renew(fresh)


def test_the_heartbeat_keeps_a_lease_alive_past_its_length(queued: Jobs) -> None:
    job_id, store = queued.ids[0], queued.store
    lease, _ = store.claim(job_id, "busy:1:aa", lease_s=0.4, max_attempts=3)
    assert lease is not None
    with Heartbeat(store, lease):
        time.sleep(1.2)  # three lease lengths without a write
        assert store.claim(job_id, "other:2:bb", lease_s=60, max_attempts=3)[0] is None
    time.sleep(0.5)  # no heartbeat now: it lapses
    assert store.claim(job_id, "other:2:bb", lease_s=60, max_attempts=3)[0] is not None


def test_fail_never_turns_a_done_job_into_a_failed_one(queued: Jobs) -> None:
    job_id, store = queued.ids[0], queued.store
    lease, _ = store.claim(job_id, "worker:1:aa", lease_s=60, max_attempts=3)
    assert lease is not None
    queued.finish(lease)
    store.fail(lease, "a late error")
    job = queued.read(job_id)
    assert (job["status"], job["error"], job["lease_owner"]) == ("done", None, None)
    # Neither a second delivery of its task nor a retry takes it up again.
    assert store.claim(job_id, "late:2:bb", lease_s=60, max_attempts=3) == (None, "it is done")
    response = queued.retry(job_id)
    assert response.status_code == 409 and "done; nothing to retry" in response.json()["detail"]


def test_a_job_whose_workers_keep_dying_fails_after_the_attempt_limit(queued: Jobs) -> None:
    job_id, store = queued.ids[0], queued.store
    for attempt in range(2):
        lease, _ = store.claim(job_id, f"doomed:{attempt}:aa", lease_s=0.01, max_attempts=2)
        assert lease is not None
        queued.start(lease)
        time.sleep(0.05)  # killed: the lease lapses
    lease, why = store.claim(job_id, "third:3:cc", lease_s=60, max_attempts=2)
    assert lease is None and why == "failed after 2 attempts"
    job = queued.read(job_id)
    assert (job["status"], job["lease_owner"]) == ("failed", None)
    assert f"gave up after 2 attempts: every worker that took this {queued.kind.noun} stopped" in job["error"]
    assert store.claim(job_id, "fourth:4:dd", lease_s=60, max_attempts=2) == (None, "it is failed")
    # A user's retry starts the count again.
    assert queued.retry(job_id).status_code == 200
    assert queued.read(job_id)["attempts"] == 0
    assert store.claim(job_id, "fourth:4:dd", lease_s=60, max_attempts=2)[0] is not None


def test_cancelling_stops_the_holder_at_its_next_write(submitted: Submitted) -> None:
    client, store, (run_id, *_) = submitted
    lease, _ = store.claim(run_id, "worker:1:aa", lease_s=60, max_attempts=3)
    assert lease is not None
    store.start_stage(lease, RunStatus.TRAINING)
    client.post("/api/experiments/1/cancel")
    with pytest.raises(JobCancelled):
        store.progress(lease, 0.5, "step 5")
    with pytest.raises(JobCancelled):
        store.add_judgments(lease, 1, [(1, JudgeResult(Verdict.SAFE, None, "x"))])
    store.fail(lease, "should not show")
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "cancelled"
    assert store.claim(run_id, "other:2:bb", lease_s=60, max_attempts=3) == (None, "it is cancelled")
