"""Counts of a pathway for its staff and managers: what waits at each step (the measure
counts) and cases by status (the case rows); no workflow is loaded."""
from __future__ import annotations

import sqlalchemy as sa

from ..errors import PermissionDeniedError
from ..store.models import Case
from . import measures
from .cases import latest_version
from .env import Env
from .models_cache import model_for_version
from .principal import Principal
from .stuck import stuck_counts

STATS_ROLES = ("manager", "coordinator", "admin", "designer")


def step_counts(env: Env, actor: Principal, pathway: str, region: str | None = None) -> dict:
    """Open tasks per step of the pathway: open, overdue, unassigned; cases by status, and the
    stuck ones by the element they are stuck after; in the actor's regions."""
    if not (actor.has(*STATS_ROLES) or actor.client_roles):
        raise PermissionDeniedError("you may not see statistics")
    now = env.now()
    regions = set(actor.regions) if region is None else {region} & set(actor.regions)
    with env.uow() as uow:
        s = uow.session
        model = model_for_version(env, s, latest_version(s, pathway).id)
        steps = measures.open_steps(s, frozenset(regions), pathway, now)
        for step in steps.values():
            element = model.elements.get(step["element_id"])
            step["name"] = element.name if element else step["element_id"]
        cases = dict(s.execute(sa.select(Case.status, sa.func.count()).where(
            Case.pathway == pathway, Case.region.in_(regions)).group_by(Case.status)).all())
        incidents = s.scalar(sa.select(sa.func.count()).select_from(Case).where(
            Case.pathway == pathway, Case.region.in_(regions), Case.has_incident.is_(True)))
        stuck = stuck_counts(s, regions, pathway)
        for row in stuck:
            element = model.elements.get(row["element_id"])
            row["name"] = element.name if element else row["element_id"]
        return {"pathway": pathway, "regions": sorted(regions), "steps": list(steps.values()),
                "cases": {"active": cases.get("active", 0), "completed": cases.get("completed", 0),
                          "with_incident": incidents},
                "stuck_cases": sum(r["cases"] for r in stuck),
                "stuck": [{k: r[k] for k in ("element_id", "name", "cases")} for r in stuck]}
