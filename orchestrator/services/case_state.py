"""Load a case's workflow, move it on, and save everything that follows from the move.

``save_progress`` is the single path by which any use case (start, complete, timer, retry)
persists a changed workflow: it runs waiting service tasks through their handlers, keeps
the task index and timer table in step with the workflow, writes the audit events and
bumps ``version_no`` (optimistic locking) — all in the caller's unit of work.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..engine import serializer
from ..engine.runtime import MAX_SERVICE_ROUNDS, CaseRuntime
from ..engine.waits import ServiceCall, Step
from ..errors import ConflictError, ExecutionError, PolkuError, Problem, StateVersionError, StepRefusedError
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
from . import consent, measure_counts
from .env import Env
from .handler_api import BpmnError, HandlerContext, HandlerError, HandlerRefusal, UserInfo
from .models_cache import model_for_version
from .stuck import record_stuck

log = logging.getLogger("polku.handlers")


def load_runtime(env: Env, session: Session, case: Case) -> CaseRuntime:
    """The case's workflow, from the per-process cache when it is current, else from the row.

    A case written by another SpiffWorkflow version (its row's ``library_version`` or the mark
    inside its state) is refused with ``StateVersionError``, never loaded as if it were empty."""
    try:
        serializer.check_library(case.library_version)
        runtime = env.workflows.take(case.id, case.version_no)
        if runtime is not None:
            return runtime
        model = model_for_version(env, session, case.process_version_id)
        return CaseRuntime.load(model, case.state)
    except StateVersionError as exc:
        raise StateVersionError(exc.written_with, exc.running, case.id) from None


def step_events(case_id: int | None, steps: list[Step], actor: str, now: datetime) -> list[dict]:
    return [{"case_id": case_id, "at": now, "actor": actor, "kind": "step", "element_id": s.element_id,
             "task_id": None, "details": {"name": s.name, "type": s.type}} for s in steps]


class StepWrites:
    """Rows one step adds, written at the end as one executemany per table."""

    def __init__(self) -> None:
        self.rows: dict[type, list[dict]] = {Event: [], OutboxMessage: [], Task: [], TimerRow: []}

    def add(self, model: type, **values) -> None:
        self.rows[model].append(values)

    def flush(self, session: Session) -> None:
        # Core executemany on the table: the ORM's bulk path costs several times more per row.
        conn = session.connection()
        for model, rows in self.rows.items():
            if rows:
                conn.execute(model.__table__.insert(), rows)
                rows.clear()


def save_progress(env: Env, uow: UnitOfWork, case: Case, runtime: CaseRuntime, actor: str,
                  steps: list[Step], now: datetime, events: list[dict] | None = None,
                  facts: dict | None = None) -> None:
    """Persist the case after a move; ``events`` are audit rows the caller wants in the batch,
    ``facts`` the case's new measure facts (``measure_counts.record_step``) if the move changed them."""
    session = uow.session
    milestones = runtime.model.milestones
    # a case that was never saved has no state yet, and so nothing counted
    counted = measure_counts.contributions(case, milestones) if case.state else None
    if case.id is None:
        session.add(case)
    session.flush()  # the caller's own ORM changes (a new case, a claimed task …) go first
    writes = StepWrites()
    writes.rows[Event].extend(events or [])
    writes.rows[Event].extend(step_events(case.id, steps, actor, now))
    failing = _run_service_tasks(env, session, writes, case, runtime, actor, now)
    humans, calls, timers = runtime.human_tasks(now), runtime.service_calls(), runtime.timers()
    _sync_task_index(uow, writes, case, runtime, humans, now)
    _sync_timers(session, writes, case, runtime, timers)
    has_incident = record_stuck(session, writes, case, runtime, failing, actor, now)
    values = {"state": runtime.dumps(), "serializer_version": serializer.SERIALIZER_VERSION,
              "library_version": serializer.LIBRARY, "updated_at": now,
              "current_steps": runtime.current_steps(humans, calls, timers), "has_incident": has_incident}
    if facts is not None:
        values["facts"] = facts
    if runtime.model.listable:
        data = runtime.data()
        values["tags"] = {k: data[k] for k in runtime.model.listable if data.get(k) not in (None, "", [])}
    handover = None
    if runtime.completed and case.status != "completed":
        values.update(status="completed", ended_at=now, outcome=runtime.outcome())
        writes.add(Event, case_id=case.id, at=now, actor=actor, kind="case_completed",
                   element_id=None, task_id=None, details={"outcome": values["outcome"]})
        handover = runtime.handover_to()
    _update_case_row(session, case, values)
    writes.flush(session)
    now_counted = measure_counts.contributions(case, milestones)
    measure_counts.add_on_commit(uow, measure_counts.change(counted or Counter(), now_counted))
    if handover:
        from .handover import hand_over  # handover starts a case, which saves through here
        hand_over(env, uow, case, runtime.data(), handover, actor, now)
    runtime.mark_persisted(humans, timers)
    case_id, version_no, runtime_ref = case.id, case.version_no, runtime
    uow.after_commit(lambda: env.workflows.put(case_id, version_no, runtime_ref))


