"""Load a case's workflow, move it on, and save everything that follows from the move.

``save_progress`` is the single path by which any use case (start, complete, timer, retry)
persists a changed workflow: it runs waiting service tasks through their handlers, keeps
the task index and timer table in step with the workflow, writes the audit events and
bumps ``version_no`` (optimistic locking) — all in the caller's unit of work.
"""
from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..engine import serializer
from ..engine.runtime import MAX_SERVICE_ROUNDS, CaseRuntime, ServiceCall, Step
from ..errors import ConflictError, ExecutionError
from ..store.models import (
    Case,
    Document,
    Event,
    Incident,
    OutboxMessage,
    Task,
    TimerRow,
    User,
    UserRegion,
    UserRole,
)
from ..store.uow import UnitOfWork
from .env import Env
from .handler_api import HandlerContext, HandlerError
from .models_cache import model_for_version

log = logging.getLogger("polku.handlers")


def load_runtime(env: Env, session: Session, case: Case) -> CaseRuntime:
    """The case's workflow, from the per-process cache when it is current, else from the row."""
    runtime = env.workflows.take(case.id, case.version_no)
    if runtime is not None:
        return runtime
    model = model_for_version(env, session, case.process_version_id)
    return CaseRuntime.load(model, case.state)


def step_events(case_id: int | None, steps: list[Step], actor: str, now: datetime) -> list[Event]:
    return [Event(case_id=case_id, at=now, actor=actor, kind="step", element_id=s.element_id,
                  details={"name": s.name, "type": s.type}) for s in steps]


def save_progress(env: Env, uow: UnitOfWork, case: Case, runtime: CaseRuntime, actor: str,
                  steps: list[Step], now: datetime) -> None:
    session = uow.session
    if case.id is None:
        session.add(case)
        session.flush()
    session.add_all(step_events(case.id, steps, actor, now))
    _run_service_tasks(env, session, case, runtime, actor, now)
    _sync_task_index(session, case, runtime, now)
    _sync_timers(session, case, runtime)
    case.state = runtime.dumps()
    case.serializer_version = serializer.SERIALIZER_VERSION
    case.library_version = serializer.LIBRARY
    case.updated_at = now
    case.current_steps = runtime.current_steps()
    case.has_incident = bool(session.scalar(sa.select(sa.func.count(Incident.id)).where(
        Incident.case_id == case.id, Incident.resolved_at.is_(None))))
    if runtime.completed and case.status != "completed":
        case.status = "completed"
        case.ended_at = now
        case.outcome = runtime.outcome()
        session.add(Event(case_id=case.id, at=now, actor=actor, kind="case_completed",
                          details={"outcome": case.outcome}))
    try:
        session.flush()  # the version_no check happens here: a concurrent change raises now
    except StaleDataError:
        raise ConflictError("the case was changed by someone else at the same time; "
                            "reload it and try again") from None
    case_id, runtime_ref = case.id, runtime
    uow.after_commit(lambda: env.workflows.put(case_id, case.version_no, runtime_ref))


def _run_service_tasks(env: Env, session: Session, case: Case, runtime: CaseRuntime, actor: str,
                       now: datetime) -> None:
    failing = set(session.scalars(sa.select(Incident.task_id).where(
        Incident.case_id == case.id, Incident.resolved_at.is_(None))))
    for _ in range(MAX_SERVICE_ROUNDS):
        calls = [c for c in runtime.service_calls() if c.task_id not in failing]
        if not calls:
            return
        for call in calls:
            result = run_handler(env, session, case, call, now)
            if result is None:
                failing.add(call.task_id)
                continue
            steps = runtime.complete_service(call.task_id, result)
            session.add_all(step_events(case.id, steps, actor, now))
    raise ExecutionError(f"more than {MAX_SERVICE_ROUNDS} service tasks ran in one step: "
                         "the model loops through service tasks without waiting for anyone")


