"""Alembic environment: one code path for SQLite and PostgreSQL."""

from logging.config import fileConfig

from alembic import context

from backend.config import Settings
from backend.db import make_engine
from backend.models import Base, UTCDateTime, exists_on

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    """The caller's (backend.migrate.alembic_config), else seedscope's Settings: never alembic.ini's
    sqlalchemy.url, whose ConfigParser cannot hold the "%" of a percent-encoded password."""
    return config.attributes.get("database_url") or Settings().resolved_database_url


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Migrations must not import application code: write our UTC type as the plain column type it wraps.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    settings = Settings()
    engine = make_engine(_database_url(), settings.database_connect_timeout_s)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch mode copies a table and drops the original; with foreign keys on, that drop would
            # cascade into the child tables (deleting every run of a rebuilt experiments table). The
            # pragma is ignored inside a transaction, hence the commit before the migrations begin.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        # Batch mode rebuilds tables on SQLite, which cannot ALTER most things in place.
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            render_item=_render_item,
            include_object=lambda obj, *_: exists_on(obj, connection.dialect.name),
        )
        with context.begin_transaction():
            context.run_migrations()
        if connection.dialect.name == "sqlite":
            violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if violations:
                raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {violations}")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
