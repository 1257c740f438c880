"""What a client may ask under the Client Data Act: who accessed their data, and when."""
from __future__ import annotations

import sqlalchemy as sa

from ..store.models import AccessLog, Case
from .env import Env


def access_report(env: Env, client_ref: str) -> list[dict]:
    with env.uow() as uow:
        rows = uow.session.execute(
            sa.select(AccessLog, Case.pathway).outerjoin(Case, Case.id == AccessLog.case_id)
            .where(AccessLog.client_ref == client_ref).order_by(AccessLog.at, AccessLog.id))
        return [{"at": a.at, "username": a.username, "case_id": a.case_id, "pathway": pathway,
                 "action": a.action, "reason": a.reason} for a, pathway in rows]
