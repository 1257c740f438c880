"""Use cases on whole cases: start, read (logged), list, retry an incident."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..engine import serializer
from ..engine.runtime import CaseRuntime
from ..errors import ConflictError, NotFoundError, PermissionDeniedError, RequestError
from ..store.models import AccessLog, Case, Document, Event, Incident, ProcessVersion, Region, Task
from .case_state import load_runtime, run_handler, save_progress, step_events
from .env import Env
from .models_cache import model_for_version
from .principal import Principal


def latest_version(session: Session, pathway: str) -> ProcessVersion:
    row = session.scalar(sa.select(ProcessVersion).where(ProcessVersion.process_id == pathway)
                         .order_by(ProcessVersion.version.desc()).limit(1))
    if row is None:
        known = sorted(set(session.scalars(sa.select(ProcessVersion.process_id))))
        raise NotFoundError(f"no pathway {pathway!r} is deployed; deployed: {', '.join(known) or 'none'}")
    return row


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
        ref = (client_ref or cleaned.get("client_ref") or "").strip()
        if not ref:
            raise RequestError("client_ref is required: the pseudonymous client reference of the case")
        cleaned["client_ref"] = ref
        initial = {**cleaned, "region": region, "pathway": pathway, "started_by": actor.username}
        runtime, steps = CaseRuntime.start(model, initial)
        case = Case(pathway=pathway, process_version_id=version.id, region=region, client_ref=ref,
                    status="active", started_by=actor.username, started_at=now, updated_at=now,
                    library_version=serializer.LIBRARY, serializer_version=serializer.SERIALIZER_VERSION,
                    state="", current_steps=[])
        s.add(case)
        s.flush()
        s.add(Event(case_id=case.id, at=now, actor=actor.username, kind="case_started",
                    details={"pathway": pathway, "version": version.version}))
        save_progress(env, uow, case, runtime, actor.username, steps, now)
        uow.commit()
        return case_summary(case, version.version)


def case_summary(case: Case, version: int | None = None) -> dict:
    return {"id": case.id, "pathway": case.pathway, "version": version, "region": case.region,
            "client_ref": case.client_ref, "status": case.status, "current_steps": list(case.current_steps),
            "has_incident": case.has_incident, "outcome": case.outcome, "started_at": case.started_at,
            "started_by": case.started_by, "ended_at": case.ended_at, "version_no": case.version_no}


def pathway_roles(env: Env, session: Session, case: Case) -> set[str]:
    model = model_for_version(env, session, case.process_version_id)
    return {e.role for e in model.elements.values() if e.role}


def _visible_case(env: Env, s: Session, actor: Principal, case_id: int) -> Case:
    case = s.get(Case, case_id)
    if case is None or not actor.may_see_case(case, pathway_roles(env, s, case)):
        raise NotFoundError(f"case {case_id} not found")  # no hint whether it exists elsewhere
    return case


def get_case(env: Env, actor: Principal, case_id: int, reason: str = "") -> dict:
    """The case with its data, steps, history and documents; the read is access-logged."""
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        case = _visible_case(env, s, actor, case_id)
        version = s.get(ProcessVersion, case.process_version_id)
        model = model_for_version(env, s, case.process_version_id)
        runtime = load_runtime(env, s, case)
        result = case_summary(case, version.version if version else None)
        result["data"] = {k: v for k, v in runtime.data().items() if not k.startswith("_")}
        result["current"] = [{"element_id": sid, "name": model.elements[sid].name if sid in model.elements else sid}
                             for sid in case.current_steps]
        result["open_tasks"] = [_task_brief(t) for t in s.scalars(
            sa.select(Task).where(Task.case_id == case.id, Task.status == "open").order_by(Task.created_at))]
        result["history"] = [{"at": e.at, "actor": e.actor, "kind": e.kind, "element_id": e.element_id,
                              "name": (e.details or {}).get("name"), "details": e.details}
                             for e in s.scalars(sa.select(Event).where(Event.case_id == case.id)
                                                .order_by(Event.at, Event.id))]
        result["documents"] = [{"id": d.id, "kind": d.kind, "version": d.version, "content": d.content,
                                "created_at": d.created_at} for d in s.scalars(
            sa.select(Document).where(Document.case_id == case.id).order_by(Document.kind, Document.version))]
        result["incidents"] = [{"id": i.id, "element_id": i.element_id, "topic": i.topic, "message": i.message,
                                "attempts": i.attempts, "created_at": i.created_at} for i in s.scalars(
            sa.select(Incident).where(Incident.case_id == case.id, Incident.resolved_at.is_(None)))]
        s.add(AccessLog(at=now, username=actor.username, case_id=case.id, client_ref=case.client_ref,
                        action="read_case", reason=reason[:300]))
        uow.commit()
        # the runtime was only read, so it goes back to the cache unchanged
        env.workflows.put(case.id, case.version_no, runtime)
        return result


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
        case = _visible_case(env, s, actor, case_id)
        incidents = list(s.scalars(sa.select(Incident).where(Incident.case_id == case.id,
                                                             Incident.resolved_at.is_(None))))
        if not incidents:
            raise ConflictError(f"case {case_id} has no open incident")
        runtime = load_runtime(env, s, case)
        failing = {i.task_id for i in incidents}
        for call in [c for c in runtime.service_calls() if c.task_id in failing]:
            result = run_handler(env, s, case, call, now, retrying=True)
            if result is not None:
                steps = runtime.complete_service(call.task_id, result)
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
