"""Engine and session factory for SQLite (embedded default) and PostgreSQL (team deployment)."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(database_url: str, connect_timeout_s: int = 5) -> Engine:
    """An engine for the URL; a PostgreSQL server that does not answer fails after connect_timeout_s."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        # libpq waits forever for an unreachable host by default: a request would hang, not answer 503.
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": connect_timeout_s})
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # The API and a worker write to the same file: wait for the lock rather than fail at once.
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL lets the dashboard read while a worker writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return engine


def redacted_url(database_url: str) -> str:
    """The URL with its password shown as ***: the only form of it that may be printed or logged."""
    return make_url(database_url).render_as_string(hide_password=True)


def redact(text: str, database_url: str) -> str:
    """`text` with the URL's password, as written in the URL and decoded, replaced by ***."""
    password = make_url(database_url).password
    if not password:
        return text
    written = database_url.split("://", 1)[-1].rsplit("@", 1)[0].partition(":")[2]
    for form in sorted({written, str(password), quote(str(password), safe="")} - {""}, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session committed on success and rolled back on any error."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dialect_insert(session: Session) -> Callable[..., Any]:
    """The INSERT construct with ON CONFLICT clauses for the session's database (SQLite or PostgreSQL)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def insert_ignoring_duplicates(
    session: Session, model: type[Any], rows: Sequence[Mapping[str, Any]], keys: list[str]
) -> None:
    """Insert `rows` (dicts of the model's columns), leaving any whose `keys` are already stored.

    One statement executed with many parameter sets: SQLAlchemy compiles it once and sends the rows in
    multi-row batches. A VALUES clause of every row, built into the statement, is compiled anew on each
    call: for a rescoring's page of 1,024 judgments that took longer than the database did
    (bench/rescoring_throughput.py)."""
    if rows:
        table = model.__table__
        session.execute(dialect_insert(session)(table).on_conflict_do_nothing(index_elements=keys), rows)