def run_handler(env: Env, session: Session, case: Case, call: ServiceCall, now: datetime) -> dict | None:
    """Call the topic's handler; write its effects, or park an incident and return None."""
    handler = env.handlers.get(call.topic)
    ctx = HandlerContext(
        case_id=case.id, pathway=case.pathway, region=case.region, client_ref=case.client_ref,
        started_by=case.started_by, element_id=call.element_id, task_id=call.task_id,
        params=dict(call.params), data=dict(call.data), now=now,
        users_with_role=lambda role: _users_with_role(session, role, case.region))
    try:
        if handler is None:
            raise HandlerError(f"no handler is registered for topic {call.topic!r}")
        result = handler(ctx) or {}
        if not isinstance(result, dict):
            raise HandlerError(f"handler for {call.topic!r} returned {type(result).__name__}, not a dict")
    except Exception as exc:  # noqa: BLE001 - any handler failure becomes an incident, never a lost step
        if not isinstance(exc, HandlerError):
            log.exception("handler %s failed on case %s step %s", call.topic, case.id, call.element_id)
        _open_incident(session, case, call, f"{type(exc).__name__}: {exc}" if not isinstance(exc, HandlerError)
                       else str(exc), now)
        return None
    for i, msg in enumerate(ctx.messages):
        key = f"case:{case.id}:task:{call.task_id}:{i}:{msg.recipient}"
        if session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)) is None:
            session.add(OutboxMessage(
                case_id=case.id, idempotency_key=key, channel=msg.channel, recipient=msg.recipient,
                subject=msg.subject, body=msg.body, shares_client_data=msg.shares_client_data,
                status="pending", attempts=0, next_attempt_at=now, created_at=now))
            session.add(Event(case_id=case.id, at=now, actor="system", kind="message_queued",
                              element_id=call.element_id, task_id=call.task_id,
                              details={"recipient": msg.recipient, "channel": msg.channel, "subject": msg.subject}))
    for doc in ctx.documents:
        latest = session.scalar(sa.select(sa.func.max(Document.version)).where(
            Document.case_id == case.id, Document.kind == doc.kind)) or 0
        session.add(Document(case_id=case.id, kind=doc.kind, version=latest + 1, content=doc.content,
                             created_at=now, created_by="system", element_id=call.element_id))
        session.add(Event(case_id=case.id, at=now, actor="system", kind="document_saved",
                          element_id=call.element_id, details={"kind": doc.kind, "version": latest + 1}))
    for incident in session.scalars(sa.select(Incident).where(
            Incident.case_id == case.id, Incident.task_id == call.task_id, Incident.resolved_at.is_(None))):
        incident.resolved_at = now
    return result


def _open_incident(session: Session, case: Case, call: ServiceCall, message: str, now: datetime) -> None:
    existing = session.scalar(sa.select(Incident).where(
        Incident.case_id == case.id, Incident.task_id == call.task_id, Incident.resolved_at.is_(None)))
    if existing is not None:
        existing.attempts += 1
        existing.message = message
    else:
        session.add(Incident(case_id=case.id, task_id=call.task_id, element_id=call.element_id,
                             topic=call.topic, message=message, attempts=1, created_at=now))
    session.add(Event(case_id=case.id, at=now, actor="system", kind="incident",
                      element_id=call.element_id, task_id=call.task_id, details={"message": message}))


def _users_with_role(session: Session, role: str, region: str) -> list[tuple[str, str | None]]:
    rows = session.execute(
        sa.select(User.username, User.email).join(UserRole, UserRole.user_id == User.id)
        .join(UserRegion, UserRegion.user_id == User.id)
        .where(UserRole.role == role, UserRegion.region_key == region, User.active.is_(True))
        .order_by(User.username))
    return [(r.username, r.email) for r in rows]


def _sync_task_index(session: Session, case: Case, runtime: CaseRuntime, now: datetime) -> None:
    open_rows = {t.id: t for t in session.scalars(
        sa.select(Task).where(Task.case_id == case.id, Task.status == "open"))}
    current = runtime.human_tasks(now)
    current_ids = {h.task_id for h in current}
    for h in current:
        if h.task_id in open_rows:
            continue
        session.add(Task(
            id=h.task_id, case_id=case.id, pathway=case.pathway, element_id=h.element_id, name=h.name,
            role=h.role, region=case.region, client_ref=case.client_ref, assignee=h.assignee,
            candidate_groups=list(h.candidate_groups), candidate_users=list(h.candidate_users),
            form_id=h.form_id, status="open", created_at=now, due_at=h.due_at, follow_up_at=h.follow_up_at))
    for task_id, row in open_rows.items():
        if task_id not in current_ids:
            row.status = "cancelled"
            row.completed_at = now


def _sync_timers(session: Session, case: Case, runtime: CaseRuntime) -> None:
    session.execute(sa.delete(TimerRow).where(TimerRow.case_id == case.id))
    for t in runtime.timers():
        session.add(TimerRow(case_id=case.id, task_id=t.task_id, element_id=t.element_id, due_at=t.due_at))
