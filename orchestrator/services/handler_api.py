"""The plugin interface for handlers: what a service task's handler receives and may do.

A handler is a function registered for a topic (``camunda:topic`` of an external service
task). It receives a ``HandlerContext`` and returns data to merge into the case (or None).
It declares the parameters it reads (``Param``), so deploy refuses a task the handler could
not run, and the designer guide lists them (``run.py topics --markdown``).
Its effects — outgoing messages, documents — are *requested* through the context and
written by the service layer in the same transaction as the step, and only if the handler
returns normally; a handler that raises leaves no trace except a visible incident.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ..engine.handler_params import KINDS, Choice, Param, TopicSpec

__all__ = ["KINDS", "Choice", "Param", "TopicSpec", "HandlerContext", "HandlerError", "HandlerRefusal",
           "HandlerRegistry", "handler", "load_handlers"]

Handler = Callable[["HandlerContext"], "dict | None"]


class HandlerError(Exception):
    """Raise from a handler to report a problem in words staff can act on (becomes an incident)."""


class HandlerRefusal(Exception):
    """Raise when the step must not happen as asked (e.g. no consent for an invited member).

    If a person's action caused the step, their action is refused with this message (HTTP 422,
    nothing saved) so they can correct it; on a timer or other system path it becomes an incident.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class BpmnError(Exception):
    """Raise to throw a BPMN error at the service task, as Camunda 7's external-task ``bpmnError``.

    An error boundary event on that task whose ``bpmn:error`` has this ``errorCode`` (or a
    boundary with no error reference) catches it and the case follows the boundary's path;
    ``data`` is merged into the case there. Nothing else the handler asked for is done. If no
    boundary catches the code, the step becomes an incident naming the code.
    """

    def __init__(self, code: str, message: str = "", data: dict | None = None):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.data = dict(data or {})


@dataclass(frozen=True)
class UserInfo:
    username: str
    email: str | None
    organisation: str | None
    roles: frozenset[str]
    regions: frozenset[str]


class Directory(Protocol):
    """Look-ups a handler may make; the service layer answers them from the database."""

    def users_with_role(self, role: str) -> list[UserInfo]: ...

    def user(self, username: str) -> UserInfo | None: ...

    def consent_covers(self, organisation: str | None) -> bool: ...


@dataclass
class OutgoingMessage:
    recipient: str
    channel: str
    subject: str
    body: str
    shares_client_data: bool = False
    username: str | None = None  # set for staff recipients: the system checks their organisation


@dataclass
class NewDocument:
    kind: str
    content: dict


@dataclass
class NewConsent:
    organisations: list[str]
    given_by: str
    valid_until: str | None


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
    directory: Directory
    messages: list[OutgoingMessage] = field(default_factory=list)
    documents: list[NewDocument] = field(default_factory=list)
    consents: list[NewConsent] = field(default_factory=list)

    def users_with_role(self, role: str) -> list[UserInfo]:
        return self.directory.users_with_role(role)

    def send_to_user(self, user: UserInfo, subject: str, body: str, *, channel: str = "email",
                     shares_client_data: bool = False) -> None:
        self.messages.append(OutgoingMessage(user.email or f"user:{user.username}", channel, subject, body,
                                             shares_client_data, user.username))

    def send_to_client(self, subject: str, body: str, *, channel: str = "letter") -> None:
        self.messages.append(OutgoingMessage(f"client:{self.client_ref}", channel, subject, body))

    def save_document(self, kind: str, content: dict) -> None:
        self.documents.append(NewDocument(kind, content))

    def record_consent(self, organisations: list[str], given_by: str, valid_until: str | None) -> None:
        self.consents.append(NewConsent(organisations, given_by, valid_until))


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._specs: dict[str, TopicSpec] = {}

    def register(self, topic: str, handler: Handler, spec: TopicSpec | None = None) -> None:
        """``spec=None``: a handler that declares nothing (its tasks' parameters are not checked)."""
        if topic in self._handlers and self._handlers[topic] is not handler:
            raise ValueError(f"topic {topic!r} already has a handler")
        self._handlers[topic] = handler
        if spec is not None:
            self._specs[topic] = spec

    def get(self, topic: str) -> Handler | None:
        return self._handlers.get(topic)

    @property
    def topics(self) -> list[str]:
        return sorted(self._handlers)

    @property
    def specs(self) -> dict[str, TopicSpec]:
        """Topic → what its handler declares, for the deploy check and the designer guide."""
        return dict(sorted(self._specs.items()))


_DECLARED: dict[str, tuple[Handler, TopicSpec | None]] = {}


def handler(topic: str, *, params: Iterable[Param] | None = None, one_of: Iterable[Iterable[str]] = (),
            sets: Iterable[str] = (), doc: str = "",
            example: Mapping[str, str] | None = None) -> Callable[[Handler], Handler]:
    """Decorator a module in ``handlers/`` uses to declare the handler of a topic.

    ``params``: every parameter the handler reads (``None``: undeclared, not checked at
    deploy); ``one_of``: groups of which exactly one parameter must be set; ``sets``: case-data
    names the handler's result adds; ``doc``: one paragraph for the designer guide;
    ``example``: parameter values of a task that deploys (the guide shows it as XML).
    """
    spec = None if params is None else TopicSpec(
        topic, tuple(params), tuple(tuple(g) for g in one_of), tuple(sets), doc,
        tuple((example or {}).items()))

    def decorate(func: Handler) -> Handler:
        _DECLARED[topic] = (func, spec)
        return func

    return decorate


def load_handlers(package: str = "handlers") -> HandlerRegistry:
    """Import every module of the handlers package and register what they declare."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{package}.{info.name}")
    registry = HandlerRegistry()
    for topic, (func, spec) in _DECLARED.items():
        registry.register(topic, func, spec)
    return registry
