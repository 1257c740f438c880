"""Small things every page blueprint uses."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ...errors import PolkuError


def requires_role(*roles: str) -> Callable:
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.principal.has(*roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorate


def back(default: str = "inbox.inbox"):
    """Return to the page the action came from (same site only), else a default."""
    target = request.form.get("next") or request.args.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for(default))


def run_action(action: Callable[[], object], success: str, then=None):
    """Do one thing a person asked for; say how it went on the next page (never an error page)."""
    try:
        action()
        flash(success, "success")
    except PolkuError as exc:
        flash_error(exc)
    return then if then is not None else back()


def flash_error(exc: PolkuError) -> None:
    """A conflict or refusal becomes a clear message on the page, never an error page."""
    flash(localized(exc.message), "error")


# Service messages are English; the few a nurse meets daily are translated here.
_KNOWN = {
    "someone else claimed or completed this task just now":
        lambda: _("Someone else claimed or completed this task just now."),
    "the task is not claimed": lambda: _("The task is not claimed."),
}


def localized(message: str) -> str:
    for english, translated in _KNOWN.items():
        if message.startswith(english):
            return translated()
    if message.startswith("this task was already completed by"):
        return _("This task was already completed by %(who)s.", who=message.split(" by ", 1)[1].split(" at ")[0])
    if message.endswith("has already claimed this task") or message.endswith("has claimed this task"):
        return _("%(who)s has already claimed this task.", who=message.split(" ", 1)[0])
    return message
