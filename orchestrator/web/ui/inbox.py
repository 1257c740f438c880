"""The inbox: my tasks, my roles' tasks in my regions, unassigned; actions on tasks."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ...errors import PolkuError
from ...services import deploy, tasks, users
from ..auth import env, principal
from .helpers import back, flash_error, run_action

bp = Blueprint("inbox", __name__)
PAGE_SIZE = 25


@bp.before_request
@login_required
def _signed_in():
    return None


def _query_from_args() -> tasks.TaskQuery:
    a = request.args
    view = a.get("view", "role")
    fields = tuple((k[2:], v) for k, v in a.items() if k.startswith("f_") and v)
    page = max(int(a.get("page", "1")) if a.get("page", "1").isdigit() else 1, 1)
    return tasks.TaskQuery(scope=view if view in tasks.SCOPES else "role", pathway=a.get("pathway") or None,
                           element_id=a.get("step") or None, sort=a.get("sort") if a.get("sort") in tasks.SORTS else "due",
                           due=a.get("due") if a.get("due") in tasks.DUE_FILTERS else None, fields=fields,
                           limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)


@bp.get("/")
def home():
    return redirect(url_for("inbox.inbox"))


@bp.get("/inbox")
def inbox():
    me = principal()
    saved = tasks.list_filters(env(), me)
    if request.args.get("filter", "").isdigit():
        chosen = next((f for f in saved if f["id"] == int(request.args["filter"])), None)
        query = tasks.query_of(chosen) if chosen else _query_from_args()
    else:
        query = _query_from_args()
    result = tasks.list_tasks(env(), me, query)
    page = query.offset // PAGE_SIZE + 1
    pages = max((result["total"] + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    processes = deploy.list_processes(env())
    listable = sorted({k for t in result["items"] for k in t["listed"]} | {k for k, _v in query.fields})
    teams = {(t["role"] or "", t["region"]) for t in result["items"]}
    team = {key: [u for u in users.colleagues(env(), *key) if u != me.username] for key in teams}
    colleagues_by_task = {t["id"]: team[(t["role"] or "", t["region"])] for t in result["items"]}
    labels = deploy.option_labels(env(), {t["pathway"] for t in result["items"]})
    for t in result["items"]:
        t["listed_labels"] = [labels.get((t["pathway"], k, str(v)), v) for k, v in t["listed"].items()]
    return render_template("inbox.html", result=result, query=query, page=page, pages=pages, saved=saved,
                           processes=processes, listable=listable, colleagues=colleagues_by_task,
                           counts={v: tasks.list_tasks(env(), me, tasks.TaskQuery(scope=v, limit=1))["total"]
                                   for v in tasks.SCOPES})


@bp.post("/inbox/tasks/<task_id>/claim")
def claim(task_id: str):
    return run_action(lambda: tasks.claim(env(), principal(), task_id), _("Task claimed."))


@bp.post("/inbox/tasks/<task_id>/unclaim")
def unclaim(task_id: str):
    return run_action(lambda: tasks.unclaim(env(), principal(), task_id), _("Task returned to the shared list."))


@bp.post("/inbox/tasks/<task_id>/reassign")
def reassign(task_id: str):
    to = request.form.get("to", "")
    delegate = request.form.get("delegate") == "1"
    return run_action(lambda: tasks.reassign(env(), principal(), task_id, to, delegate=delegate),
                _("Task delegated to %(who)s.", who=to) if delegate else _("Task given to %(who)s.", who=to))


@bp.post("/inbox/tasks/<task_id>/take-back")
def take_back(task_id: str):
    return run_action(lambda: tasks.take_back(env(), principal(), task_id), _("Task taken back."))


@bp.post("/inbox/bulk")
def bulk():
    ids = request.form.getlist("task")
    if not ids:
        flash(_("Select tasks first."), "error")
        return back()
    try:
        result = tasks.bulk(env(), principal(), ids, request.form.get("action", ""), request.form.get("to") or None)
    except PolkuError as exc:
        flash_error(exc)
        return back()
    if result["done"]:
        flash(_("%(n)d task(s) done.", n=len(result["done"])), "success")
    for reason in dict.fromkeys(result["failed"].values()):
        flash(reason, "error")
    return back()


@bp.post("/inbox/filters")
def save_filter():
    me = principal()
    query = _query_from_post()
    role = request.form.get("shared_role") or None
    return run_action(lambda: tasks.save_filter(env(), me, request.form.get("name", ""), query, role),
                _("Filter saved."))


def _query_from_post() -> tasks.TaskQuery:
    f = request.form
    fields = tuple((k[2:], v) for k, v in f.items() if k.startswith("f_") and v)
    return tasks.TaskQuery(scope=f.get("view") if f.get("view") in tasks.SCOPES else "role",
                           pathway=f.get("pathway") or None, element_id=f.get("step") or None,
                           sort=f.get("sort") if f.get("sort") in tasks.SORTS else "due",
                           due=f.get("due") if f.get("due") in tasks.DUE_FILTERS else None, fields=fields)


@bp.post("/inbox/filters/<int:filter_id>/delete")
def delete_filter(filter_id: int):
    return run_action(lambda: tasks.delete_filter(env(), principal(), filter_id), _("Filter removed."))
