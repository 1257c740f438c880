"""Unit of work: one database transaction per use case, rolled back unless committed."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from ..errors import ConflictError


class UnitOfWork:
    def __init__(self, factory: sessionmaker[Session]):
        self._factory = factory
        self.session: Session
        self._after_commit: list = []
        self._before_commit: dict[str, object] = {}
        self.pending: dict[str, object] = {}  # what before-commit callbacks will write

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self._after_commit, self._before_commit, self.pending = [], {}, {}
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        try:
            for callback in self._before_commit.values():
                callback()
            self._before_commit = {}
            self.session.commit()
        except StaleDataError:
            raise ConflictError("the case was changed by someone else at the same time; "
                                "reload it and try again") from None
        except IntegrityError as exc:
            raise ConflictError(f"the change clashes with a concurrent one: {exc.orig}") from None
        except OperationalError as exc:
            if "locked" in str(exc.orig).lower() or "deadlock" in str(exc.orig).lower():
                raise ConflictError("the database was busy with a concurrent change; try again") from None
            raise
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def before_commit(self, name: str, callback) -> None:
        """Run ``callback`` just before committing, once per ``name`` however often it is
        registered (e.g. writing counts a whole use case accumulated, as late as possible)."""
        self._before_commit.setdefault(name, callback)

    def after_commit(self, callback) -> None:
        """Run ``callback`` only once this unit of work has committed (e.g. cache updates)."""
        self._after_commit.append(callback)
