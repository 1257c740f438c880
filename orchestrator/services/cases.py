"""Use cases on whole cases: start, read (logged), list, retry an incident."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..engine import serializer
from ..engine.deployment import ProcessModel
from ..engine.events import message_names
from ..engine.forms import FormSchema
from ..engine.runtime import CaseRuntime
from ..engine.waits import CLIENT_LEAD
from ..errors import (
    ConflictError,
    FormValidationError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    RequestError,
)
from ..store.models import (
    AccessLog,
    Case,
    CaseLink,
    Consent,
    Document,
    Event,
    Incident,
    OutboxMessage,
    ProcessVersion,
    Region,
    Task,
    User,
)
from ..store.uow import UnitOfWork
from . import measure_counts
from .case_state import finish_call, load_runtime, run_handler, save_progress, step_events
from .consent import consent_row
from .env import Env
from .models_cache import model_for_version
from .principal import Principal
from .stuck import incident_kind


def latest_version(session: Session, pathway: str) -> ProcessVersion:
    row = session.scalar(sa.select(ProcessVersion).where(ProcessVersion.process_id == pathway)
                         .order_by(ProcessVersion.version.desc()).limit(1))
    if row is None:
        known = sorted(set(session.scalars(sa.select(ProcessVersion.process_id))))
        raise NotFoundError(f"no pathway {pathway!r} is deployed; deployed: {', '.join(known) or 'none'}")
    return row


def check_user_fields(session: Session, form: FormSchema | None, values: dict, region: str) -> None:
    """Fields marked ``properties.polku = username`` must name an active user of the region."""
    if form is None:
        return
    problems = []
    for key in form.username_fields():
        name = values.get(key)
        if not name:
            continue
        user = session.scalar(sa.select(User).where(User.username == name, User.active.is_(True)))
        if user is None or region not in user.region_keys:
            problems.append(Problem(f"{name!r} is not a user in region {region}", field=key))
    if problems:
        raise FormValidationError("some named people are not users of this region", problems)


def open_case(env: Env, uow: UnitOfWork, version: ProcessVersion, model: ProcessModel, region: str,
              client_ref: str, data: dict, started_by: str, now: datetime, actor: str,
              events: list[dict] | None = None) -> Case:
    """Create the case row and run the new workflow to its first waits (one unit of work)."""
    s = uow.session
    initial = {**data, "client_ref": client_ref, "region": region, "pathway": model.process_id,
               "started_by": started_by}
    runtime, steps = CaseRuntime.start(model, initial)
    case = Case(pathway=model.process_id, process_version_id=version.id, region=region, client_ref=client_ref,
                status="active", started_by=started_by, started_at=now, updated_at=now,
                library_version=serializer.LIBRARY, serializer_version=serializer.SERIALIZER_VERSION,
                state="", current_steps=[], version_no=1, has_incident=False, tags={})
    s.add(case)
    s.flush()
    started = {"case_id": case.id, "at": now, "actor": actor, "kind": "case_started", "element_id": None,
               "task_id": None, "details": {"pathway": model.process_id, "version": version.version,
                                            **({"handed_over_from": data["handed_over_from"]}
                                               if data.get("handed_over_from") else {})}}
    save_progress(env, uow, case, runtime, actor, steps, now, events=[started, *(events or [])])
    return case


def start_case(env: Env, actor: Principal, pathway: str, region: str, data: dict | None,
               client_ref: str | None = None) -> dict:
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        if s.get(Region, region) is None:
            raise NotFoundError(f"region {region!r} does not exist")
        if region not in actor.regions:
            raise PermissionDeniedError(f"you have no access to region {region!r}")
        version = latest_version(s, pathway)
        model = model_for_version(env, s, version.id)
        start_role = next((e.role for e in model.elements.values() if e.type == "StartEvent" and e.role), None)
        if start_role and not actor.has(start_role):
            raise PermissionDeniedError(f"starting {pathway!r} needs the role {start_role!r}")
        form = model.start_form
        cleaned = form.validate(data or {}) if form else dict(data or {})
        check_user_fields(s, form, cleaned, region)
        ref = (client_ref or cleaned.get("client_ref") or "").strip()
        if not ref:
            raise RequestError("client_ref is required: the pseudonymous client reference of the case")
        case = open_case(env, uow, version, model, region, ref, cleaned, actor.username, now, actor.username)
        uow.commit()
        return case_summary(case, version.version)


def start_form_of(env: Env, pathway: str) -> FormSchema | None:
    with env.uow() as uow:
        return model_for_version(env, uow.session, latest_version(uow.session, pathway).id).start_form


def case_summary(case: Case, version: int | None = None) -> dict:
    return {"id": case.id, "pathway": case.pathway, "version": version, "region": case.region,
            "client_ref": case.client_ref, "status": case.status, "current_steps": list(case.current_steps),
            "has_incident": case.has_incident, "outcome": case.outcome, "started_at": case.started_at,
            "started_by": case.started_by, "ended_at": case.ended_at, "version_no": case.version_no}


def pathway_roles(env: Env, session: Session, case: Case) -> set[str]:
    model = model_for_version(env, session, case.process_version_id)
    return {e.role for e in model.elements.values() if e.role}


def visible_case(env: Env, s: Session, actor: Principal, case_id: int) -> Case:
    """The case, if the actor may see its client data: a client-facing role the pathway uses in
    the case's region, or a person named on one of its tasks (e.g. the client lead)."""
    case = s.get(Case, case_id)
    if case is not None and actor.may_see_case(case, pathway_roles(env, s, case)):
        return case
    if case is not None and actor.client_roles and s.scalar(sa.select(Task.id).where(
            Task.case_id == case.id, sa.or_(Task.assignee == actor.username,
                                            Task.completed_by == actor.username)).limit(1)):
        return case
    raise NotFoundError(f"case {case_id} not found")  # no hint whether it exists elsewhere


