"""Flask app factory: ``create_app(config=None)``."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from flask import Flask, abort, jsonify, send_from_directory
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFProtect

from ..config import instance_secret, load_config
from ..services.env import Env, Settings, bootstrap
from . import api, auth, errors, i18n
from .ui import admin, auth_pages, case_pages, form_data, inbox, manage, task_pages

csrf = CSRFProtect()
VENDOR_PACKAGES = {"bpmn-js", "chart.js"}


class JSONProvider(DefaultJSONProvider):
    @staticmethod
    def default(o):
        if isinstance(o, datetime | date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def settings_from(cfg: dict) -> Settings:
    return Settings(max_upload_bytes=int(cfg["MAX_UPLOAD_BYTES"]), outbox_backend=cfg["OUTBOX_BACKEND"],
                    outbox_log_path=cfg["OUTBOX_LOG_PATH"], smtp_host=cfg["SMTP_HOST"],
                    smtp_port=int(cfg["SMTP_PORT"]), smtp_sender=cfg["SMTP_SENDER"])


def create_app(config: dict | None = None, env: Env | None = None) -> Flask:
    cfg = load_config(config)
    app = Flask(__name__)
    app.json_provider_class = JSONProvider
    app.json = JSONProvider(app)
    app.config.update(cfg)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret()
    # Deploy uploads: the XML limit is checked per file with a clear message; the request
    # itself may carry several files, so allow a little more than one file's limit.
    app.config["MAX_CONTENT_LENGTH"] = int(cfg["MAX_UPLOAD_BYTES"]) * 4
    # Idle timeout: the session cookie lives this long after the last request (refreshed on each).
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=int(cfg["SESSION_IDLE_MINUTES"]))
    app.config["SESSION_REFRESH_EACH_REQUEST"] = True
    app.extensions["polku"] = env or bootstrap(cfg["DATABASE_URL"], settings_from(cfg))
    errors.init_app(app)
    auth.init_app(app)
    app.jinja_env.filters["markdown_lite"] = form_data.markdown_lite
    app.jinja_env.filters["form_rows"] = form_data.rows
    i18n.init_app(app)
    csrf.init_app(app)
    # The JSON API is guarded differently (bearer tokens, or JSON-only writes with the cookie).
    csrf.exempt(auth.bp)
    csrf.exempt(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    for blueprint in (auth_pages.bp, inbox.bp, task_pages.bp, case_pages.bp, admin.bp, manage.bp):
        app.register_blueprint(blueprint)

    vendor = Path(__file__).resolve().parents[2] / "node_modules"

    def vendor_file(filename: str):
        # Only the front-end packages Polku depends on, from node_modules (installed by make).
        if filename.split("/", 1)[0] not in VENDOR_PACKAGES:
            abort(404)
        return send_from_directory(vendor, filename, max_age=86400)

    app.add_url_rule("/vendor/<path:filename>", "vendor", vendor_file)

    @app.get("/healthz")
    def health():
        return jsonify({"status": "ok"})

    return app
