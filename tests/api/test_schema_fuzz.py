"""schemathesis against the app's own OpenAPI schema, on SQLite and on PostgreSQL: requests generated from
every operation (boundary values, out-of-range numbers, odd text and bodies) get no 5xx, and every answer's
status code, content type, headers and body are ones the schema declares for that operation.

Besides what schemathesis generates from the schema, bodies are mutated with what a JSON parser lets
through but no field should accept: lone UTF-16 surrogates ("\\ud800"), NaN and Infinity literals, and
dates whose UTC time falls outside the years 1-9999. Each must be a 4xx.

The requests are signed in as the local owner, on an app holding one experiment with verdicts (id 1), so
they reach the routes' work, real analyses as well as missing ids. After an operation that may change data
the database is put back as it was, so each operation starts from the same state.
"""

import json
import math
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, reject, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from backend.api.app import create_app
from backend.api.auth import SESSION_COOKIE
from backend.config import Settings
from backend.migrate import upgrade_to_head
from tests.api.conftest import add_hand_worked_experiment
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    TEST_CLIENT_HOST,
    RecordingQueue,
    missing_service,
    sign_in_as_local_owner,
)

# A bounded run: about two minutes per database on a 2-core machine for every operation.
EXAMPLES_PER_OPERATION = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# What a lenient JSON parser accepts but storage, comparison or re-encoding cannot handle.
FAR_DATES = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "10000-01-01T00:00:00Z"]
HOSTILE_VALUES: list[Any] = [
    "\ud800",
    "text with a lone low surrogate \udfff",
    math.nan,
    math.inf,
    -math.inf,
    *FAR_DATES,
]

# The schema the requests are generated from: the app's own, built without a database (only its routes
# are read here; the requests go to the `api` fixture's apps).
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite://", broker_url="memory://")).openapi()
)
# Every generated date-time may also be one whose UTC time is out of range.
schemathesis.openapi.format(
    "date-time",
    st.one_of(
        st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
        st.sampled_from(FAR_DATES),
    ),
)


def _leaf_paths(document: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(document, dict) and document:
        for key, value in document.items():
            yield from _leaf_paths(value, (*path, key))
    elif isinstance(document, list) and document:
        for index, value in enumerate(document):
            yield from _leaf_paths(value, (*path, index))
    else:
        yield path


def _replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[path[0]] = _replaced(document[path[0]], path[1:], value)
    return copy


@schema.hook
def flatmap_body(_context: Any, body: Any) -> st.SearchStrategy:
    """The generated body, or the body with one of its values replaced by a hostile one."""
    if not isinstance(body, dict | list):
        return st.just(body)
    mutated = st.builds(
        _replaced, st.just(body), st.sampled_from(list(_leaf_paths(body))), st.sampled_from(HOSTILE_VALUES)
    )
    return st.one_of(st.just(body), mutated)


@dataclass
class SeededDatabase:
    """The app's database and a copy of its seeded state to go back to."""

    engine: Engine
    restore_commands: list[str]
    # The local owner's session cookie (POST /api/auth/logout ends it; the restored database revives it).
    session_cookie: str
    sqlite_paths: tuple[Path, Path] | None = None
    changed: bool = False

    def restore(self, client: TestClient) -> None:
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, self.session_cookie)
        self.engine.dispose()
        if self.sqlite_paths is not None:
            seed, live = self.sqlite_paths
            for suffix in ("-wal", "-shm"):
                Path(f"{live}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(seed, live)
        else:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                for command in self.restore_commands:
                    admin.execute(command)
        self.changed = False


def _database_url(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'seedscope.sqlite'}"
        return
    name = f"seedscope_fuzz_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        missing_service(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + (
                f"/{name}"
            )
        finally:
            for database in (name, f"{name}_seed"):
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


# PostgreSQL's half doubles the time: it runs with the slow tests (`make test`, CI), SQLite's in every run.
@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, SeededDatabase]]:
    """One app per database for the whole module, signed in as the local owner, with the experiment."""
    directory = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    for database_url in _database_url(request.param, directory):
        settings = Settings(
            home=directory / "home",
            database_url=database_url,
            broker_url="memory://",
            allowed_hosts=[TEST_CLIENT_HOST],
        )
        settings.ensure_dirs()
        upgrade_to_head(database_url)
        with TestClient(create_app(settings, RecordingQueue())) as client:
            sign_in_as_local_owner(client, settings)
            add_hand_worked_experiment(client)
            engine = client.app.state.session_factory.kw["bind"]  # type: ignore[attr-defined]
            engine.dispose()
            cookie = client.cookies[SESSION_COOKIE]
            if request.param == "sqlite":
                live = directory / "seedscope.sqlite"
                seed = directory / "seed.sqlite"
                shutil.copyfile(live, seed)
                database = SeededDatabase(engine, [], cookie, sqlite_paths=(seed, live))
            else:
                name = engine.url.database
                with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                    admin.execute(f'CREATE DATABASE "{name}_seed" TEMPLATE "{name}"')
                database = SeededDatabase(
                    engine,
                    [
                        f'DROP DATABASE "{name}" WITH (FORCE)',
                        f'CREATE DATABASE "{name}" TEMPLATE "{name}_seed"',
                    ],
                    cookie,
                )
            yield client, database


@pytest.fixture
def api(seeded: tuple[TestClient, SeededDatabase]) -> tuple[TestClient, SeededDatabase]:
    """The module's client, on its seeded state again if the previous operation may have changed it."""
    client, database = seeded
    if database.changed:
        database.restore(client)
    return client, database


def _send(client: TestClient, case: Any) -> Any:
    """The generated request, sent through `client` (schemathesis builds it for `requests`). JSON is
    written as Python's json module writes it by default: NaN as a literal, surrogates as \\u escapes."""
    try:
        request = case.as_transport_kwargs(base_url=str(client.base_url))
    except UnicodeEncodeError:
        # schemathesis writes YAML bodies as UTF-8, which a lone surrogate cannot be: no request to send
        # (the JSON bodies below carry surrogates as escapes, and the YAML routes' own tests send them).
        reject()
    request.pop("cookies", None)  # none are generated; per-request cookies are deprecated in httpx
    if "json" in request:
        request["content"] = json.dumps(request.pop("json")).encode()
        headers = {k: v for k, v in (request.get("headers") or {}).items() if k.lower() != "content-type"}
        request["headers"] = {**headers, "content-type": "application/json"}
    body = request.pop("data", None)
    if body is not None:
        request["content"] = body.encode() if isinstance(body, str) else body
    return client.request(**request)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_declared_and_none_is_a_server_error(
    case: Any, api: tuple[TestClient, SeededDatabase]
) -> None:
    client, database = api
    database.changed = database.changed or case.method.upper() not in ("GET", "HEAD")
    response = _send(client, case)
    case.validate_response(response, checks=CHECKS)
