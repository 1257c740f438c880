"""Sign-in: session cookie (Flask-Login) or ``Authorization: Bearer <token>``."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user

from ..errors import AuthenticationError, PermissionDeniedError
from ..services import users
from ..services.env import Env
from ..services.principal import Principal
from .schemas import LoginSchema

bp = Blueprint("auth", __name__, url_prefix="/api")
login_manager = LoginManager()


class WebUser(UserMixin):
    def __init__(self, principal: Principal, via_token: bool = False):
        self.principal = principal
        self.via_token = via_token

    def get_id(self) -> str:
        return self.principal.username


def env() -> Env:
    return current_app.extensions["polku"]


def principal() -> Principal:
    """The signed-in principal; routes are ``login_required`` so one always exists."""
    return current_user.principal


@login_manager.user_loader
def _load_user(username: str) -> WebUser | None:
    p = users.cached_principal(env(), username)
    return WebUser(p) if p else None


@login_manager.request_loader
def _load_from_token(req) -> WebUser | None:
    header = req.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        p = users.principal_for_token(env(), header[7:].strip())
        return WebUser(p, via_token=True) if p else None
    return None


@login_manager.unauthorized_handler
def _unauthorized():
    if request.path.startswith("/api/"):
        raise AuthenticationError("sign in first (POST /api/login) or send a bearer token")
    return redirect(url_for("signin.login", next=request.full_path.rstrip("?")))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)

    @app.before_request
    def _cookie_csrf_guard():
        # A browser cannot send JSON or custom headers cross-site without CORS consent, so a
        # cookie-authenticated write must be JSON or carry X-Requested-With.
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.path.startswith("/api/") \
                and request.path != "/api/login" and "Authorization" not in request.headers \
                and not request.is_json and not request.headers.get("X-Requested-With"):
            raise PermissionDeniedError("send JSON (Content-Type: application/json) or the "
                                        "X-Requested-With header with this request")


@bp.post("/login")
def login():
    body = LoginSchema().load(request.get_json(silent=True) or {})
    p = users.authenticate(env(), body["username"], body["password"])
    session.permanent = True  # the same idle timeout as the pages
    login_user(WebUser(p))
    return jsonify(_me(p))


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return jsonify({"signed_out": True})


@bp.get("/me")
@login_required
def me():
    return jsonify(_me(principal()))


def _me(p: Principal) -> dict:
    return {"username": p.username, "roles": sorted(p.roles), "regions": sorted(p.regions)}