def _update_case_row(session: Session, case: Case, values: dict) -> None:
    """One ``UPDATE … WHERE version_no = <the version we loaded>``: the optimistic lock.

    Core rather than the ORM flush (a third of a step's cost); the loaded object is then
    brought in line without marking anything dirty.
    """
    old = case.version_no
    done = session.connection().execute(
        sa.update(Case.__table__).where(Case.__table__.c.id == case.id, Case.__table__.c.version_no == old)
        .values(**values, version_no=old + 1))
    if done.rowcount != 1:
        raise ConflictError("the case was changed by someone else at the same time; reload it and try again")
    for key, value in {**values, "version_no": old + 1}.items():
        set_committed_value(case, key, value)


def open_incident_tasks(session: Session, case: Case) -> set[str]:
    if not case.has_incident:
        return set()  # the flag is kept exact, so a case without one costs no query
    return set(session.scalars(sa.select(Incident.task_id).where(
        Incident.case_id == case.id, Incident.resolved_at.is_(None))))


def _run_service_tasks(env: Env, session: Session, writes: StepWrites, case: Case, runtime: CaseRuntime,
                       actor: str, now: datetime) -> set[str]:
    """Run waiting service tasks; returns the task ids whose handler is (still) failing."""
    failing = open_incident_tasks(session, case)
    for _ in range(MAX_SERVICE_ROUNDS):
        calls = [c for c in runtime.service_calls() if c.task_id not in failing]
        if not calls:
            return failing
        for call in calls:
            result = run_handler(env, session, case, call, now, writes=writes, actor=actor)
            steps = finish_call(session, case, runtime, call, result, now) if result is not None else None
            if steps is None:
                failing.add(call.task_id)
                continue
            writes.rows[Event].extend(step_events(case.id, steps, actor, now))
    raise ExecutionError(f"more than {MAX_SERVICE_ROUNDS} service tasks ran in one step: "
                         "the model loops through service tasks without waiting for anyone")


@dataclass(frozen=True)
class ThrownError:
    """What ``run_handler`` returns when the handler raised ``BpmnError``: ``finish_call`` throws it."""

    code: str
    message: str
    data: dict


def finish_call(session: Session, case: Case, runtime: CaseRuntime, call: ServiceCall,
                result: dict | ThrownError, now: datetime, retrying: bool = False) -> list[Step] | None:
    """Complete the service task with the handler's result, or throw its BPMN error at the task.

    None: the error found no boundary to catch it, and is now an incident on the case.
    """
    if not isinstance(result, ThrownError):
        return runtime.complete_service(call.task_id, result)
    steps = runtime.throw_error(call.task_id, result.code, result.data)
    if steps is None:
        _open_incident(session, case, call, f"BPMN error {result.code!r}"
                       f"{': ' + result.message if result.message else ''} — no error boundary event on "
                       f"'{call.name}' catches this code; add one with errorCode {result.code!r}", now, retrying)
        return None
    session.add(Event(case_id=case.id, at=now, actor="system", kind="bpmn_error", element_id=call.element_id,
                      task_id=call.task_id, details={"name": call.name, "code": result.code,
                                                     "message": result.message}))
    if retrying:
        session.execute(sa.update(Incident).where(
            Incident.case_id == case.id, Incident.task_id == call.task_id, Incident.resolved_at.is_(None))
            .values(resolved_at=now))
    return steps


