"""Bring the schema to the newest Alembic revision; called at every start-up, cheap when current."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from store.errors import StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 724_513_001  # any constant; serialises concurrent start-ups on PostgreSQL


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Run pending migrations inside one connection (env.py uses the connection we hand it)."""
    config = alembic_config()
    try:
        if current_revision(engine) == head_revision():
            return
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                # pysqlite opens a transaction only before INSERT/UPDATE/DELETE, so each CREATE TABLE
                # committed alone: a kill between two left half a schema and no revision, and the
                # next start failed on "table ... already exists". One explicit transaction for all.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as error:
        raise StoreError(
            f"Could not open or migrate the database ({error.orig}). Check KB_DATABASE_URL and that "
            "the database server is running."
        ) from error
