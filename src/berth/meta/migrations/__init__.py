"""Alembic migrations, run in code: no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

__all__ = ["SCRIPT_LOCATION", "alembic_config", "upgrade"]

SCRIPT_LOCATION = Path(__file__).parent


def alembic_config(url: str | None = None) -> Config:
    """A Config for this package's migrations (``url`` only for the standalone alembic CLI)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate over ``connection`` inside its current transaction (call it through ``run_sync``)."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