class SessionDirectory:
    """The handler ``Directory`` answered from this unit of work's session."""

    def __init__(self, session: Session, case: Case, now: datetime):
        self.session, self.case, self.now = session, case, now

    def users_with_role(self, role: str) -> list[UserInfo]:
        ids = self.session.scalars(
            sa.select(User.id).join(UserRole, UserRole.user_id == User.id)
            .join(UserRegion, UserRegion.user_id == User.id)
            .where(UserRole.role == role, UserRegion.region_key == self.case.region, User.active.is_(True))
            .order_by(User.username))
        return [self._info(self.session.get(User, i)) for i in ids]

    def user(self, username: str) -> UserInfo | None:
        user = self.session.scalar(sa.select(User).where(User.username == username, User.active.is_(True)))
        return self._info(user) if user is not None else None

    def consent_covers(self, organisation: str | None) -> bool:
        return consent.covers(self.session, self.case.client_ref, organisation, self.now)

    @staticmethod
    def _info(user: User) -> UserInfo:
        return UserInfo(user.username, user.email, user.organisation, frozenset(user.role_keys),
                        frozenset(user.region_keys))


def run_handler(env: Env, session: Session, case: Case, call: ServiceCall, now: datetime,
                retrying: bool = False, writes: StepWrites | None = None, actor: str = "system"
                ) -> dict | ThrownError | None:
    """Call the topic's handler; write its effects, or park an incident and return None.

    ``retrying`` (a step that failed before) makes the effects idempotent: messages already
    queued under the same key are not queued again, and the open incident is resolved.
    A ``HandlerRefusal`` on a step a person caused (``actor`` not "system") is raised to them
    as a 422 and nothing of the step is saved.
    """
    handler = env.handlers.get(call.topic)
    directory = SessionDirectory(session, case, now)
    ctx = HandlerContext(
        case_id=case.id, pathway=case.pathway, region=case.region, client_ref=case.client_ref,
        started_by=case.started_by, element_id=call.element_id, task_id=call.task_id,
        params=dict(call.params), data=dict(call.data), now=now, directory=directory)
    try:
        if handler is None:
            raise HandlerError(f"no handler is registered for topic {call.topic!r}")
        result = handler(ctx) or {}
        if not isinstance(result, dict):
            raise HandlerError(f"handler for {call.topic!r} returned {type(result).__name__}, not a dict")
        _enforce_consent(ctx, directory)
    except BpmnError as exc:
        return ThrownError(str(exc.code), exc.message, exc.data)
    except HandlerRefusal as exc:
        if actor != "system":
            raise StepRefusedError(f"{call.name}: {exc}", [Problem(str(exc), element_id=call.element_id,
                                                                   field=exc.field)]) from None
        _open_incident(session, case, call, f"refused: {exc}", now, retrying)
        return None
    except Exception as exc:  # noqa: BLE001 - any handler failure becomes an incident, never a lost step
        if not isinstance(exc, HandlerError):
            log.exception("handler %s failed on case %s step %s", call.topic, case.id, call.element_id)
        _open_incident(session, case, call, f"{type(exc).__name__}: {exc}" if not isinstance(exc, HandlerError)
                       else str(exc), now, retrying)
        return None
    own_writes = writes is None
    writes = writes or StepWrites()
    for i, msg in enumerate(ctx.messages):
        key = f"case:{case.id}:task:{call.execution}:{call.started_at:.6f}:{i}:{msg.recipient}"
        if retrying and session.scalar(sa.select(OutboxMessage.id).where(
                OutboxMessage.idempotency_key == key)) is not None:
            continue
        writes.add(OutboxMessage, case_id=case.id, idempotency_key=key, channel=msg.channel,
                   recipient=msg.recipient, subject=msg.subject, body=msg.body,
                   shares_client_data=msg.shares_client_data, status="pending", attempts=0,
                   next_attempt_at=now, created_at=now, lease_until=None, last_error=None, sent_at=None)
        writes.add(Event, case_id=case.id, at=now, actor="system", kind="message_queued",
                   element_id=call.element_id, task_id=call.task_id,
                   details={"recipient": msg.recipient, "channel": msg.channel, "subject": msg.subject,
                            "shares_client_data": msg.shares_client_data})
    for doc in ctx.documents:
        latest = session.scalar(sa.select(sa.func.max(Document.version)).where(
            Document.case_id == case.id, Document.kind == doc.kind)) or 0
        session.add(Document(case_id=case.id, kind=doc.kind, version=latest + 1, content=doc.content,
                             created_at=now, created_by="system", element_id=call.element_id))
        session.flush()  # the next document of this kind in the same step must see this version
        writes.add(Event, case_id=case.id, at=now, actor="system", kind="document_saved",
                   element_id=call.element_id, task_id=call.task_id,
                   details={"kind": doc.kind, "version": latest + 1})
    for c in ctx.consents:
        try:
            consent.add_consent(session, case, c.organisations, c.given_by, consent.end_of_day(c.valid_until),
                                actor, now)
        except PolkuError as exc:
            raise StepRefusedError(f"{call.name}: {exc.message}", [Problem(exc.message, element_id=call.element_id)]
                                   ) from None
    if own_writes:
        writes.flush(session)
    if retrying:
        session.execute(sa.update(Incident).where(
            Incident.case_id == case.id, Incident.task_id == call.task_id, Incident.resolved_at.is_(None))
            .values(resolved_at=now))
    return result


