"""Migrations build exactly the ORM's schema, on SQLite and on PostgreSQL, and roll back cleanly."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from backend.db import make_engine
from backend.models import Base, exists_on
from backend.schema import alembic_config


def _check_round_trip(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": lambda obj, *_: exists_on(obj, connection.dialect.name)}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models and migrations disagree: {differences}"
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert {"experiments", "runs", "generations", "judgments"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_migrations_on_sqlite(tmp_path: pytest.TempPathFactory) -> None:
    _check_round_trip(f"sqlite:///{tmp_path}/migrations.sqlite")


def test_migrations_on_postgresql(postgres_url: str) -> None:
    _check_round_trip(postgres_url)
