"""Consent as a hard gate: records, the coverage check, and withdrawal that stops sharing at once."""
from __future__ import annotations

from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..engine.expressions import HELSINKI
from ..errors import ConflictError, NotFoundError, RequestError
from ..organisations import ORGANISATIONS
from ..store.models import Case, Consent, Event, OutboxMessage
from .env import Env
from .principal import Principal


def check_organisations(organisations: list[str]) -> list[str]:
    unknown = [o for o in organisations if o not in ORGANISATIONS]
    if unknown:
        raise RequestError(f"unknown organisation(s) {', '.join(unknown)}; known: {', '.join(ORGANISATIONS)}")
    return list(dict.fromkeys(organisations))


def end_of_day(value: str | date | datetime | None) -> datetime | None:
    """A consent 'valid until 2027-06-30' is valid through that Finnish day."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return datetime.combine(day, time(23, 59, 59), HELSINKI)


def valid_consents(session: Session, client_ref: str, now: datetime) -> list[Consent]:
    return list(session.scalars(sa.select(Consent).where(
        Consent.client_ref == client_ref, Consent.withdrawn_at.is_(None), Consent.given_at <= now,
        sa.or_(Consent.valid_until.is_(None), Consent.valid_until >= now)).order_by(Consent.id)))


def covers(session: Session, client_ref: str, organisation: str | None, now: datetime) -> bool:
    """Does a valid, unwithdrawn consent of this client cover this organisation now?"""
    if not organisation:
        return False
    return any(organisation in (c.organisations or []) for c in valid_consents(session, client_ref, now))


def add_consent(session: Session, case: Case, organisations: list[str], given_by: str,
                valid_until: datetime | None, recorded_by: str, now: datetime) -> Consent:
    consent = Consent(client_ref=case.client_ref, case_id=case.id, organisations=check_organisations(organisations),
                      given_by=given_by or "asiakas", given_at=now, valid_until=valid_until,
                      recorded_by=recorded_by)
    session.add(consent)
    session.flush()
    session.add(Event(case_id=case.id, at=now, actor=recorded_by, kind="consent_recorded",
                      details={"consent_id": consent.id, "organisations": consent.organisations,
                               "valid_until": valid_until.isoformat() if valid_until else None}))
    return consent


def record_consent(env: Env, actor: Principal, case_id: int, organisations: list[str], given_by: str,
                   valid_until: str | None) -> dict:
    """Record a consent given outside a pathway step (e.g. a signed Y100 brought in later)."""
    from .cases import visible_case
    now = env.now()
    with env.uow() as uow:
        case = visible_case(env, uow.session, actor, case_id)
        consent = add_consent(uow.session, case, organisations, given_by, end_of_day(valid_until),
                              actor.username, now)
        uow.commit()
        return consent_row(consent, now)


def withdraw(env: Env, actor: Principal, case_id: int, consent_id: int) -> dict:
    """Withdraw a consent: every pending message of this client that shares data is cancelled now."""
    from .cases import visible_case
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        case = visible_case(env, s, actor, case_id)
        consent = s.get(Consent, consent_id)
        if consent is None or consent.client_ref != case.client_ref:
            raise NotFoundError(f"consent {consent_id} not found on case {case_id}")
        if consent.withdrawn_at is not None:
            raise ConflictError(f"consent {consent_id} was already withdrawn at {consent.withdrawn_at:%Y-%m-%d %H:%M}")
        consent.withdrawn_at, consent.withdrawn_by = now, actor.username
        client_cases = list(s.scalars(sa.select(Case.id).where(Case.client_ref == case.client_ref)))
        cancelled = s.execute(sa.update(OutboxMessage).where(
            OutboxMessage.case_id.in_(client_cases), OutboxMessage.shares_client_data.is_(True),
            OutboxMessage.status.in_(("pending", "sending"))).values(status="cancelled", lease_until=None)).rowcount
        for cid in client_cases:
            s.add(Event(case_id=cid, at=now, actor=actor.username, kind="consent_withdrawn",
                        details={"consent_id": consent.id, "cancelled_messages": cancelled}))
        uow.commit()
        return {**consent_row(consent, now), "cancelled_messages": cancelled}


def consent_row(c: Consent, now: datetime) -> dict:
    valid = c.withdrawn_at is None and (c.valid_until is None or c.valid_until >= now)
    return {"id": c.id, "organisations": c.organisations, "given_by": c.given_by, "given_at": c.given_at,
            "valid_until": c.valid_until, "recorded_by": c.recorded_by, "withdrawn_at": c.withdrawn_at,
            "withdrawn_by": c.withdrawn_by, "valid": valid}
