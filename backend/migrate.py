"""Bringing a database to the newest schema with Alembic (migrations/), for the CLI, tests and benchmarks."""

from pathlib import Path

from alembic import command
from alembic.config import Config

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"


def alembic_config(database_url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    # Passed as an attribute, not as the ini option sqlalchemy.url: ConfigParser reads "%" as interpolation,
    # so a percent-encoded password there fails.
    config.attributes["database_url"] = database_url
    # Keep the caller's logging as it is (alembic.ini would reconfigure it).
    config.attributes["configure_logger"] = False
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")
