"""What a worker says at startup about the directory its adapters go to."""

from pathlib import Path

from fastapi.testclient import TestClient

from backend.config import Settings
from worker.pipeline import adapter_directory
from worker.storage import check_artifacts_storage
from worker.store import RunStore

Submitted = tuple[TestClient, RunStore, list[int]]


def finish_trained_run(store: RunStore, run_id: int) -> None:
    lease, _ = store.claim(run_id, "w:1:aa", lease_s=60, max_attempts=3)
    assert lease is not None
    store.finish_run(lease)


def test_a_writable_directory_holding_every_adapter_is_fine(
    submitted: Submitted, both_databases: Settings
) -> None:
    _, store, run_ids = submitted
    finish_trained_run(store, run_ids[1])  # run 1 is the untuned baseline: it has no adapter
    config = adapter_directory(both_databases, run_ids[1]) / "adapter_config.json"
    config.parent.mkdir(parents=True)
    config.write_text("{}")
    problems = check_artifacts_storage(both_databases, store)
    if both_databases.resolved_database_url.startswith("sqlite"):
        assert problems == []
    else:  # a deployment that may span hosts, on this machine's local disk
        assert len(problems) == 1 and "host-local filesystem" in problems[0]


def test_missing_adapters_of_trained_runs_mean_storage_is_not_shared(
    submitted: Submitted, both_databases: Settings
) -> None:
    _, store, run_ids = submitted
    finish_trained_run(store, run_ids[1])
    finish_trained_run(store, run_ids[0])  # the baseline: nothing expected
    problems = check_artifacts_storage(both_databases, store)
    assert any(f"adapters of trained runs {run_ids[1]} are not in" in p for p in problems)


def test_an_unwritable_directory_is_reported(
    submitted: Submitted, both_databases: Settings, tmp_path: Path
) -> None:
    _, store, _ = submitted
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings = both_databases.model_copy(update={"home": blocker})
    problems = check_artifacts_storage(settings, store)
    assert any("is not writable" in p and "cannot save adapters" in p for p in problems)
