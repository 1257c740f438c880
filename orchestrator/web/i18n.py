"""Languages: Finnish by default, Swedish and English per user (Flask-Babel)."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, request, session
from flask_babel import Babel, format_datetime, get_locale
from flask_login import current_user

LANGUAGES = ("fi", "sv", "en")
babel = Babel()


def select_locale() -> str:
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    if getattr(current_user, "is_authenticated", False):
        from ..services.users import language_of
        from .auth import env
        session["lang"] = language_of(env(), current_user.principal.username)
        return session["lang"]
    return request.accept_languages.best_match(LANGUAGES) or "fi"


def finnish_datetime(value: datetime | None, with_time: bool = True) -> str:
    """Dates the Finnish way (23.11.2026 klo 14.05) in every language, in Helsinki time."""
    if value is None:
        return ""
    return format_datetime(value, "d.M.yyyy H.mm" if with_time else "d.M.yyyy")


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "fi")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Helsinki")
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters["fidate"] = finnish_datetime
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["get_locale"] = get_locale
