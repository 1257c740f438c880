"""One JSON shape for every error: ``{"error": code, "message": text, "details": [...]}``."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from ..errors import PolkuError

log = logging.getLogger("polku.web")


def error_response(status: int, code: str, message: str, details: list | dict | None = None):
    response = jsonify({"error": code, "message": message, "details": details or []})
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(PolkuError)
    def polku_error(exc: PolkuError):
        if wants_html():
            return render_template("error.html", status=exc.status, message=exc.message), exc.status
        return error_response(exc.status, exc.code, exc.message, exc.details())

    @app.errorhandler(ValidationError)
    def bad_request_body(exc: ValidationError):
        details = [{"field": k, "message": "; ".join(v) if isinstance(v, list) else str(v)}
                   for k, v in (exc.messages.items() if isinstance(exc.messages, dict) else [])]
        return error_response(422, "invalid_request", "the request is not valid", details)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_html():
            return render_template("error.html", status=exc.code, message=exc.description), exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error")
        if wants_html():
            return render_template("error.html", status=500, message=None), 500
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")


def wants_html() -> bool:
    """Pages get pages, the API gets JSON."""
    return not request.path.startswith("/api/") and request.path != "/healthz"
