"""No case is silently stuck: a case that can never move again becomes an incident on it.

A stuck incident is an ``incidents`` row with no task and no topic (handler incidents always
name their task, a failed handover names its topic); its ``element_id`` is the element the
case completed last. ``save_progress`` calls ``record_stuck`` after every unit of work: it opens
the incident once, keeps it while the case stays where it is, and resolves it when the case
moves on (say, the case was migrated to a corrected version).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..engine.runtime import CaseRuntime
from ..store.models import Case, Event, Incident, ProcessVersion
from .env import Env
from .models_cache import model_for_version

if TYPE_CHECKING:
    from .case_state import StepWrites

log = logging.getLogger("polku.stuck")

# The marker of a stuck incident, in one place.
IS_STUCK = sa.and_(Incident.task_id.is_(None), Incident.topic.is_(None))


def incident_kind(incident: Incident) -> str:
    """``handler`` (a service task's handler failed), ``stuck``, or the topic of another kind (``handover``)."""
    if incident.task_id is not None:
        return "handler"
    return incident.topic or "stuck"


def record_stuck(session: Session, writes: StepWrites, case: Case, runtime: CaseRuntime, failing: set[str | None],
                 actor: str, now: datetime) -> bool:
    """Open, keep or resolve the case's stuck incident; returns whether the case has any open incident.

    ``failing`` is what ``open_incident_tasks`` found open before the step (``None`` stands
    for incidents without a task, the stuck one among them); ``writes`` is the step's batch.
    """
    stuck = None if runtime.completed else runtime.stuck()
    taskless = list(session.scalars(sa.select(Incident).where(
        Incident.case_id == case.id, Incident.task_id.is_(None), Incident.resolved_at.is_(None)))
    ) if None in failing else []
    current = next((i for i in taskless if i.topic is None), None)
    others = bool(failing - {None}) or any(i.topic is not None for i in taskless)
    if current is not None and (stuck is None or current.element_id != stuck.after.element_id):
        current.resolved_at, current.resolved_by = now, actor
        writes.add(Event, case_id=case.id, at=now, actor=actor, kind="incident_resolved",
                   element_id=current.element_id, task_id=None, details={"stuck": True})
        current = None
    if stuck is not None and current is None:
        message = stuck.describe()
        session.add(Incident(case_id=case.id, task_id=None, element_id=stuck.after.element_id, topic=None,
                             message=message, attempts=1, created_at=now))
        writes.add(Event, case_id=case.id, at=now, actor="system", kind="incident",
                   element_id=stuck.after.element_id, task_id=None,
                   details={"message": message, "stuck": True, "name": stuck.after.name,
                            "blocked_at": [w.element_id for w in stuck.blocked_at]})
        log.warning("case %s (%s) is %s", case.id, case.pathway, message)
        return True
    return others or current is not None


def stuck_counts(session: Session, regions: Iterable[str], pathway: str | None = None) -> list[dict]:
    """Active cases with an open stuck incident, per pathway and the element they are stuck after."""
    q = (sa.select(Case.pathway, Incident.element_id, sa.func.count(sa.distinct(Case.id)))
         .join(Case, Case.id == Incident.case_id)
         .where(IS_STUCK, Incident.resolved_at.is_(None), Case.status == "active",
                Case.has_incident.is_(True), Case.region.in_(list(regions)))
         .group_by(Case.pathway, Incident.element_id).order_by(Case.pathway, Incident.element_id))
    if pathway is not None:
        q = q.where(Case.pathway == pathway)
    return [{"pathway": p, "element_id": e, "cases": n} for p, e, n in session.execute(q)]


def stuck_overview(env: Env, regions: Iterable[str]) -> list[dict]:
    """``stuck_counts`` of every pathway, each element named as its latest deployed version names it."""
    with env.uow() as uow:
        s = uow.session
        rows = stuck_counts(s, regions)
        for row in rows:
            latest = s.scalar(sa.select(ProcessVersion.id).where(ProcessVersion.process_id == row["pathway"])
                              .order_by(ProcessVersion.version.desc()).limit(1))
            element = model_for_version(env, s, latest).elements.get(row["element_id"]) if latest else None
            row["name"] = element.name if element else row["element_id"]
        return rows
