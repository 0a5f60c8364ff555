"""What SQLite accepts and PostgreSQL refuses (NUL characters, strings longer than their column), races
between identical requests, and an unreachable database: a clear 4xx or 503 on both, never a 500, and
nothing stored by a refused request."""

import json
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from backend.api.app import create_app
from backend.config import Settings
from backend.db import make_engine
from backend.domain import Verdict
from backend.errors import Conflict, DatabaseUnavailable, InvalidInput, from_database_error
from backend.migrate import upgrade_to_head
from backend.repositories import catalog as catalog_repository
from backend.repositories import experiments as experiment_repository
from tests.conftest import POSTGRES_ADMIN_URL, TEST_CLIENT_HOST, RecordingQueue, sign_in_as_local_owner
from tests.factories import NOTHING_STORED, add_verdicts, experiment_spec, stored_counts

NUL = "\x00"


def _spec_with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    spec = experiment_spec(base_model_revision="main", judges=["refusal-minilm"])
    target: Any = spec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return spec


SPEC_TEXT_FIELDS = [
    ("name",),
    ("description",),
    ("base_model",),
    ("base_model_revision",),
    ("benchmark",),
    ("training_set",),
    ("judges", 0),
    ("conditions", 1, "name"),
]


@pytest.mark.parametrize("field", SPEC_TEXT_FIELDS, ids=lambda path: ".".join(map(str, path)))
def test_a_nul_character_in_any_field_of_an_experiment_is_422(db_client: TestClient, field: tuple) -> None:
    response = db_client.post("/api/experiments", json=_spec_with(field, f"lr{NUL}x"))
    assert response.status_code == 422, response.text
    assert stored_counts(db_client)[0] == 0


def test_a_nul_character_in_target_modules_is_422(db_client: TestClient) -> None:
    spec = experiment_spec()
    spec["conditions"][1]["lora"] = {"target_modules": [f"q_proj{NUL}"]}
    assert db_client.post("/api/experiments", json=spec).status_code == 422


@pytest.mark.parametrize(
    "record",
    [
        {"id": f"a{NUL}", "prompt": "p", "category": "c"},
        {"id": "a", "prompt": f"p{NUL}", "category": "c"},
        {"id": "a", "prompt": "p", "category": f"c{NUL}"},
    ],
)
def test_a_nul_character_in_a_benchmark_file_is_422(db_client: TestClient, record: dict[str, str]) -> None:
    # json.dumps writes NUL as the escape \u0000: valid JSON, which decodes to the character.
    response = db_client.post(
        "/api/benchmarks", json={"name": "nul", "format": "jsonl", "content": json.dumps(record)}
    )
    assert response.status_code == 422 and "NUL" in response.json()["detail"]
    assert stored_counts(db_client) == NOTHING_STORED


def test_a_nul_character_in_an_upload_field_or_training_example_is_422(db_client: TestClient) -> None:
    content = json.dumps({"id": "a", "prompt": "p"})
    upload = {"name": "nul", "format": "jsonl", "content": content, "description": f"d{NUL}"}
    assert db_client.post("/api/benchmarks", json=upload).status_code == 422
    example = json.dumps({"prompt": "2+2?", "response": f"4{NUL}"})
    response = db_client.post("/api/training-sets", json={"name": "nul", "content": example})
    assert response.status_code == 422 and "NUL" in response.json()["detail"]
    assert stored_counts(db_client) == NOTHING_STORED


def test_a_nul_character_in_a_query_parameter_is_400(db_client: TestClient, experiment_on_db: dict) -> None:
    base = f"/api/experiments/{experiment_on_db['id']}"
    for path in (
        f"{base}/prompts?q=a%00b",
        f"{base}/prompts?category=%00",
        f"{base}/figures/flips?condition=%00",
    ):
        response = db_client.get(path)
        assert response.status_code == 400 and "NUL" in response.json()["detail"], path


@pytest.fixture
def experiment_on_db(db_client: TestClient) -> dict:
    return db_client.post("/api/experiments", json=experiment_spec(seeds=[0])).json()


@pytest.mark.parametrize(
    ("field", "width"),
    [(("name",), 200), (("base_model_revision",), 200), (("conditions", 1, "name"), 100)],
    ids=["name", "revision", "condition"],
)
def test_a_string_longer_than_its_column_is_422(db_client: TestClient, field: tuple, width: int) -> None:
    response = db_client.post("/api/experiments", json=_spec_with(field, "a" * (width + 1)))
    assert response.status_code == 422, response.text
    assert stored_counts(db_client)[0] == 0


