"""Flask app factory: ``create_app(config=None)``."""
from __future__ import annotations

from datetime import date, datetime

from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider

from ..config import instance_secret, load_config
from ..services.env import Env, Settings, bootstrap
from . import api, auth, errors, pages


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
    app.extensions["polku"] = env or bootstrap(cfg["DATABASE_URL"], settings_from(cfg))
    errors.init_app(app)
    auth.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)

    @app.get("/healthz")
    def health():
        return jsonify({"status": "ok"})

    return app
