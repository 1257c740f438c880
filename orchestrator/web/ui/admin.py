"""User administration for the admin role."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ...organisations import ORGANISATIONS
from ...roles import ROLES
from ...services import users
from ..auth import env
from .helpers import requires_role, run_action

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
@requires_role("admin")
def _admins_only():
    return None


@bp.get("/users")
def user_list():
    return render_template("admin_users.html", users=users.list_users(env()), roles=ROLES,
                           regions=users.list_regions(env()), organisations=ORGANISATIONS)


def _done(action, message: str):
    return run_action(action, message, then=redirect(url_for("admin.user_list")))


@bp.post("/users")
def add_user():
    f = request.form
    return _done(lambda: users.add_user(env(), f.get("username", "").strip(), f.get("password", ""),
                                        f.getlist("roles"), f.getlist("regions"), f.get("display_name", ""),
                                        f.get("email") or None, f.get("organisation") or None),
                 _("User added."))


@bp.post("/users/<username>/roles")
def set_roles(username: str):
    return _done(lambda: users.set_roles(env(), username, request.form.getlist("roles"),
                                         request.form.getlist("regions")), _("Roles updated."))


@bp.post("/users/<username>/active")
def set_active(username: str):
    active = request.form.get("active") == "1"
    return _done(lambda: users.set_active(env(), username, active),
                 _("Account enabled.") if active else _("Account disabled."))
