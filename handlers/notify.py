"""Topic ``notify``: queue a message to people; the worker delivers it after commit.

Parameters (``camunda:inputParameter``): exactly one of ``to_role`` (every active user with
that role in the case's region) or ``to`` (``client`` or ``referrer``); ``subject``;
``message``; optional ``channel`` (default: the case's ``invitation_channel`` for the
client, ``email`` for staff); ``share`` = ``true`` when the message carries client data to
another organisation.
"""
from __future__ import annotations

from orchestrator.services.handler_api import HandlerContext, HandlerError, handler


@handler("notify")
def notify(ctx: HandlerContext) -> dict:
    p = ctx.params
    subject = p.get("subject") or "Polku"
    body = p.get("message") or ""
    share = str(p.get("share", "")).strip().lower() == "true"
    if bool(p.get("to_role")) == bool(p.get("to")):
        raise HandlerError("notify needs exactly one of the parameters to_role or to")
    if p.get("to_role"):
        users = ctx.users_with_role(p["to_role"])
        if not users:
            raise HandlerError(f"nobody has the role {p['to_role']!r} in region {ctx.region!r}")
        for username, email in users:
            ctx.send(email or f"user:{username}", subject, body, channel=p.get("channel", "email"),
                     shares_client_data=share)
        return {}
    target = p["to"].strip()
    if target == "client":
        channel = p.get("channel") or ctx.data.get("invitation_channel") or "letter"
        ctx.send(f"client:{ctx.client_ref}", subject, body, channel=channel, shares_client_data=share)
    elif target == "referrer":
        ctx.send(f"user:{ctx.started_by}", subject, body, channel=p.get("channel", "email"),
                 shares_client_data=share)
    else:
        raise HandlerError(f"notify: unknown recipient {target!r} (use client or referrer, or to_role)")
    return {}
