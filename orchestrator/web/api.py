"""The JSON API: thin routes that parse, call one service, and answer."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask_login import login_required

from ..errors import RequestError
from ..services import cases, consent, deploy, measures, messages, stats, tasks
from .auth import env, principal
from .schemas import (
    ClientLeadSchema,
    CompleteTaskSchema,
    ConsentSchema,
    DeploySchema,
    MeasureQuerySchema,
    MessageSchema,
    StartCaseSchema,
    TaskQuerySchema,
)

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
@login_required
def _signed_in():
    return None


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    return body


# -- processes -------------------------------------------------------------------------
@bp.get("/processes")
def list_processes():
    return jsonify(deploy.list_processes(env()))


@bp.post("/processes")
def deploy_processes():
    if request.files:
        files = {f.filename or "upload": f.read() for f in request.files.getlist("files")
                 or list(request.files.values())}
    else:
        files = {k: v.encode() for k, v in DeploySchema().load(_json_body())["files"].items()}
    bpmn = {k: v for k, v in files.items() if k.endswith(".bpmn")}
    forms = {k: v for k, v in files.items() if k.endswith(".form")}
    other = sorted(set(files) - set(bpmn) - set(forms))
    if other:
        raise RequestError(f"only .bpmn and .form files can be deployed, not {', '.join(other)}")
    result = deploy.deploy(env(), principal(), bpmn, forms)
    changed = any(d.changed for d in result)
    return jsonify([d.as_dict() for d in result]), 201 if changed else 200


@bp.get("/processes/<process_id>/bpmn")
def process_bpmn(process_id: str):
    return Response(deploy.process_xml(env(), process_id), mimetype="application/xml")


# -- cases -----------------------------------------------------------------------------
@bp.post("/cases")
def start_case():
    body = StartCaseSchema().load(_json_body())
    case = cases.start_case(env(), principal(), body["pathway"], body["region"], body["data"],
                            body.get("client_ref"))
    return jsonify(case), 201


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int):
    return jsonify(cases.get_case(env(), principal(), case_id, request.args.get("reason", "")))


@bp.post("/cases/<int:case_id>/retry")
def retry(case_id: int):
    return jsonify(cases.retry_incidents(env(), principal(), case_id))


@bp.post("/cases/<int:case_id>/consents")
def record_consent(case_id: int):
    body = ConsentSchema().load(_json_body())
    result = consent.record_consent(env(), principal(), case_id, body["organisations"], body["given_by"],
                                    body.get("valid_until"))
    return jsonify(result), 201


@bp.post("/cases/<int:case_id>/consents/<int:consent_id>/withdraw")
def withdraw_consent(case_id: int, consent_id: int):
    return jsonify(consent.withdraw(env(), principal(), case_id, consent_id))


@bp.post("/cases/<int:case_id>/client-lead")
def change_client_lead(case_id: int):
    body = ClientLeadSchema().load(_json_body())
    return jsonify(cases.change_client_lead(env(), principal(), case_id, body["username"], body.get("reason", "")))


# -- messages --------------------------------------------------------------------------
@bp.post("/messages")
def send_message():
    body = MessageSchema().load(_json_body())
    return jsonify(messages.send_message(env(), principal(), body["name"], body["data"], case_id=body.get("case_id"),
                                         client_ref=body.get("client_ref"), pathway=body.get("pathway")))


# -- tasks -----------------------------------------------------------------------------
@bp.get("/tasks")
def list_tasks():
    q = TaskQuerySchema().load(request.args)
    query = tasks.TaskQuery(scope=q["scope"], pathway=q.get("pathway"), element_id=q.get("step"),
                            sort=q["sort"], limit=q["limit"], offset=q["offset"])
    return jsonify(tasks.list_tasks(env(), principal(), query))


@bp.get("/tasks/<task_id>")
def get_task(task_id: str):
    return jsonify(tasks.get_task(env(), principal(), task_id))


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str):
    return jsonify(tasks.claim(env(), principal(), task_id))


@bp.post("/tasks/<task_id>/unclaim")
def unclaim(task_id: str):
    return jsonify(tasks.unclaim(env(), principal(), task_id))


@bp.post("/tasks/<task_id>/complete")
def complete(task_id: str):
    body = CompleteTaskSchema().load(_json_body())
    return jsonify(tasks.complete(env(), principal(), task_id, body["data"], body.get("version_no")))


# -- statistics ------------------------------------------------------------------------
@bp.get("/stats/<pathway>")
def step_counts(pathway: str):
    return jsonify(stats.step_counts(env(), principal(), pathway, request.args.get("region")))


# -- measures for managers -----------------------------------------------------------------------
def _scope():
    q = MeasureQuerySchema().load(request.args)
    return measures.scope_for(principal(), q.get("region"), q.get("start"), q.get("end"), q.get("pathway"),
                              env().now())


@bp.get("/measures")
def all_measures():
    scope = _scope()
    tables = measures.all_measures(env(), scope, env().now())
    return jsonify({"regions": sorted(scope.regions), "start": scope.start, "end": scope.end,
                    "small_cell": measures.SMALL_CELL, "tables": [t.as_dict() for t in tables]})


@bp.get("/measures/<name>.csv")
def measure_csv(name: str):
    table = measures.measure(env(), _scope(), name, env().now())
    return Response(table.csv(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="polku-{name}.csv"'})


@bp.get("/stats/<pathway>/overview")
def step_overview(pathway: str):
    return jsonify(measures.step_overview(env(), principal(), pathway, request.args.get("region"), env().now()))


@bp.get("/stats/<pathway>/steps/<element_id>/tasks")
def step_tasks(pathway: str, element_id: str):
    return jsonify(measures.step_tasks(env(), principal(), pathway, element_id, request.args.get("region"),
                                       env().now()))
