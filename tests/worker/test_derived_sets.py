"""Derived training sets as the worker stores them (training.responses: self): one per name, whoever
stores it first, on SQLite and on PostgreSQL."""

import threading

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.api_models.catalog import TrainingSetRead
from backend.catalog.derived import derived_name
from backend.catalog.records import ExampleRecord
from backend.models import TrainingSet
from backend.provenance import DatasetVersion, SelfWrittenResponses
from tests.factories import self_written
from worker.store import RunStore

Submitted = tuple[TestClient, RunStore, list[int]]


def written_by(store: RunStore, run_id: int) -> SelfWrittenResponses:
    """What a run of the submitted experiment records about the answers it writes to its training set."""
    context = store.context(run_id)
    assert context is not None
    source = DatasetVersion(
        id=context.training_set_id,
        name=context.training_set_name,
        version=context.training_set_version,
        content_hash=context.training_set_hash,
    )
    return self_written(source, run_id)


def test_runs_racing_to_store_the_same_derived_set_end_with_the_first_one(submitted: Submitted) -> None:
    client, store, run_ids = submitted
    racers = run_ids[1:3]
    leases = [store.claim(run_id, f"worker-{run_id}:1:x", lease_s=60, max_attempts=3)[0] for run_id in racers]
    written = [written_by(store, run_id) for run_id in racers]
    name = derived_name(written[0])
    assert derived_name(written[1]) == name  # the same answers, whichever run writes them
    project_id = store.context(racers[0]).project_id  # type: ignore[union-attr]
    start = threading.Barrier(len(racers))
    stored: list[TrainingSetRead] = []

    def add(index: int) -> None:
        # Greedy answers written on two devices may differ in a token: the set is whichever is stored first.
        answers = [ExampleRecord("What is 1 + 1?", f"2, says worker {index}")]
        lease = leases[index]
        assert lease is not None
        start.wait()
        stored.append(store.add_derived_training_set(lease, project_id, name, answers, written[index]))

    threads = [threading.Thread(target=add, args=(index,)) for index in range(len(racers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stored) == 2 and stored[0] == stored[1]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        assert session.scalar(select(func.count()).where(TrainingSet.name == name)) == 1
    assert stored[0].derivation is not None and stored[0].derivation.created_by_run in racers
    assert store.derived_training_set(project_id, name) == stored[0]
    assert stored[0].source == "self-generated" and stored[0].version == "1"
