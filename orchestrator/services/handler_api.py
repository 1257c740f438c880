"""The plugin interface for handlers: what a service task's handler receives and may do.

A handler is a function registered for a topic (``camunda:topic`` of an external service
task). It receives a ``HandlerContext`` and returns data to merge into the case (or None).
Its effects — outgoing messages, documents — are *requested* through the context and
written by the service layer in the same transaction as the step, and only if the handler
returns normally; a handler that raises leaves no trace except a visible incident.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

Handler = Callable[["HandlerContext"], "dict | None"]


class HandlerError(Exception):
    """Raise from a handler to report a problem in words staff can act on."""


@dataclass
class OutgoingMessage:
    recipient: str
    channel: str
    subject: str
    body: str
    shares_client_data: bool = False


@dataclass
class NewDocument:
    kind: str
    content: dict


@dataclass
class HandlerContext:
    case_id: int
    pathway: str
    region: str
    client_ref: str
    started_by: str
    element_id: str
    task_id: str
    params: dict
    data: dict
    now: datetime
    users_with_role: Callable[[str], list[tuple[str, str | None]]]
    messages: list[OutgoingMessage] = field(default_factory=list)
    documents: list[NewDocument] = field(default_factory=list)

    def send(self, recipient: str, subject: str, body: str, *, channel: str = "internal",
             shares_client_data: bool = False) -> None:
        self.messages.append(OutgoingMessage(recipient, channel, subject, body, shares_client_data))

    def save_document(self, kind: str, content: dict) -> None:
        self.documents.append(NewDocument(kind, content))


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, topic: str, handler: Handler) -> None:
        if topic in self._handlers and self._handlers[topic] is not handler:
            raise ValueError(f"topic {topic!r} already has a handler")
        self._handlers[topic] = handler

    def get(self, topic: str) -> Handler | None:
        return self._handlers.get(topic)

    @property
    def topics(self) -> list[str]:
        return sorted(self._handlers)


_DECLARED: dict[str, Handler] = {}


def handler(topic: str) -> Callable[[Handler], Handler]:
    """Decorator a module in ``handlers/`` uses to declare the handler of a topic."""

    def decorate(func: Handler) -> Handler:
        _DECLARED[topic] = func
        return func

    return decorate


def load_handlers(package: str = "handlers") -> HandlerRegistry:
    """Import every module of the handlers package and register what they declare."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{package}.{info.name}")
    registry = HandlerRegistry()
    for topic, func in _DECLARED.items():
        registry.register(topic, func)
    return registry
