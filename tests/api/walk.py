"""Staff actions through the HTTP API, as small helpers the scenarios read like prose."""
from __future__ import annotations

import sqlalchemy as sa

from orchestrator.store.models import Document, OutboxMessage

REFERRAL = {"client_ref": "AS-1001", "referral_source": "te_office", "urgency": "normal",
            "reason": "Pitkä työttömyys, väsymys ja selkäkipu.", "consent_to_summary": True}
BOOKING = {"appointment_at": "2026-12-10T09:00", "location": "Keskustan terveysasema", "invitation_channel": "sms"}
PRE = {"workability_score": 4, "health_concerns": ["musculoskeletal", "sleep"], "self_assessment_notes": "Selkä."}


def start(client, region: str = "north", **overrides) -> dict:
    data = {**REFERRAL, **overrides}
    r = client.post("/api/cases", json={"pathway": "unemployed_health_check", "region": region, "data": data})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def open_task(client, case_id: int, element_id: str, scope: str = "role") -> dict:
    items = client.get(f"/api/tasks?scope={scope}&limit=500").get_json()["items"]
    hits = [t for t in items if t["case_id"] == case_id and t["element_id"] == element_id]
    assert len(hits) == 1, f"expected one open {element_id} for case {case_id}, inbox: " + \
        str([(t["case_id"], t["element_id"]) for t in items])
    return hits[0]


def find_task(client, case_id: int, element_id: str) -> dict:
    """The task in the user's role list, or else in their own list (named personally)."""
    for scope in ("role", "mine"):
        items = client.get(f"/api/tasks?scope={scope}&limit=500").get_json()["items"]
        hits = [t for t in items if t["case_id"] == case_id and t["element_id"] == element_id]
        if hits:
            assert len(hits) == 1, hits
            return hits[0]
    raise AssertionError(f"{element_id} of case {case_id} is in neither the role list nor the user's own list")


def do(client, case_id: int, element_id: str, data: dict, claim: bool = True) -> dict:
    task = find_task(client, case_id, element_id)
    if claim:
        r = client.post(f"/api/tasks/{task['id']}/claim", json={})
        assert r.status_code == 200, r.get_json()
    r = client.post(f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def case(client, case_id: int) -> dict:
    r = client.get(f"/api/cases/{case_id}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def rows_of_case(env, model, case_id: int) -> list:
    """The case's outbox messages or documents, oldest first, usable after the session closes."""
    with env.uow() as uow:
        rows = list(uow.session.scalars(sa.select(model).where(model.case_id == case_id).order_by(model.id)))
        uow.session.expunge_all()
        return rows


def outbox(env, case_id: int) -> list[OutboxMessage]:
    return rows_of_case(env, OutboxMessage, case_id)


def documents(env, case_id: int) -> list[Document]:
    return rows_of_case(env, Document, case_id)