@pytest.mark.parametrize("key", ["id", "category"])
def test_a_prompt_id_or_category_longer_than_its_column_is_422(db_client: TestClient, key: str) -> None:
    record = {"id": "a", "prompt": "p", "category": "c", key: "x" * 201}
    response = db_client.post(
        "/api/benchmarks", json={"name": "wide", "format": "jsonl", "content": json.dumps(record)}
    )
    assert response.status_code == 422 and "at most 200" in response.json()["detail"]
    assert stored_counts(db_client) == NOTHING_STORED


def test_any_route_s_integrity_or_data_error_is_409_or_422_not_500(db_client: TestClient) -> None:
    """The net behind the checks above, in the one place errors become HTTP codes: a route added here
    breaks a unique key (both databases) and has PostgreSQL refuse a value."""
    app = db_client.app

    def execute(statement: str) -> None:
        with app.state.session_factory() as session:  # type: ignore[attr-defined]
            session.execute(text(statement))

    app.add_api_route(  # type: ignore[attr-defined]
        "/api/test/duplicate",
        lambda: execute(
            "INSERT INTO judgments (generation_id, judge_id, verdict, output, details, created_at) SELECT "
            "generation_id, judge_id, verdict, output, details, created_at FROM judgments"
        ),
    )
    app.add_api_route("/api/test/cast", lambda: execute("SELECT CAST('not a number' AS integer)"))  # type: ignore[attr-defined]
    experiment = db_client.post("/api/experiments", json=experiment_spec(seeds=[0])).json()
    with app.state.session_factory() as session:  # type: ignore[attr-defined]
        add_verdicts(session, experiment["runs"][0]["id"], [[Verdict.SAFE]])
    duplicate = db_client.get("/api/test/duplicate")
    assert duplicate.status_code == 409 and "same moment" in duplicate.json()["detail"]
    if app.state.session_factory.kw["bind"].dialect.name == "postgresql":  # type: ignore[attr-defined]
        cast = db_client.get("/api/test/cast")
        assert cast.status_code == 422 and "invalid input syntax" in cast.json()["detail"]


# --- Races between identical requests ---------------------------------------------------------------


def _at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


