"""Topic ``notify``: queue a message to people; the worker delivers it after commit.

Parameters (``camunda:inputParameter``): exactly one of ``to_role`` (a role key, or several
comma-separated: every active user with that role in the case's region) or ``to``
(``client``, ``referrer``, ``client_lead`` — the user in case data ``client_lead`` — or
``network`` — the users listed in case data ``network_members``); ``subject``; ``message``;
optional ``channel``; ``share`` = ``true`` when the message carries client data to another
organisation: the system then sends it only to people whose organisation the client's
consent covers, and otherwise sends nothing and raises an incident.
"""
from __future__ import annotations

from orchestrator.services.handler_api import HandlerContext, HandlerError, UserInfo, handler


def named_users(ctx: HandlerContext, field: str) -> list[UserInfo]:
    names = [n.strip() for n in str(ctx.data.get(field) or "").replace(";", ",").split(",") if n.strip()]
    users = []
    for name in names:
        user = ctx.directory.user(name)
        if user is None:
            raise HandlerError(f"user {name!r} (from {field}) does not exist")
        users.append(user)
    return users


@handler("notify")
def notify(ctx: HandlerContext) -> dict:
    p = ctx.params
    subject = p.get("subject") or "Polku"
    body = p.get("message") or ""
    share = str(p.get("share", "")).strip().lower() == "true"
    if bool(p.get("to_role")) == bool(p.get("to")):
        raise HandlerError("notify needs exactly one of the parameters to_role or to")
    if p.get("to_role"):
        recipients: dict[str, UserInfo] = {}
        for role in (r.strip() for r in p["to_role"].split(",") if r.strip()):
            for user in ctx.users_with_role(role):
                recipients.setdefault(user.username, user)
        if not recipients:
            raise HandlerError(f"nobody has the role {p['to_role']!r} in region {ctx.region!r}")
        for user in recipients.values():
            ctx.send_to_user(user, subject, body, channel=p.get("channel", "email"), shares_client_data=share)
        return {}
    target = p["to"].strip()
    if target == "client":
        channel = p.get("channel") or ctx.data.get("invitation_channel") or "letter"
        ctx.send_to_client(subject, body, channel=channel)
        return {}
    if target == "referrer":
        users = [ctx.directory.user(ctx.started_by)]
    elif target == "client_lead":
        users = named_users(ctx, "client_lead")
    elif target == "network":
        users = named_users(ctx, "network_members")
    else:
        raise HandlerError(f"notify: unknown recipient {target!r} (use client, referrer, client_lead, network)")
    for user in users:
        if user is None:
            raise HandlerError("the referrer's account no longer exists")
        ctx.send_to_user(user, subject, body, channel=p.get("channel", "email"), shares_client_data=share)
    return {}
