"""Doing a task: the step's form, rendered from its form-js schema and checked on the server."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ...errors import ConflictError, ExecutionError, FormValidationError, NotFoundError, PolkuError
from ...services import tasks
from ..auth import env, principal
from .form_data import components, defaults, posted_data
from .helpers import flash_error, localized

bp = Blueprint("task_pages", __name__)


@bp.before_request
@login_required
def _signed_in():
    return None


def _render(task_id: str, values: dict | None = None, errors: dict | None = None, message: str | None = None,
            status: int = 200):
    try:
        task = tasks.get_task(env(), principal(), task_id)
    except NotFoundError:
        flash(_("That task is not in your lists any more."), "error")
        return redirect(url_for("inbox.inbox"))
    schema = tasks.form_of(env(), task_id)
    items = components(schema)
    shown = values if values is not None else {**defaults(items), **(task.get("draft") or task.get("prefill") or {})}
    return render_template("task.html", task=task, components=items, values=shown,
                           errors=errors or {}, message=message), status


@bp.get("/tasks/<task_id>")
def task_page(task_id: str):
    return _render(task_id)


@bp.post("/tasks/<task_id>")
def submit(task_id: str):
    schema = tasks.form_of(env(), task_id)
    data = posted_data(schema, request.form)
    action = request.form.get("action", "complete")
    version = request.form.get("version_no", "")
    try:
        if action == "draft":
            tasks.save_draft(env(), principal(), task_id, data)
            flash(_("Draft saved."), "success")
            return redirect(url_for("task_pages.task_page", task_id=task_id))
        if action == "claim":
            tasks.claim(env(), principal(), task_id)
            return redirect(url_for("task_pages.task_page", task_id=task_id))
        tasks.complete(env(), principal(), task_id, data, int(version) if version.isdigit() else None)
    except FormValidationError as exc:
        errors = {p.field: p.message for p in exc.problems if p.field}
        return _render(task_id, values=data, errors=errors, status=422,
                       message=_("Check the fields marked below. Nothing was saved."))
    except ConflictError as exc:
        flash_error(exc)
        return redirect(url_for("inbox.inbox"))
    except ExecutionError as exc:
        return _render(task_id, values=data, status=422, message=localized(exc.message))
    except PolkuError as exc:
        return _render(task_id, values=data, status=exc.status, message=localized(exc.message))
    flash(_("Task completed."), "success")
    return redirect(url_for("inbox.inbox"))