def get_case(env: Env, actor: Principal, case_id: int, reason: str = "") -> dict:
    """The case with its data, steps, history and documents; the read is access-logged."""
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        case = visible_case(env, s, actor, case_id)
        version = s.get(ProcessVersion, case.process_version_id)
        model = model_for_version(env, s, case.process_version_id)
        runtime = load_runtime(env, s, case)
        result = case_summary(case, version.version if version else None)
        result["data"] = {k: v for k, v in runtime.data().items() if not k.startswith("_")}
        result["current"] = [{"element_id": sid, "name": model.elements[sid].name if sid in model.elements else sid}
                             for sid in case.current_steps]
        label_message_waits(result, model, runtime)
        result["open_tasks"] = [_task_brief(t) for t in s.scalars(
            sa.select(Task).where(Task.case_id == case.id, Task.status == "open").order_by(Task.created_at))]
        result["history"] = [{"at": e.at, "actor": e.actor, "kind": e.kind, "element_id": e.element_id,
                              "name": (e.details or {}).get("name"), "details": e.details}
                             for e in s.scalars(sa.select(Event).where(Event.case_id == case.id)
                                                .order_by(Event.at, Event.id))]
        result["documents"] = [{"id": d.id, "kind": d.kind, "version": d.version, "content": d.content,
                                "created_at": d.created_at} for d in s.scalars(
            sa.select(Document).where(Document.case_id == case.id).order_by(Document.kind, Document.version))]
        result["incidents"] = [{"id": i.id, "kind": incident_kind(i), "element_id": i.element_id,
                                "name": model.elements[i.element_id].name if i.element_id in model.elements
                                else i.element_id, "topic": i.topic, "message": i.message,
                                "attempts": i.attempts, "created_at": i.created_at} for i in s.scalars(
            sa.select(Incident).where(Incident.case_id == case.id, Incident.resolved_at.is_(None)))]
        result["consents"] = [consent_row(c, now) for c in s.scalars(
            sa.select(Consent).where(Consent.client_ref == case.client_ref).order_by(Consent.id))]
        result["links"] = [{"kind": link.kind, "direction": "to" if link.from_case_id == case.id else "from",
                            "case_id": link.to_case_id if link.from_case_id == case.id else link.from_case_id,
                            "pathway": other.pathway, "status": other.status, "at": link.created_at}
                           for link, other in s.execute(
            sa.select(CaseLink, Case).join(Case, sa.or_(
                sa.and_(CaseLink.from_case_id == case.id, Case.id == CaseLink.to_case_id),
                sa.and_(CaseLink.to_case_id == case.id, Case.id == CaseLink.from_case_id)))
            .order_by(CaseLink.id))]
        result["outbox"] = [{"recipient": m.recipient, "subject": m.subject, "status": m.status,
                             "shares_client_data": m.shares_client_data, "created_at": m.created_at}
                            for m in s.scalars(sa.select(OutboxMessage).where(OutboxMessage.case_id == case.id)
                                               .order_by(OutboxMessage.id))]
        s.add(AccessLog(at=now, username=actor.username, case_id=case.id, client_ref=case.client_ref,
                        action="read_case", reason=reason[:300]))
        uow.commit()
        # the runtime was only read, so it goes back to the cache unchanged
        env.workflows.put(case.id, case.version_no, runtime)
        return result


def label_message_waits(result: dict, model: ProcessModel, runtime: CaseRuntime) -> None:
    """A message wait is shown by the name a sender uses (its bpmn:message), not an element id;
    ``messages`` lists every message the case accepts now, boundary events included."""
    names = message_names(model.spec, model.subprocess_specs)
    for step in result["current"]:
        if step["element_id"] in names:
            step["message"] = names[step["element_id"]]
            if step["name"] == step["element_id"]:
                step["name"] = names[step["element_id"]]
    result["messages"] = [{"element_id": w.element_id, "name": w.name, "message": w.message, "kind": w.kind}
                          for w in runtime.message_waits()]


def _task_brief(t: Task) -> dict:
    return {"id": t.id, "element_id": t.element_id, "name": t.name, "role": t.role,
            "assignee": t.assignee, "due_at": t.due_at}


