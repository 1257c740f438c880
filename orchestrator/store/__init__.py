"""Persistence: SQLAlchemy models, sessions, unit of work, Alembic migrations."""
from .db import database_url, make_engine, session_factory
from .uow import UnitOfWork

__all__ = ["UnitOfWork", "database_url", "make_engine", "session_factory"]
