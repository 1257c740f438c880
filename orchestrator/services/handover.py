"""Handover between pathways: one contact, no bouncing.

When a case ends at an end event with ``handover_to``, the next pathway's case starts in the
same transaction, in the same region, for the same client (whose consents, kept per client,
therefore carry over), with the case data the next pathway's start form declares, and the
two cases are linked both ways.
"""
from __future__ import annotations

from datetime import datetime

from ..engine.forms import FormSchema
from ..errors import FormValidationError, NotFoundError
from ..store.models import Case, CaseLink, Event, Incident
from ..store.uow import UnitOfWork
from .env import Env
from .models_cache import model_for_version


def carried_data(form: FormSchema | None, data: dict) -> dict:
    """The old case's values for the fields the next start form declares, where they fit it."""
    if form is None:
        return {}
    carried = {k: data[k] for k in form.keys if k in data and data[k] not in (None, "", [])}
    for _ in range(len(carried) + 1):
        try:
            return form.validate(carried, partial=True)
        except FormValidationError as exc:
            for problem in exc.problems:
                carried.pop(problem.field, None)
    return {}


def hand_over(env: Env, uow: UnitOfWork, case: Case, data: dict, target: str, actor: str, now: datetime) -> None:
    from .cases import latest_version, open_case  # cases → case_state → handover: imported late
    s = uow.session
    try:
        version = latest_version(s, target)
    except NotFoundError as exc:
        s.add(Incident(case_id=case.id, task_id=None, element_id=None, topic="handover",
                       message=f"handover to {target!r} failed: {exc.message}", attempts=1, created_at=now))
        s.add(Event(case_id=case.id, at=now, actor="system", kind="incident",
                    details={"message": f"handover to {target!r} failed: {exc.message}"}))
        return
    model = model_for_version(env, s, version.id)
    values = carried_data(model.start_form, data)
    values["handed_over_from"] = case.id
    starter = actor if actor != "system" else case.started_by
    new = open_case(env, uow, version, model, case.region, case.client_ref, values, starter, now, actor)
    s.add(CaseLink(from_case_id=case.id, to_case_id=new.id, kind="handover", created_at=now))
    s.add(Event(case_id=case.id, at=now, actor=actor, kind="handed_over",
                details={"to_case": new.id, "pathway": target, "carried": sorted(values)}))
