"""Leases on SQLite and PostgreSQL: one holder per run, renewal, fencing of a lapsed holder's writes."""

import threading
import time

import pytest
from fastapi.testclient import TestClient

from backend.domain import RunStatus, Verdict
from worker.generation import GeneratedText, GenerationItem
from worker.judges.base import JudgeResult
from worker.lease import Heartbeat
from worker.store import LeaseLost, RunCancelled, RunStore

Submitted = tuple[TestClient, RunStore, list[int]]


def status_of(client: TestClient, run_id: int) -> dict:
    return client.get(f"/api/runs/{run_id}").json()


def test_of_two_workers_handed_the_same_run_one_claims_it(submitted: Submitted) -> None:
    client, store, (run_id, *_) = submitted
    first, _ = store.claim(run_id, "worker-a:1:aa", lease_s=60, max_attempts=3)
    second, why = store.claim(run_id, "worker-b:2:bb", lease_s=60, max_attempts=3)
    assert first is not None and second is None
    assert "worker-a:1:aa holds it until" in why
    run = status_of(client, run_id)
    assert (run["lease_owner"], run["attempts"]) == ("worker-a:1:aa", 1)


def test_concurrent_claims_yield_exactly_one_lease(submitted: Submitted) -> None:
    _, store, (run_id, *_) = submitted
    start = threading.Barrier(8)
    leases = []

    def claim(index: int) -> None:
        start.wait()
        leases.append(store.claim(run_id, f"worker-{index}:1:x", lease_s=60, max_attempts=99)[0])

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(lease is not None for lease in leases) == 1


def test_a_lapsed_lease_is_taken_over_and_the_old_holder_writes_nothing(submitted: Submitted) -> None:
    client, store, (run_id, *_) = submitted
    stale, _ = store.claim(run_id, "stalled:1:aa", lease_s=0.05, max_attempts=3)
    assert stale is not None
    time.sleep(0.1)
    fresh, _ = store.claim(run_id, "fresh:2:bb", lease_s=60, max_attempts=3)
    assert fresh is not None
    item = GenerationItem(prompt_id=1, prompt="p", sample_index=0)
    for write in (
        lambda: store.progress(stale, 0.5, "still here"),
        lambda: store.start_stage(stale, RunStatus.GENERATING),
        lambda: store.add_generations(stale, [GeneratedText(item, "late text", 2)]),
        lambda: store.finish_run(stale),
    ):
        with pytest.raises(LeaseLost):
            write()
    store.fail(stale, "the stalled worker gave up")
    store.release(stale)
    run = status_of(client, run_id)
    assert (run["status"], run["lease_owner"], run["error"]) == ("queued", "fresh:2:bb", None)
    assert store.count_generations(run_id) == 0
    assert store.renew(fresh)


def test_the_heartbeat_keeps_a_lease_alive_past_its_length(submitted: Submitted) -> None:
    _, store, (run_id, *_) = submitted
    lease, _ = store.claim(run_id, "busy:1:aa", lease_s=0.4, max_attempts=3)
    assert lease is not None
    with Heartbeat(store, lease):
        time.sleep(1.2)  # three lease lengths without a write
        assert store.claim(run_id, "other:2:bb", lease_s=60, max_attempts=3)[0] is None
    time.sleep(0.5)  # no heartbeat now: it lapses
    assert store.claim(run_id, "other:2:bb", lease_s=60, max_attempts=3)[0] is not None


def test_cancelling_stops_the_holder_at_its_next_write(submitted: Submitted) -> None:
    client, store, (run_id, *_) = submitted
    lease, _ = store.claim(run_id, "worker:1:aa", lease_s=60, max_attempts=3)
    assert lease is not None
    store.start_stage(lease, RunStatus.TRAINING)
    client.post("/api/experiments/1/cancel")
    with pytest.raises(RunCancelled):
        store.progress(lease, 0.5, "step 5")
    with pytest.raises(RunCancelled):
        store.add_judgments(lease, "refusal-phrases@1", [(1, JudgeResult(Verdict.SAFE, None, "x"))])
    store.fail(lease, "should not show")
    assert status_of(client, run_id)["status"] == "cancelled"


def test_fail_never_turns_a_done_run_into_a_failed_one(submitted: Submitted) -> None:
    client, store, (run_id, *_) = submitted
    lease, _ = store.claim(run_id, "worker:1:aa", lease_s=60, max_attempts=3)
    assert lease is not None
    store.finish_run(lease)
    store.fail(lease, "a late error")
    run = status_of(client, run_id)
    assert (run["status"], run["error"], run["lease_owner"]) == ("done", None, None)


def test_a_run_whose_workers_keep_dying_fails_after_the_attempt_limit(submitted: Submitted) -> None:
    client, store, (run_id, *_) = submitted
    for attempt in range(2):
        lease, _ = store.claim(run_id, f"doomed:{attempt}:aa", lease_s=0.01, max_attempts=2)
        assert lease is not None
        time.sleep(0.05)  # killed: the lease lapses
    lease, why = store.claim(run_id, "third:3:cc", lease_s=60, max_attempts=2)
    assert lease is None and why == "failed after 2 attempts"
    run = status_of(client, run_id)
    assert run["status"] == "failed" and "gave up after 2 attempts" in run["error"]
    # A user's retry starts the count again.
    assert client.post(f"/api/runs/{run_id}/retry").status_code == 200
    assert store.claim(run_id, "fourth:4:dd", lease_s=60, max_attempts=2)[0] is not None