def list_cases(env: Env, actor: Principal | None, status: str | None = None, limit: int = 100) -> list[dict]:
    """Cases in the actor's regions (``None`` = the CLI operator, who sees all)."""
    with env.uow() as uow:
        q = sa.select(Case).order_by(Case.id.desc()).limit(limit)
        if status:
            q = q.where(Case.status == status)
        if actor is not None:
            q = q.where(Case.region.in_(actor.regions))
        return [case_summary(c) for c in uow.session.scalars(q)]


def retry_incidents(env: Env, actor: Principal, case_id: int) -> dict:
    """Run the handlers of the case's failed service tasks again."""
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        case = visible_case(env, s, actor, case_id)
        incidents = list(s.scalars(sa.select(Incident).where(Incident.case_id == case.id,
                                                             Incident.resolved_at.is_(None))))
        if not incidents:
            raise ConflictError(f"case {case_id} has no open incident")
        runtime = load_runtime(env, s, case)
        failing = {i.task_id for i in incidents}
        for call in [c for c in runtime.service_calls() if c.task_id in failing]:
            result = run_handler(env, s, case, call, now, retrying=True)
            steps = finish_call(s, case, runtime, call, result, now, retrying=True) if result is not None else None
            if steps is not None:
                s.execute(sa.insert(Event), step_events(case.id, steps, actor.username, now))
                s.add(Event(case_id=case.id, at=now, actor=actor.username, kind="incident_resolved",
                            element_id=call.element_id, task_id=call.task_id))
        s.flush()
        for incident in incidents:
            s.refresh(incident)
            if incident.resolved_at is not None:
                incident.resolved_by = actor.username
        save_progress(env, uow, case, runtime, actor.username, [], now)
        uow.commit()
        return case_summary(case)


def change_client_lead(env: Env, actor: Principal, case_id: int, username: str, reason: str = "") -> dict:
    """Hand the case to a new client lead ("saattaen vaihtaen"): open client-lead tasks move to
    them, later ones go to them, and the change is recorded and announced to the new lead."""
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        case = visible_case(env, s, actor, case_id)
        runtime = load_runtime(env, s, case)
        current = runtime.data().get(CLIENT_LEAD)
        if actor.username != current and not actor.has("coordinator"):
            raise PermissionDeniedError("only the current client lead or a coordinator can change the client lead")
        if case.status != "active":
            raise ConflictError("the case is closed")
        new = s.scalar(sa.select(User).where(User.username == username, User.active.is_(True)))
        if new is None or case.region not in new.region_keys:
            raise FormValidationError("the new client lead is not a user of this region",
                                      [Problem(f"{username!r} is not a user in region {case.region}", field="username")])
        if username == current:
            raise ConflictError(f"{username} is already the client lead")
        runtime.set_data({CLIENT_LEAD: username})
        leads = [Task.case_id == case.id, Task.status == "open", Task.role == CLIENT_LEAD]
        for task in s.execute(sa.select(*measure_counts.task_columns()).where(*leads)):
            measure_counts.track_task(uow, task, measure_counts.open_task(task, assignee=username))
        moved = s.execute(sa.update(Task).where(*leads).values(assignee=username)).rowcount
        changed = {"case_id": case.id, "at": now, "actor": actor.username, "kind": "client_lead_changed",
                   "element_id": None, "task_id": None,
                   "details": {"from": current, "to": username, "reason": reason[:300], "tasks_moved": moved}}
        s.add(OutboxMessage(case_id=case.id, idempotency_key=f"case:{case.id}:client_lead:{username}:{now.timestamp()}",
                            channel="email", recipient=new.email or f"user:{username}",
                            subject="Sinut on nimetty asiakasvastaavaksi",
                            body=f"Asiakkuus {case.client_ref} siirtyi sinulle ({actor.username}): {reason}",
                            shares_client_data=False, status="pending", attempts=0, next_attempt_at=now,
                            created_at=now))
        save_progress(env, uow, case, runtime, actor.username, [], now, events=[changed])
        uow.commit()
        return {**case_summary(case), "client_lead": username, "tasks_moved": moved}


def case_bpmn(env: Env, actor: Principal, case_id: int) -> str:
    """The diagram of the version the case runs on."""
    with env.uow() as uow:
        case = visible_case(env, uow.session, actor, case_id)
        return uow.session.get(ProcessVersion, case.process_version_id).bpmn


def get_document(env: Env, actor: Principal, case_id: int, document_id: int) -> dict:
    """One document of a case; the opening is access-logged."""
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        case = visible_case(env, s, actor, case_id)
        doc = s.get(Document, document_id)
        if doc is None or doc.case_id != case.id:
            raise NotFoundError(f"document {document_id} not found on case {case_id}")
        s.add(AccessLog(at=now, username=actor.username, case_id=case.id, client_ref=case.client_ref,
                        action="read_document", reason=f"{doc.kind} v{doc.version}"))
        uow.commit()
        return {"id": doc.id, "kind": doc.kind, "version": doc.version, "content": doc.content,
                "created_at": doc.created_at, "created_by": doc.created_by, "client_ref": case.client_ref}
