"""Sign-in and sign-out pages; the language switch."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ...errors import AuthenticationError
from ...services import users
from ..auth import WebUser, env
from ..i18n import LANGUAGES
from .helpers import back

bp = Blueprint("signin", __name__)


class SignInForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        try:
            principal = users.authenticate(env(), form.username.data.strip(), form.password.data)
        except AuthenticationError as exc:
            error = _("Too many failed sign-ins. Try again later.") if "too many" in exc.message \
                else _("Wrong user name or password.")
        else:
            session.clear()
            session.permanent = True  # idle timeout: PERMANENT_SESSION_LIFETIME, refreshed per request
            login_user(WebUser(principal))
            return redirect(_safe_next() or url_for("inbox.inbox"))
    elif request.method == "POST":
        error = _("Enter your user name and password.")
    return render_template("login.html", form=form, error=error), 401 if error else 200


def _safe_next() -> str | None:
    target = request.args.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else None


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("signin.login"))


@bp.post("/language")
@login_required
def language():
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        users.set_language(env(), current_user.principal.username, lang)
        session["lang"] = lang
    return back()
