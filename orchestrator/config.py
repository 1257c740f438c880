"""Configuration: defaults here, overridden by ``POLKU_*`` environment variables and by the
mapping given to ``create_app``. ``DATABASE_URL`` is read under its conventional name."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


class Config:
    DATABASE_URL = "sqlite:///instance/polku.sqlite"
    SECRET_KEY: str | None = None
    MAX_UPLOAD_BYTES = 5 * 1024 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False  # set POLKU_SESSION_COOKIE_SECURE=true behind HTTPS
    REMEMBER_COOKIE_HTTPONLY = True
    OUTBOX_BACKEND = "log"
    OUTBOX_LOG_PATH = "instance/outbox.log"
    SMTP_HOST: str | None = None
    SMTP_PORT = 25
    SMTP_SENDER = "polku@localhost"
    WORKER_INTERVAL_SECONDS = 1.0
    SESSION_IDLE_MINUTES = 30


def load_config(overrides: dict | None = None) -> dict:
    """Defaults, then environment (``POLKU_X`` → ``X``, and ``DATABASE_URL``), then overrides."""
    cfg = {k: getattr(Config, k) for k in dir(Config) if k.isupper()}
    for key, value in os.environ.items():
        if key.startswith("POLKU_") and key[6:] in cfg:
            cfg[key[6:]] = _coerce(value, cfg[key[6:]])
    if os.environ.get("DATABASE_URL"):
        cfg["DATABASE_URL"] = os.environ["DATABASE_URL"]
    cfg.update(overrides or {})
    return cfg


def _coerce(value: str, default: object) -> object:
    if isinstance(default, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return value


def instance_secret(path: str = "instance/secret_key") -> str:
    """A secret key kept beside the SQLite file, made on first start (single-machine default)."""
    p = Path(path)
    if p.exists():
        return p.read_text().strip()
    p.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    p.write_text(key)
    p.chmod(0o600)
    return key
