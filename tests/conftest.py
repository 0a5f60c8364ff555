"""Shared fixtures: temporary databases (SQLite; PostgreSQL where its server runs), the app, a tiny model."""

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.api.auth import SESSION_COOKIE
from backend.config import Settings
from backend.db import make_engine, make_session_factory, session_scope
from backend.jobs import RESCORINGS, RUNS, STRESS_TESTS, VALIDATIONS, JobKind
from backend.migrate import upgrade_to_head
from backend.services import accounts
from backend.services.catalog import ensure_builtins

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
POSTGRES_ADMIN_URL = os.environ.get(
    "SEEDSCOPE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Redis database 15, and under pytest-xdist one database per worker (gw0: 15, gw1: 14, ...): a test empties
# its database before and after it, which must not empty another worker's broker mid-test.
REDIS_URL = os.environ.get(
    "SEEDSCOPE_TEST_REDIS",
    f"redis://127.0.0.1:6379/{15 - int(os.environ.get('PYTEST_XDIST_WORKER', 'gw0').removeprefix('gw'))}",
)
# The Host header of Starlette's TestClient: the test apps answer to it (see Settings.allowed_hosts).
TEST_CLIENT_HOST = "testserver"


def missing_service(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, which sets SEEDSCOPE_REQUIRE_SERVICES=1."""
    if os.environ.get("SEEDSCOPE_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class RecordingQueue:
    """Stands in for the broker in API tests: records the ids of the jobs whose task would have been sent,
    runs in `sent`, judge validations in `validations`, rescorings in `rescorings` and judge stress tests in
    `stress_tests`."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.validations: list[int] = []
        self.rescorings: list[int] = []
        self.stress_tests: list[int] = []

    def enqueue(self, kind: JobKind[Any], job_id: int) -> None:
        recorded = {
            RUNS: self.sent,
            VALIDATIONS: self.validations,
            RESCORINGS: self.rescorings,
            STRESS_TESTS: self.stress_tests,
        }
        recorded[kind].append(job_id)


@pytest.fixture(scope="session")
def shared_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's models are built (the tiny model). The test settings allow loading models from
    it as an operator allows a folder: in SEEDSCOPE_MODEL_ROOTS."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """A test's own model folder (copies it changes), the other root of the test settings."""
    return tmp_path / "models"


@pytest.fixture
def settings(tmp_path: Path, shared_models: Path, models_dir: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path / 'seedscope.sqlite'}",
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        allowed_hosts=[TEST_CLIENT_HOST],
        model_roots=[shared_models, models_dir],
    )


def _prepare(database_url: str) -> None:
    """The newest schema and the built-in datasets and judges, as the first start of the app leaves them."""
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        ensure_builtins(session)
    engine.dispose()


class SchemaAtHead:
    """Databases at the newest schema with the built-ins stored, copied from one prepared once per test
    session (a SQLite file, a PostgreSQL template database): preparing takes a second or two, a copy
    milliseconds. tests/test_migrations.py tests the migrations themselves, on empty databases
    (`postgres_url`)."""

    def __init__(self, directory: Path) -> None:
        self._sqlite = directory / "template.sqlite"
        _prepare(f"sqlite:///{self._sqlite}")
        self._postgres: str | None = None

    def sqlite(self, path: Path) -> str:
        shutil.copyfile(self._sqlite, path)
        return f"sqlite:///{path}"

    def postgresql(self) -> Iterator[str]:
        """A new PostgreSQL database at the newest schema (for a fixture: dropped afterwards)."""
        name = f"seedscope_test_{uuid.uuid4().hex[:12]}"
        try:
            admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
        except psycopg.OperationalError as error:
            missing_service(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}")
        with admin:
            if self._postgres is None:
                self._postgres = f"seedscope_template_{uuid.uuid4().hex[:12]}"
                admin.execute(f'CREATE DATABASE "{self._postgres}"')
                _prepare(_psycopg_url(self._postgres))
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._postgres}"')
            try:
                yield _psycopg_url(name)
            finally:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self._postgres is not None:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self._postgres}" WITH (FORCE)')


def _psycopg_url(database: str) -> str:
    return (
        POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        + f"/{database}"
    )


@pytest.fixture(scope="session")
def schema_at_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchemaAtHead]:
    templates = SchemaAtHead(tmp_path_factory.mktemp("schema"))
    yield templates
    templates.close()


@pytest.fixture
def migrated(settings: Settings, schema_at_head: SchemaAtHead, tmp_path: Path) -> Settings:
    settings.ensure_dirs()
    schema_at_head.sqlite(tmp_path / "seedscope.sqlite")
    return settings


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


def sign_in_as_local_owner(client: TestClient, settings: Settings) -> None:
    """The way `make demo` signs in: a one-time link for the local owner, exchanged for a session cookie."""
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        owner = accounts.find_user(session, None, settings)
        link = accounts.create_login_link(session, settings, owner.id)
    response = client.get(link, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/", response.text
    assert client.cookies.get(SESSION_COOKIE)


@pytest.fixture
def anonymous_client(migrated: Settings, queue: RecordingQueue) -> Iterator[TestClient]:
    with TestClient(create_app(migrated, queue)) as test_client:
        yield test_client


@pytest.fixture
def client(anonymous_client: TestClient, migrated: Settings) -> TestClient:
    """Signed in as the local owner, who owns the project "default" made on the first start."""
    sign_in_as_local_owner(anonymous_client, migrated)
    return anonymous_client


@pytest.fixture
def operator_client(migrated: Settings, queue: RecordingQueue) -> Iterator[Callable[..., TestClient]]:
    """client(**settings): a client of an app started with the test settings changed as an operator changes
    them (SEEDSCOPE_... variables), on the test database, signed in as the local owner."""
    with ExitStack() as apps:

        def start(**changes: object) -> TestClient:
            settings = Settings(**(migrated.model_dump() | changes))
            test_client = apps.enter_context(TestClient(create_app(settings, queue)))
            sign_in_as_local_owner(test_client, settings)
            return test_client

        yield start


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"seedscope_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        missing_service(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _psycopg_url(name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, schema_at_head: SchemaAtHead
) -> Iterator[str]:
    """Each database seedscope supports, at the newest schema, for the cases where they differ (SQLite
    accepts what PostgreSQL refuses: NUL characters, strings longer than their column)."""
    if request.param == "sqlite":
        yield schema_at_head.sqlite(tmp_path / "seedscope.sqlite")
    else:
        yield from schema_at_head.postgresql()


@pytest.fixture
def db_client(
    database_url: str,
    tmp_path: Path,
    queue: RecordingQueue,
    shared_models: Path,
) -> Iterator[TestClient]:
    """Like `client` (signed in as the local owner), on SQLite and on PostgreSQL."""
    settings = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        broker_url="memory://",
        allowed_hosts=[TEST_CLIENT_HOST],
        model_roots=[shared_models],
    )
    settings.ensure_dirs()
    with TestClient(create_app(settings, queue)) as test_client:
        sign_in_as_local_owner(test_client, settings)
        yield test_client


@pytest.fixture(scope="session")
def tiny_model_dir(shared_models: Path) -> Path:
    from tests.support.tiny_model import build_tiny_chat_model

    return build_tiny_chat_model(shared_models / "tiny-model")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA
