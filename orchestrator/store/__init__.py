"""Persistence: SQLAlchemy models, sessions, unit of work, Alembic migrations."""
from .db import make_engine, session_factory
from .uow import UnitOfWork

__all__ = ["UnitOfWork", "make_engine", "session_factory"]
