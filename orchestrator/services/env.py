"""Everything a use case needs, built once by ``bootstrap`` and passed to every service.

Nothing here reads the environment or connects at import time; the web app, the worker,
the CLI and the tests each build an ``Env`` from explicit settings.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Lock

import sqlalchemy as sa

from ..engine.deployment import ProcessModel
from ..engine.runtime import CaseRuntime
from ..store import UnitOfWork, make_engine, session_factory
from .handler_api import HandlerRegistry, load_handlers


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Settings:
    max_upload_bytes: int = 5 * 1024 * 1024
    outbox_backend: str = "log"          # log | smtp
    outbox_log_path: str = "instance/outbox.log"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "polku@localhost"
    outbox_max_attempts: int = 8
    workflow_cache_size: int = 2000


class WorkflowCache:
    """Deserialized cases kept per process, valid only while ``version_no`` matches.

    A runtime is taken *out* of the cache to be changed and put back only after commit,
    so a failed transaction can never leave a half-changed workflow behind.
    """

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[int, tuple[int, CaseRuntime]] = OrderedDict()
        self._lock = Lock()

    def take(self, case_id: int, version_no: int) -> CaseRuntime | None:
        with self._lock:
            item = self._items.pop(case_id, None)
        if item and item[0] == version_no:
            return item[1]
        return None

    def put(self, case_id: int, version_no: int, runtime: CaseRuntime) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[case_id] = (version_no, runtime)
            self._items.move_to_end(case_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class Env:
    engine: sa.Engine
    handlers: HandlerRegistry
    settings: Settings = field(default_factory=Settings)
    clock: Callable[[], datetime] = utcnow
    models: dict[int, ProcessModel] = field(default_factory=dict)
    workflows: WorkflowCache = field(default_factory=lambda: WorkflowCache(2000))

    def __post_init__(self) -> None:
        self._sessions = session_factory(self.engine)
        self.workflows = WorkflowCache(self.settings.workflow_cache_size)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)

    def now(self) -> datetime:
        return self.clock()


def bootstrap(database_url: str, settings: Settings | None = None,
              clock: Callable[[], datetime] = utcnow, handlers: HandlerRegistry | None = None) -> Env:
    return Env(engine=make_engine(database_url), handlers=handlers or load_handlers(),
               settings=settings or Settings(), clock=clock)