def _enforce_consent(ctx: HandlerContext, directory: SessionDirectory) -> None:
    """The system's own check, whatever the handler did: client data goes to a person only if
    the client's valid consent covers that person's organisation. Otherwise nothing is sent."""
    refused = []
    for msg in ctx.messages:
        if not msg.shares_client_data or msg.username is None:
            continue
        user = directory.user(msg.username)
        org = user.organisation if user else None
        if not directory.consent_covers(org):
            refused.append(f"{msg.username} ({org or 'no organisation'})")
    if refused:
        raise HandlerError("nothing was sent: the client's consent does not cover " + ", ".join(refused))


def _open_incident(session: Session, case: Case, call: ServiceCall, message: str, now: datetime,
                   retrying: bool) -> None:
    existing = session.scalar(sa.select(Incident).where(
        Incident.case_id == case.id, Incident.task_id == call.task_id,
        Incident.resolved_at.is_(None))) if retrying else None
    if existing is not None:
        existing.attempts += 1
        existing.message = message
    else:
        session.add(Incident(case_id=case.id, task_id=call.task_id, element_id=call.element_id,
                             topic=call.topic, message=message, attempts=1, created_at=now))
    session.add(Event(case_id=case.id, at=now, actor="system", kind="incident",
                      element_id=call.element_id, task_id=call.task_id, details={"message": message}))


def _sync_task_index(uow: UnitOfWork, writes: StepWrites, case: Case, runtime: CaseRuntime,
                     current: list, now: datetime) -> None:
    """Insert rows for tasks that appeared, cancel rows of tasks that vanished (e.g. a
    boundary event interrupted them); diffed against what was last persisted, not re-read.

    A task is keyed by its engine id *and* its occurrence: a loop rewinds a task under the
    same engine id, and each round must be its own inbox row."""
    session = uow.session
    current_keys = {h.key for h in current}
    for h in current:
        if h.key in runtime.persisted_tasks:
            continue
        row = dict(id=str(uuid4()), engine_task_id=h.task_id, case_id=case.id, pathway=case.pathway,
                   element_id=h.element_id, name=h.name, role=h.role, region=case.region, client_ref=case.client_ref,
                   assignee=h.assignee, candidate_groups=list(h.candidate_groups),
                   candidate_users=list(h.candidate_users), form_id=h.form_id, status="open", created_at=now,
                   due_at=h.due_at, follow_up_at=h.follow_up_at, claimed_at=None, completed_at=None,
                   completed_by=None, delegated_by=None, draft=None, draft_by=None, draft_at=None,
                   listed={k: h.data[k] for k in runtime.model.listable if h.data.get(k) not in (None, "", [])})
        writes.add(Task, **row)
        measure_counts.track_task(uow, None, SimpleNamespace(**row))
    gone = {task_id for task_id, _ in runtime.persisted_tasks - current_keys}
    if gone:
        # a task completed in this step is already 'completed'; only still-open rows are cancelled.
        # The new round's row of a rewound task is among the writes, not yet in the table.
        cancelled = session.execute(
            sa.update(Task).where(Task.case_id == case.id, Task.engine_task_id.in_(gone), Task.status == "open")
            .values(status="cancelled", completed_at=now)
            .returning(*measure_counts.task_columns()))
        for task in cancelled:
            measure_counts.track_task(uow, task, None)


def _sync_timers(session: Session, writes: StepWrites, case: Case, runtime: CaseRuntime, timers: list) -> None:
    if frozenset(t.key for t in timers) == runtime.persisted_timers:
        return
    if runtime.persisted_timers:
        session.execute(sa.delete(TimerRow).where(TimerRow.case_id == case.id))
    for t in timers:
        writes.add(TimerRow, case_id=case.id, task_id=t.task_id, element_id=t.element_id, due_at=t.due_at)
