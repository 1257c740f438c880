"""Deliver a message to the case that waits for it: ``POST /api/messages`` and ``run.py message``.

A message is matched by its name (the ``bpmn:message``'s ``name``, as Camunda 7 correlates)
and addressed either to one case (``case_id``) or to a client's case on a pathway
(``client_ref`` + ``pathway``). The sent ``data`` is merged into the case and the case moves
on, all in one unit of work through ``save_progress`` (optimistic lock on the case row).

Who may send: whoever may see the case's client data (``visible_case``: a client-facing role
of the pathway in the case's region, or a person named on one of its tasks) — so another
system sends with a bearer token of a user given such a role. The CLI operator (``actor``
None) may send to any case.
"""
from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..engine.events import MessageWait
from ..engine.runtime import CaseRuntime
from ..engine.validation import SYSTEM_VARIABLES
from ..errors import ConflictError, NotFoundError, PolkuError, Problem, RequestError
from ..store.models import Case, Incident
from .case_state import load_runtime, save_progress
from .cases import case_summary, visible_case
from .env import Env
from .principal import Principal

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
MESSAGE_NAME = re.compile(r"[^\x00-\x1f]{1,200}\Z")
MAX_KEYS = 100


def check_message(name: object, data: object) -> tuple[str, dict]:
    """The message name and data as sent, or a ``RequestError`` saying what is wrong with them."""
    if not isinstance(name, str) or not MESSAGE_NAME.match(name.strip()):
        raise RequestError("the message name must be the name of a bpmn:message, e.g. payment_received",
                           [Problem("a non-empty name is required", field="name")])
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RequestError("data must be a JSON object of field names and values",
                           [Problem(f"got {type(data).__name__}", field="data")])
    problems = []
    for key in data:
        if not isinstance(key, str) or not NAME.match(key):
            problems.append(Problem(f"{key!r} is not a plain field name (letters, digits and _, "
                                    "starting with a letter)", field=f"data.{key}"))
        elif key in SYSTEM_VARIABLES:
            problems.append(Problem(f"{key!r} is set by Polku and cannot be changed by a message",
                                    field=f"data.{key}"))
    if len(data) > MAX_KEYS:
        problems.append(Problem(f"at most {MAX_KEYS} fields in one message", field="data"))
    if problems:
        raise RequestError("the message data cannot be used", problems)
    return name.strip(), dict(data)


def send_message(env: Env, actor: Principal | None, name: object, data: object = None, *,
                 case_id: int | None = None, client_ref: str | None = None,
                 pathway: str | None = None) -> dict:
    """Deliver message ``name`` to the one case waiting for it; returns what moved."""
    name, data = check_message(name, data)
    if case_id is None and not (client_ref and pathway):
        raise RequestError("say which case the message is for: case_id, or client_ref and pathway",
                           [Problem("case_id or client_ref + pathway is required", field="case_id")])
    now = env.now()
    username = actor.username if actor is not None else "operator"
    with env.uow() as uow:
        s = uow.session
        case, runtime, waits = _find_waiting_case(env, s, actor, name, case_id, client_ref, pathway)
        caught, steps = runtime.send_message(name, data)
        if not caught:  # checked just before; only a broken state gets here
            raise NotFoundError(f"case {case.id} is not waiting for message {name!r}")
        received = [{"case_id": case.id, "at": now, "actor": username, "kind": "message_received",
                     "element_id": w.element_id, "task_id": w.task_id,
                     "details": {"name": w.name, "message": name, "fields": sorted(data)}} for w in caught]
        _resolve_cancelled_incidents(s, case, runtime, username, now)
        save_progress(env, uow, case, runtime, username, steps, now, events=received)
        uow.commit()
        return {"message": name, "case": case_summary(case),
                "caught": [{"element_id": w.element_id, "name": w.name, "kind": w.kind} for w in caught],
                "steps": [{"element_id": st.element_id, "name": st.name} for st in steps]}


def _find_waiting_case(env: Env, s: Session, actor: Principal | None, name: str, case_id: int | None,
                       client_ref: str | None, pathway: str | None
                       ) -> tuple[Case, CaseRuntime, list[MessageWait]]:
    if case_id is not None:
        case = _case(env, s, actor, case_id)
        if (client_ref and case.client_ref != client_ref) or (pathway and case.pathway != pathway):
            raise NotFoundError(f"case {case_id} is not the case of {client_ref or 'that client'} "
                                f"on {pathway or 'that pathway'}")
        candidates = [case]
    else:
        rows = s.scalars(sa.select(Case).where(Case.client_ref == client_ref, Case.pathway == pathway,
                                               Case.status == "active").order_by(Case.id))
        candidates = [c for c in rows if actor is None or _may_see(env, s, actor, c.id)]
    found: list[tuple[Case, CaseRuntime, list[MessageWait]]] = []
    for case in candidates:
        if case.status != "active":
            continue
        runtime = load_runtime(env, s, case)
        waits = [w for w in runtime.message_waits() if w.message == name]
        if waits:
            found.append((case, runtime, waits))
        else:  # only looked at: back to the cache unchanged
            env.workflows.put(case.id, case.version_no, runtime)
    if not found:
        if case_id is not None:
            raise NotFoundError(f"case {case_id} is not waiting for message {name!r}")
        raise NotFoundError(f"no active case of {client_ref} on {pathway} is waiting for message {name!r}")
    if len(found) > 1:
        for case, runtime, _w in found:
            env.workflows.put(case.id, case.version_no, runtime)
        ids = ", ".join(str(c.id) for c, _r, _w in found)
        raise ConflictError(f"{len(found)} cases of {client_ref} on {pathway} wait for message {name!r} "
                            f"(cases {ids}); send it with case_id")
    return found[0]


def _resolve_cancelled_incidents(s: Session, case: Case, runtime: CaseRuntime, username: str, now: datetime) -> None:
    """A message that interrupts a failing service task (a boundary, an event subprocess) ends
    its incident too: nothing is left to retry."""
    if not case.has_incident:
        return
    running = {c.task_id for c in runtime.service_calls()}
    s.execute(sa.update(Incident).where(Incident.case_id == case.id, Incident.resolved_at.is_(None),
                                        Incident.task_id.not_in(running) if running else sa.true())
              .values(resolved_at=now, resolved_by=username))


def _case(env: Env, s: Session, actor: Principal | None, case_id: int) -> Case:
    if actor is None:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFoundError(f"case {case_id} not found")
        return case
    return visible_case(env, s, actor, case_id)


def _may_see(env: Env, s: Session, actor: Principal, case_id: int) -> bool:
    try:
        visible_case(env, s, actor, case_id)
    except PolkuError:
        return False
    return True