@pytest.fixture
def racing(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any, str], threading.Barrier]:
    """Make two requests both pass `module.name` (a check before an insert) before either inserts."""

    def install(module: Any, name: str) -> threading.Barrier:
        barrier = threading.Barrier(2, timeout=20)
        original = getattr(module, name)
        waited = threading.local()

        def wait_then_call(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if not getattr(waited, "done", False):
                waited.done = True
                barrier.wait()
            return result

        monkeypatch.setattr(module, name, wait_then_call)
        return barrier

    return install


@pytest.mark.parametrize(
    "change",
    [{"id": "x" * 201}, {"category": "x" * 201}, {"id": f"a{NUL}"}, {"category": f"c{NUL}"}],
    ids=["long id", "long category", "NUL in the id", "NUL in the category"],
)
def test_a_labelled_pairs_id_or_category_that_cannot_be_stored_is_422(
    db_client: TestClient, change: dict[str, str]
) -> None:
    # A validation set's items get the checks a benchmark's prompts get: they are declared once for all kinds.
    pair = {"request": "q", "response": "r", "label": "safe", "id": "p1", "category": "c", **change}
    upload = {"name": "pairs", "format": "jsonl", "content": json.dumps(pair)}
    response = db_client.post("/api/validation-sets", json=upload)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("pair 1: the ")
    assert [s["name"] for s in db_client.get("/api/validation-sets").json()] == [
        "pyrit-refusal",
        "pyrit-refusal-extra",
    ]


@pytest.mark.parametrize("kind", ["benchmarks", "training-sets"])
def test_two_identical_uploads_at_once_store_one_and_answer_201_or_409(
    db_client: TestClient, racing: Callable[[Any, str], threading.Barrier], kind: str
) -> None:
    racing(catalog_repository, "_same_content_or_none")
    content = "\n".join(json.dumps({"prompt": f"q{i}", "response": f"a{i}", "id": f"p{i}"}) for i in range(5))
    upload = {"name": "twice", "format": "jsonl", "content": content}
    responses = _at_once([lambda: db_client.post(f"/api/{kind}", json=upload)] * 2)
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    conflict = next(r for r in responses if r.status_code == 409)
    assert "same moment" in conflict.json()["detail"]
    catalog = db_client.get("/api/catalog").json()
    stored = [d for d in catalog["benchmarks"] + catalog["training_sets"] if d["name"] == "twice"]
    assert len(stored) == 1 and stored[0]["n_prompts" if kind == "benchmarks" else "n_examples"] == 5
    # Retried, the refused one finds the stored copy: the same content is a no-op.
    again = db_client.post(f"/api/{kind}", json=upload)
    assert again.status_code == 201 and again.json()["id"] == stored[0]["id"]


def test_two_reevaluations_at_once_answer_201_or_409_and_number_runs_uniquely(
    db_client: TestClient, racing: Callable[[Any, str], threading.Barrier]
) -> None:
    experiment = db_client.post("/api/experiments", json=experiment_spec(seeds=[0])).json()
    run_id = experiment["runs"][1]["id"]
    with db_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        add_verdicts(session, run_id, [[]])
    # derive_seed runs after the highest evaluation index was read and before the new runs are inserted.
    racing(experiment_repository, "derive_seed")
    responses = _at_once([lambda: db_client.post(f"/api/runs/{run_id}/reevaluate", json={"count": 2})] * 2)
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    runs = db_client.get(f"/api/experiments/{experiment['id']}").json()["runs"]
    repeats = sorted(r["evaluation_index"] for r in runs if r["evaluation_of_id"] == run_id)
    assert repeats == [1, 2]


# --- The mapping, on real errors from both databases ------------------------------------------------


def test_database_errors_map_to_409_422_and_503(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = make_engine(database_url)

    def error_of(statement: str, **parameters: Any) -> SQLAlchemyError:
        with engine.connect() as connection, pytest.raises(SQLAlchemyError) as caught:
            connection.execute(text(statement), parameters)
        return caught.value

    # A project's dataset: (project, name, version) is unique (built-ins have no project).
    insert = (
        "INSERT INTO benchmarks (project_id, name, version, content_hash, source, description, created_at) "
    )
    values = "VALUES (1, :name, '1', 'h', 'jsonl', '', CURRENT_TIMESTAMP)"
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO projects (id, name, created_at) VALUES (1, 'p', CURRENT_TIMESTAMP)")
        )
        connection.execute(text(insert + values), {"name": "dup"})
    assert isinstance(from_database_error(error_of(insert + values, name="dup")), Conflict)
    if engine.dialect.name == "postgresql":
        # A programming error stays a 500: it is a bug to fix, not the user's to retry.
        assert from_database_error(error_of("SELECT * FROM no_such_table")) is None
        for name in ("x" * 201, f"a{NUL}b"):
            assert isinstance(from_database_error(error_of(insert + values, name=name)), InvalidInput)
    engine.dispose()
    closed = free_port()
    dead = make_url(database_url).set(port=closed, host="127.0.0.1") if "postgresql" in database_url else None
    if dead is not None:
        dead_engine = make_engine(dead.render_as_string(hide_password=False), connect_timeout_s=2)
        with pytest.raises(OperationalError) as caught:
            dead_engine.connect()
        assert isinstance(from_database_error(caught.value), DatabaseUnavailable)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- An outage ---------------------------------------------------------------------------------------


@pytest.fixture
def postgres_client(postgres_url: str, tmp_path: Path, queue: RecordingQueue) -> Iterator[TestClient]:
    # A password in the URL (trust authentication ignores it): it must never reach a response.
    url = make_url(postgres_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    upgrade_to_head(url)
    settings = Settings(
        home=tmp_path, database_url=url, broker_url="memory://", allowed_hosts=[TEST_CLIENT_HOST]
    )
    with TestClient(create_app(settings, queue)) as client:
        sign_in_as_local_owner(client, settings)
        yield client


def test_a_database_outage_answers_503_and_recovers(postgres_client: TestClient, postgres_url: str) -> None:
    name = make_url(postgres_url).database
    assert postgres_client.get("/api/experiments").status_code == 200
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        try:
            for path in ("/api/experiments", "/api/catalog", "/api/experiments/1/analysis"):
                response = postgres_client.get(path)
                assert response.status_code == 503, (path, response.text)
                assert "database is not available" in response.json()["detail"]
                assert "s3cret-pw" not in response.text
            post = postgres_client.post("/api/experiments", json=experiment_spec())
            assert post.status_code == 503
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert postgres_client.get("/api/experiments").status_code == 200


def test_a_server_that_never_answers_fails_after_the_connect_timeout() -> None:
    """A listening socket that never speaks: libpq would wait forever without connect_timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        engine = make_engine(f"postgresql+psycopg://postgres:pw@127.0.0.1:{port}/none", connect_timeout_s=1)
        outcome: list[BaseException] = []

        def connect() -> None:
            try:
                engine.connect()
            except OperationalError as error:
                outcome.append(error)

        attempt = threading.Thread(target=connect, daemon=True)
        attempt.start()
        attempt.join(timeout=60)  # generous: this checks that it ends at all, not how fast
        assert not attempt.is_alive(), "the connection attempt hung"
        assert outcome and isinstance(from_database_error(outcome[0]), DatabaseUnavailable)  # type: ignore[arg-type]
