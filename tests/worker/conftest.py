"""A database with one submitted experiment (five queued runs), on SQLite and on PostgreSQL."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.config import Settings
from backend.schema import upgrade_to_head
from tests.conftest import TEST_CLIENT_HOST, RecordingQueue, sign_in_as_local_owner
from tests.factories import experiment_spec
from worker.store import RunStore


@pytest.fixture
def both_databases(database_url: str, tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "home", database_url=database_url, allowed_hosts=[TEST_CLIENT_HOST])
    settings.ensure_dirs()
    upgrade_to_head(database_url)
    return settings


@pytest.fixture
def submitted(both_databases: Settings) -> Iterator[tuple[TestClient, RunStore, list[int]]]:
    """The API (broker recorded, signed in as the local owner), the worker's store, and the ids of the
    five queued runs."""
    with TestClient(create_app(both_databases, RecordingQueue())) as client:
        sign_in_as_local_owner(client, both_databases)
        runs = client.post("/api/experiments", json=experiment_spec()).json()["runs"]
        yield client, RunStore(client.app.state.session_factory), [r["id"] for r in runs]  # type: ignore[attr-defined]
