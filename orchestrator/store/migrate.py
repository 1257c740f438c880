"""Alembic, driven from code: ``python run.py db upgrade`` and app start-up call ``upgrade``."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: sa.Connection | None = None, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> str | None:
    """Migrate; return the revision the database was at before (None: it was new)."""
    with _migration_connection(engine) as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(alembic_config(conn), revision)
    return before


def downgrade(engine: sa.Engine, revision: str) -> None:
    with _migration_connection(engine) as conn:
        command.downgrade(alembic_config(conn), revision)


@contextmanager
def _migration_connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One transaction; on SQLite with foreign keys off meanwhile, because a batch migration
    copies a table and drops the old one, which would cascade-delete every row referring to it."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # a no-op inside a transaction, so before it starts
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                yield conn
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
