"""Topics ``consent`` and ``invite``: record the client's consent; invite network members.

``consent`` parameters name the FORM FIELDS that hold the consent: ``given`` (yes/no or a
checkbox), ``organisations`` (a checklist of organisation keys) or ``organisation_keys`` (a
literal comma-separated list; ``referrer`` = the referrer's organisation), ``valid_until``
(a date field), ``given_by`` (a text field). Nothing is recorded when consent was not given.

``invite``: ``members`` names the field with comma-separated user names; each must be an
active user of the case's region whose organisation the client's consent covers — otherwise
the step is refused and the coordinator is told which member and why.
"""
from __future__ import annotations

from orchestrator.services.handler_api import HandlerContext, HandlerError, HandlerRefusal, handler


def _given(value: object) -> bool:
    return value is True or str(value).strip().lower() in ("yes", "true", "kyllä")


@handler("consent")
def consent(ctx: HandlerContext) -> dict:
    p = ctx.params
    if not p.get("given"):
        raise HandlerError("consent needs the parameter 'given' (the field that says yes/no)")
    if not _given(ctx.data.get(p["given"])):
        return {"consent_recorded": False}
    if p.get("organisations"):
        organisations = list(ctx.data.get(p["organisations"]) or [])
    else:
        organisations = [o.strip() for o in (p.get("organisation_keys") or "").split(",") if o.strip()]
    if "referrer" in organisations:
        referrer = ctx.directory.user(ctx.started_by)
        organisations = [o for o in organisations if o != "referrer"]
        if referrer is None or not referrer.organisation:
            raise HandlerRefusal(f"the consent is to cover the referrer's organisation, but the account "
                                 f"{ctx.started_by!r} has no organisation; an administrator must set it first")
        organisations.append(referrer.organisation)
    if not organisations:
        raise HandlerRefusal("the consent names no organisation; tick the organisations it covers",
                             field=p.get("organisations"))
    ctx.record_consent(organisations, str(ctx.data.get(p.get("given_by", ""), "") or "asiakas"),
                       ctx.data.get(p.get("valid_until", "")) or None)
    return {"consent_recorded": True}


@handler("invite")
def invite(ctx: HandlerContext) -> dict:
    p = ctx.params
    field = p.get("members") or "network_members"
    names = [n.strip() for n in str(ctx.data.get(field) or "").replace(";", ",").split(",") if n.strip()]
    if not names:
        raise HandlerRefusal("name at least one network member to invite", field=field)
    problems = []
    members = []
    for name in names:
        user = ctx.directory.user(name)
        if user is None or ctx.region not in user.regions:
            problems.append(f"{name} is not a user in region {ctx.region}")
        elif not ctx.directory.consent_covers(user.organisation):
            org = user.organisation or "no organisation"
            problems.append(f"the client's consent does not cover {name}'s organisation ({org})")
        else:
            members.append(user)
    if problems:
        raise HandlerRefusal("; ".join(problems), field=field)
    for user in members:
        ctx.send_to_user(user, p.get("subject") or "Kutsu verkostoon", p.get("message") or "",
                         shares_client_data=True)
    return {"invited": [u.username for u in members]}
