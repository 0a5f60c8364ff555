"""A database with one submitted experiment (five queued runs), on SQLite and on PostgreSQL."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.config import Settings
from backend.schema import upgrade_to_head
from tests.conftest import RecordingQueue
from tests.factories import experiment_spec
from worker.store import RunStore


@pytest.fixture(params=["sqlite", "postgresql"])
def both_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'seedscope.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    settings = Settings(home=tmp_path / "home", database_url=url)
    settings.ensure_dirs()
    upgrade_to_head(url)
    return settings


@pytest.fixture
def submitted(both_databases: Settings) -> Iterator[tuple[TestClient, RunStore, list[int]]]:
    """The API (broker recorded), the worker's store, and the ids of the five queued runs."""
    with TestClient(create_app(both_databases, RecordingQueue())) as client:
        runs = client.post("/api/experiments", json=experiment_spec()).json()["runs"]
        yield client, RunStore(client.app.state.session_factory), [r["id"] for r in runs]  # type: ignore[attr-defined]
