"""Topic ``notify``: queue a message to people; the worker delivers it after commit.

The parameters are declared on the handler below (deploy checks them; the designer guide
lists them). ``share = true`` makes the system send only to people whose organisation the
client's consent covers, and otherwise send nothing and raise an incident.
"""
from __future__ import annotations

from orchestrator.roles import role_for_name
from orchestrator.services.handler_api import Choice, HandlerContext, HandlerError, Param, UserInfo, handler


def named_users(ctx: HandlerContext, field: str) -> list[UserInfo]:
    names = [n.strip() for n in str(ctx.data.get(field) or "").replace(";", ",").split(",") if n.strip()]
    users = []
    for name in names:
        user = ctx.directory.user(name)
        if user is None:
            raise HandlerError(f"user {name!r} (from {field}) does not exist")
        users.append(user)
    return users


@handler(
    "notify",
    doc="Send a message to staff or to the client. The worker delivers it after the step is saved; "
        "a failure to find anyone to send to becomes an incident on the case.",
    params=[
        Param("to_role", "roles", doc="every active user with this role in the case's region "
              "(several roles comma-separated)"),
        Param("to", "choice", doc="a recipient named by the case", choices=(
            Choice("client", "the client, by letter unless channel (or case data invitation_channel) says "
                   "otherwise"),
            Choice("referrer", "the user who started the case"),
            Choice("client_lead", "the user named in case data client_lead", reads="client_lead"),
            Choice("network", "the users named in case data network_members (comma-separated user names)",
                   reads="network_members"))),
        Param("subject", "text", doc="the subject line", default="Polku"),
        Param("message", "text", doc="the message text"),
        Param("channel", "choice", doc="how it is sent", default="email (letter to the client)", choices=(
            Choice("email", "e-mail"), Choice("sms", "text message"), Choice("letter", "letter"))),
        Param("share", "boolean", default="false",
              doc="true when the message carries client data to another organisation: it then goes "
                  "only to people whose organisation the client's consent covers"),
    ],
    one_of=[("to_role", "to")],
    example={"to_role": "nurse", "subject": "Uusi lähete",
             "message": "Uusi lähete: asiakas $client_ref. Varaa aika ja lähetä kutsu."},
)
def notify(ctx: HandlerContext) -> dict:
    p = ctx.params
    subject = p.get("subject") or "Polku"
    body = p.get("message") or ""
    share = str(p.get("share", "")).strip().lower() == "true"
    if bool(p.get("to_role")) == bool(p.get("to")):
        raise HandlerError("notify needs exactly one of the parameters to_role or to")
    if p.get("to_role"):
        recipients: dict[str, UserInfo] = {}
        for name in (r.strip() for r in p["to_role"].split(",") if r.strip()):
            # a title works as in a lane name ("Terveydenhoitaja" = nurse); deploy checked it names a role
            for user in ctx.users_with_role(role_for_name(name) or name):
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
