"""Counts for managers, answered from the task index alone (no workflow is loaded)."""
from __future__ import annotations

import sqlalchemy as sa

from ..errors import PermissionDeniedError
from ..store.models import Case, Task
from .cases import latest_version
from .env import Env
from .models_cache import model_for_version
from .principal import Principal

STATS_ROLES = ("manager", "coordinator", "admin", "designer")


def step_counts(env: Env, actor: Principal, pathway: str, region: str | None = None) -> dict:
    """Open tasks per step of the pathway: open, overdue, unassigned; in the actor's regions."""
    if not (actor.has(*STATS_ROLES) or actor.client_roles):
        raise PermissionDeniedError("you may not see statistics")
    now = env.now()
    regions = set(actor.regions) if region is None else {region} & set(actor.regions)
    with env.uow() as uow:
        s = uow.session
        model = model_for_version(env, s, latest_version(s, pathway).id)
        rows = s.execute(
            sa.select(Task.element_id, sa.func.count(),
                      sa.func.sum(sa.case((Task.due_at < now, 1), else_=0)),
                      sa.func.sum(sa.case((Task.assignee.is_(None), 1), else_=0)))
            .where(Task.pathway == pathway, Task.status == "open", Task.region.in_(regions))
            .group_by(Task.element_id))
        steps = {r[0]: {"element_id": r[0], "name": model.elements[r[0]].name if r[0] in model.elements else r[0],
                        "open": r[1], "overdue": int(r[2] or 0), "unassigned": int(r[3] or 0)} for r in rows}
        cases = dict(s.execute(sa.select(Case.status, sa.func.count()).where(
            Case.pathway == pathway, Case.region.in_(regions)).group_by(Case.status)).all())
        incidents = s.scalar(sa.select(sa.func.count()).select_from(Case).where(
            Case.pathway == pathway, Case.region.in_(regions), Case.has_incident.is_(True)))
        return {"pathway": pathway, "regions": sorted(regions), "steps": sorted(steps.values(),
                key=lambda x: x["element_id"]), "cases": {"active": cases.get("active", 0),
                "completed": cases.get("completed", 0), "with_incident": incidents}}
