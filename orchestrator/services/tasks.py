"""Use cases on human tasks: the inbox, claim, unclaim, open, complete."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..errors import ConflictError, NotFoundError, PermissionDeniedError, PolkuError, RequestError
from ..store.models import AccessLog, Case, Event, Observation, SavedFilter, Task
from . import measure_counts
from .case_state import load_runtime, save_progress
from .cases import case_summary, check_user_fields
from .env import Env
from .models_cache import model_for_version
from .principal import Principal

SCOPES = ("mine", "role", "unassigned")
SORTS = {"due": (Task.due_at.is_(None), Task.due_at, Task.created_at),
         "created": (Task.created_at,), "-created": (Task.created_at.desc(),)}


DUE_FILTERS = ("overdue", "today", "week")


@dataclass(frozen=True)
class TaskQuery:
    scope: str = "role"
    pathway: str | None = None
    element_id: str | None = None
    sort: str = "due"
    limit: int = 50
    offset: int = 0
    due: str | None = None           # overdue | today | week
    fields: tuple[tuple[str, str], ...] = ()  # listable business fields: (key, value)

    def as_dict(self) -> dict:
        return {"scope": self.scope, "pathway": self.pathway, "step": self.element_id, "sort": self.sort,
                "due": self.due, "fields": dict(self.fields)}


def task_row(t: Task, now=None) -> dict:
    return {"id": t.id, "case_id": t.case_id, "pathway": t.pathway, "element_id": t.element_id,
            "name": t.name, "role": t.role, "region": t.region, "client_ref": t.client_ref,
            "assignee": t.assignee, "candidate_groups": t.candidate_groups, "form_id": t.form_id,
            "status": t.status, "created_at": t.created_at, "due_at": t.due_at,
            "overdue": bool(t.due_at and now and t.status == "open" and t.due_at < now),
            "completed_at": t.completed_at, "completed_by": t.completed_by, "delegated_by": t.delegated_by,
            "listed": t.listed or {}, "has_draft": t.draft is not None}


def list_tasks(env: Env, actor: Principal, query: TaskQuery) -> dict:
    if query.scope not in SCOPES:
        raise RequestError(f"scope must be one of {', '.join(SCOPES)}")
    if query.sort not in SORTS:
        raise RequestError(f"sort must be one of {', '.join(SORTS)}")
    if not 1 <= query.limit <= 500 or query.offset < 0:
        raise RequestError("limit must be 1–500 and offset ≥ 0")
    now = env.now()
    cond = [Task.status == "open"]
    if query.scope == "mine":
        cond.append(Task.assignee == actor.username)
    else:
        cond.append(sa.and_(Task.region.in_(actor.regions), Task.role.in_(actor.client_roles)))
        if query.scope == "unassigned":
            cond.append(Task.assignee.is_(None))
    if query.pathway:
        cond.append(Task.pathway == query.pathway)
    if query.element_id:
        cond.append(Task.element_id == query.element_id)
    if query.due:
        if query.due not in DUE_FILTERS:
            raise RequestError(f"due must be one of {', '.join(DUE_FILTERS)}")
        horizon = {"overdue": now, "today": now + timedelta(days=1), "week": now + timedelta(days=7)}[query.due]
        cond.append(Task.due_at < horizon)
    for key, value in query.fields:
        cond.append(Task.listed[key].as_string() == value)
    with env.uow() as uow:
        s = uow.session
        total = s.scalar(sa.select(sa.func.count()).select_from(Task).where(*cond))
        rows = s.scalars(sa.select(Task).where(*cond).order_by(*SORTS[query.sort], Task.id)
                         .limit(query.limit).offset(query.offset))
        return {"total": total, "limit": query.limit, "offset": query.offset,
                "items": [task_row(t, now) for t in rows]}


def _task_for(s: Session, actor: Principal, task_id: str) -> Task:
    task = s.get(Task, task_id)
    if task is None or not actor.may_see_task(task):
        raise NotFoundError(f"task {task_id} not found")
    return task


def get_task(env: Env, actor: Principal, task_id: str) -> dict:
    """The task with its form and the case data it shows; access-logged."""
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        task = _task_for(s, actor, task_id)
        case = s.get(Case, task.case_id)
        model = model_for_version(env, s, case.process_version_id)
        form = model.forms.get(task.form_id) if task.form_id else None
        result = task_row(task, now)
        result["version_no"] = case.version_no
        result["form"] = form.source if form else None
        result["draft"] = task.draft if task.draft_by == actor.username else None
        if task.status == "open":
            runtime = load_runtime(env, s, case)
            wanted = {f.key for f in form.fields} if form else set()
            data = runtime.data()
            result["data"] = {k: data[k] for k in sorted(data) if not k.startswith("_")}
            result["prefill"] = {k: data[k] for k in wanted if k in data}
            env.workflows.put(case.id, case.version_no, runtime)
        s.add(AccessLog(at=now, username=actor.username, case_id=case.id, client_ref=case.client_ref,
                        action="open_task", reason=f"task {task.element_id}"))
        uow.commit()
        return result


def claim(env: Env, actor: Principal, task_id: str) -> dict:
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        task = _task_for(s, actor, task_id)
        _must_be_open(task)
        if task.assignee == actor.username:
            return task_row(task, now)
        if task.assignee:
            raise ConflictError(f"{task.assignee} has already claimed this task")
        # Conditional update: of two people claiming at once, exactly one wins.
        before = measure_counts.open_task(task)  # the update may refresh ``task`` in place
        done = s.execute(sa.update(Task).where(Task.id == task_id, Task.status == "open",
                                               Task.assignee.is_(None))
                         .values(assignee=actor.username, claimed_at=now))
        if done.rowcount != 1:
            raise ConflictError("someone else claimed or completed this task just now")
        measure_counts.track_task(uow, before, measure_counts.open_task(before, assignee=actor.username))
        s.add(Event(case_id=task.case_id, at=now, actor=actor.username, kind="task_claimed",
                    element_id=task.element_id, task_id=task.id))
        uow.commit()
        s.refresh(task)
        return task_row(task, now)


def unclaim(env: Env, actor: Principal, task_id: str) -> dict:
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        task = _task_for(s, actor, task_id)
        _must_be_open(task)
        if task.assignee != actor.username:
            raise ConflictError("only the person who claimed the task can unclaim it"
                                if task.assignee else "the task is not claimed")
        before = measure_counts.open_task(task)  # the update may refresh ``task`` in place
        done = s.execute(sa.update(Task).where(Task.id == task_id, Task.status == "open",
                                               Task.assignee == actor.username)
                         .values(assignee=None, claimed_at=None))
        if done.rowcount != 1:
            raise ConflictError("the task changed just now; reload it")
        measure_counts.track_task(uow, before, measure_counts.open_task(before, assignee=None))
        s.add(Event(case_id=task.case_id, at=now, actor=actor.username, kind="task_unclaimed",
                    element_id=task.element_id, task_id=task.id))
        uow.commit()
        s.refresh(task)
        return task_row(task, now)


def _must_be_open(task: Task) -> None:
    if task.status == "completed":
        raise ConflictError(f"this task was already completed by {task.completed_by} "
                            f"at {task.completed_at:%Y-%m-%d %H:%M} UTC")
    if task.status != "open":
        raise ConflictError("this task is no longer open (the case moved on)")


def complete(env: Env, actor: Principal, task_id: str, data: dict | None,
             version_no: int | None = None) -> dict:
    """Validate the form data, complete the task, and run the case on to its next waits."""
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        row = s.execute(sa.select(Task, Case).join(Case, Case.id == Task.case_id).where(Task.id == task_id)).first()
        if row is None or not actor.may_see_task(row.Task):
            raise NotFoundError(f"task {task_id} not found")
        task, case = row.Task, row.Case
        _must_be_open(task)
        if task.assignee and task.assignee != actor.username:
            raise ConflictError(f"{task.assignee} has claimed this task")
        if not actor.may_work_on(task):
            raise PermissionDeniedError("you may not complete this task")
        if version_no is not None and version_no != case.version_no:
            raise ConflictError(f"the case has changed since you loaded it (version {version_no}, "
                                f"now {case.version_no}); reload and try again")
        model = model_for_version(env, s, case.process_version_id)
        form = model.forms.get(task.form_id) if task.form_id else None
        cleaned = form.validate(data or {}) if form else {}
        if not form and data:
            raise RequestError("this step has no form; send no data")
        check_user_fields(s, form, cleaned, case.region)
        before = measure_counts.open_task(task)  # the update may refresh ``task`` in place
        done = s.execute(sa.update(Task).where(
            Task.id == task_id, Task.status == "open",
            sa.or_(Task.assignee.is_(None), Task.assignee == actor.username))
            .values(status="completed", completed_at=now, completed_by=actor.username,
                    assignee=actor.username))
        if done.rowcount != 1:
            raise ConflictError("someone else claimed or completed this task just now")
        measure_counts.track_task(uow, before, None)
        runtime = load_runtime(env, s, case)
        # completed_by lets a diagram keep "the coach who met the client" (outputParameter)
        steps = runtime.complete_human(task.engine_task_id, {**cleaned, "completed_by": actor.username})
        observed = {key: float(cleaned[key]) for key in model.measures
                    if isinstance(cleaned.get(key), int | float) and not isinstance(cleaned.get(key), bool)}
        for key, value in observed.items():
            s.add(Observation(case_id=case.id, pathway=case.pathway, region=case.region, key=key, value=value, at=now))
        completed = {"case_id": case.id, "at": now, "actor": actor.username, "kind": "task_completed",
                     "element_id": task.element_id, "task_id": task.id,
                     "details": {"name": task.name, "fields": sorted(cleaned)}}
        save_progress(env, uow, case, runtime, actor.username, steps[1:], now, events=[completed],
                      facts=measure_counts.record_step(case.facts, task.element_id, now, observed))
        uow.commit()
        return case_summary(case)


def open_for_case(env: Env, case_id: int) -> list[dict]:
    """Open tasks of one case, unscoped: for operator tools (demo data, the CLI), never the web."""
    with env.uow() as uow:
        return [task_row(t) for t in uow.session.scalars(
            sa.select(Task).where(Task.case_id == case_id, Task.status == "open").order_by(Task.created_at))]


def form_of(env: Env, task_id: str):
    """The form schema of a task (or None), for operator tools."""
    with env.uow() as uow:
        s = uow.session
        task = s.get(Task, task_id)
        if task is None or not task.form_id:
            return None
        case = s.get(Case, task.case_id)
        return model_for_version(env, s, case.process_version_id).forms.get(task.form_id)



# -- working on someone else's behalf ------------------------------------------------------
def _open_task_for_update(s: Session, actor: Principal, task_id: str) -> Task:
    task = _task_for(s, actor, task_id)
    _must_be_open(task)
    return task


def reassign(env: Env, actor: Principal, task_id: str, to_username: str, *, delegate: bool = False) -> dict:
    """Give the task to a named colleague with the task's role in its region.

    ``delegate`` keeps the actor as the one who can take it back (``take_back``)."""
    from .users import colleagues
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        task = _open_task_for_update(s, actor, task_id)
        if task.assignee and task.assignee != actor.username and not actor.has("coordinator"):
            raise ConflictError(f"{task.assignee} has claimed this task")
        if to_username not in colleagues(env, task.role or "", task.region):
            raise RequestError(f"{to_username} does not have the role {task.role} in region {task.region}")
        before = measure_counts.open_task(task)  # the update may refresh ``task`` in place
        done = s.execute(sa.update(Task).where(Task.id == task_id, Task.status == "open",
                                               Task.assignee.is_not_distinct_from(task.assignee))
                         .values(assignee=to_username, claimed_at=now,
                                 delegated_by=actor.username if delegate else None))
        if done.rowcount != 1:
            raise ConflictError("someone else claimed or completed this task just now")
        measure_counts.track_task(uow, before, measure_counts.open_task(before, assignee=to_username))
        s.add(Event(case_id=task.case_id, at=now, actor=actor.username,
                    kind="task_delegated" if delegate else "task_reassigned", element_id=task.element_id,
                    task_id=task.id, details={"from": task.assignee, "to": to_username}))
        uow.commit()
        s.refresh(task)
        return task_row(task, now)


def take_back(env: Env, actor: Principal, task_id: str) -> dict:
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        task = s.get(Task, task_id)
        if task is None or task.delegated_by != actor.username:
            raise NotFoundError(f"task {task_id} is not delegated by you")
        _must_be_open(task)
        before = measure_counts.open_task(task)  # the update may refresh ``task`` in place
        done = s.execute(sa.update(Task).where(Task.id == task_id, Task.status == "open",
                                               Task.delegated_by == actor.username)
                         .values(assignee=actor.username, delegated_by=None, claimed_at=now))
        if done.rowcount != 1:
            raise ConflictError("the task changed just now; reload it")
        measure_counts.track_task(uow, before, measure_counts.open_task(before, assignee=actor.username))
        s.add(Event(case_id=task.case_id, at=now, actor=actor.username, kind="task_taken_back",
                    element_id=task.element_id, task_id=task.id, details={"from": task.assignee}))
        uow.commit()
        s.refresh(task)
        return task_row(task, now)


def bulk(env: Env, actor: Principal, task_ids: list[str], action: str, to_username: str | None = None) -> dict:
    """Claim or reassign many tasks; each succeeds or fails on its own, with its reason."""
    if action not in ("claim", "reassign"):
        raise RequestError("action must be claim or reassign")
    if action == "reassign" and not to_username:
        raise RequestError("reassigning needs the colleague's user name")
    done, failed = [], {}
    for task_id in dict.fromkeys(task_ids):
        try:
            if action == "claim":
                claim(env, actor, task_id)
            else:
                reassign(env, actor, task_id, to_username or "")
            done.append(task_id)
        except PolkuError as exc:
            failed[task_id] = exc.message
    return {"done": done, "failed": failed}


def save_draft(env: Env, actor: Principal, task_id: str, data: dict) -> dict:
    """Keep what was typed so far (checked for types and limits, not for required fields)."""
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        task = _open_task_for_update(s, actor, task_id)
        if task.assignee and task.assignee != actor.username:
            raise ConflictError(f"{task.assignee} has claimed this task")
        case = s.get(Case, task.case_id)
        model = model_for_version(env, s, case.process_version_id)
        form = model.forms.get(task.form_id) if task.form_id else None
        cleaned = form.validate(data, partial=True) if form else {}
        task.draft, task.draft_by, task.draft_at = cleaned, actor.username, now
        if not task.assignee:  # a draft is the start of work: claim it
            measure_counts.track_task(uow, task, measure_counts.open_task(task, assignee=actor.username))
            task.assignee, task.claimed_at = actor.username, now
        uow.commit()
        return task_row(task, now)


# -- saved filters ---------------------------------------------------------------------------
def save_filter(env: Env, actor: Principal, name: str, query: TaskQuery, shared_role: str | None) -> dict:
    if shared_role and shared_role not in actor.roles:
        raise PermissionDeniedError("you can share a filter only with a role you hold")
    if not name.strip():
        raise RequestError("give the filter a name")
    with env.uow() as uow:
        row = SavedFilter(name=name.strip()[:100], owner=actor.username, shared_role=shared_role or None,
                          query=query.as_dict(), created_at=env.now())
        uow.session.add(row)
        uow.commit()
        return _filter_row(row)


def list_filters(env: Env, actor: Principal) -> list[dict]:
    with env.uow() as uow:
        rows = uow.session.scalars(sa.select(SavedFilter).where(sa.or_(
            SavedFilter.owner == actor.username, SavedFilter.shared_role.in_(actor.roles))).order_by(SavedFilter.name))
        return [_filter_row(r) for r in rows]


def delete_filter(env: Env, actor: Principal, filter_id: int) -> None:
    with env.uow() as uow:
        row = uow.session.get(SavedFilter, filter_id)
        if row is None or row.owner != actor.username:
            raise NotFoundError(f"filter {filter_id} not found among yours")
        uow.session.delete(row)
        uow.commit()


def query_of(saved: dict) -> TaskQuery:
    q = saved["query"]
    return TaskQuery(scope=q.get("scope") or "role", pathway=q.get("pathway"), element_id=q.get("step"),
                     sort=q.get("sort") or "due", due=q.get("due"), fields=tuple((q.get("fields") or {}).items()))


def _filter_row(r: SavedFilter) -> dict:
    return {"id": r.id, "name": r.name, "owner": r.owner, "shared_role": r.shared_role, "query": r.query}
