"""Topics ``consent`` and ``invite``: record the client's consent; invite network members.

``consent`` parameters name the FORM FIELDS that hold the consent (declared below). Nothing
is recorded when consent was not given.

``invite``: each member must be an active user of the case's region whose organisation the
client's consent covers — otherwise the step is refused and the coordinator is told which
member and why.
"""
from __future__ import annotations

from orchestrator.services.handler_api import (
    Choice,
    HandlerContext,
    HandlerError,
    HandlerRefusal,
    Param,
    handler,
)


def _given(value: object) -> bool:
    return value is True or str(value).strip().lower() in ("yes", "true", "kyllä")


@handler(
    "consent",
    doc="Record the client's consent to share their data with the named organisations (Kela Y100). "
        "The parameters name the form fields that hold it; nothing is recorded when consent was not "
        "given.",
    params=[
        Param("given", "field", required=True, doc="the field that says whether consent was given "
              "(a checkbox, or yes/no)"),
        Param("organisations", "field", doc="the checklist field of the organisation keys it covers"),
        Param("organisation_keys", "organisations", doc="the organisations it covers, when they are "
              "fixed by the pathway rather than ticked in a form", choices=(Choice("referrer", "the organisation of the user "
                                                            "who started the case"),)),
        Param("valid_until", "field", doc="the date field until which the consent is valid"),
        Param("given_by", "field", doc="the text field naming who gave it (without it: asiakas, the client)"),
    ],
    one_of=[("organisations", "organisation_keys")],
    sets=["consent_recorded"],
    example={"given": "consent_given", "organisation_keys": "referrer,health_centre"},
)
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


@handler(
    "invite",
    doc="Invite network members: each must be an active user of the case's region whose organisation "
        "the client's consent covers, otherwise the step is refused and the person completing it is told "
        "which member and why.",
    params=[
        Param("members", "field", default="network_members",
              doc="the field holding the members' user names, comma-separated"),
        Param("subject", "text", doc="the invitation's subject line", default="Kutsu verkostoon"),
        Param("message", "text", doc="the invitation text"),
    ],
    sets=["invited"],
    example={"members": "network_members", "subject": "Kutsu verkostopalaveriin",
             "message": "Sinut on kutsuttu asiakkaan $client_ref verkostopalaveriin."},
)
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
