"""The case view: where it is, what happened, its documents, links, and the diagram."""
from __future__ import annotations

from flask import Blueprint, Response, g, render_template, request
from flask_login import login_required

from ...services import cases, deploy, users
from ..auth import env, principal
from . import labels
from .manage import VALUES as OUTCOMES

bp = Blueprint("case_pages", __name__)


@bp.before_request
@login_required
def _signed_in():
    return None


@bp.app_template_filter("region_name")
def region_name(key: str | None) -> str:
    """A region as staff know it (its name), not its key; looked up once per request."""
    if not key:
        return ""
    if "region_names" not in g:
        g.region_names = {r["key"]: r["name"] for r in users.list_regions(env())}
    return g.region_names.get(key, key)


@bp.get("/cases/<int:case_id>")
def case_page(case_id: int):
    reason = request.args.get("reason") or "case view"
    case = cases.get_case(env(), principal(), case_id, reason)
    return render_template("case.html", case=case, **_readable(case))


def _readable(case: dict) -> dict:
    """Names for the codes the case carries: its pathway, region, outcome, and each step id a
    history entry names (from the steps the case itself reports), so no id reaches the page."""
    pathways = {p["process_id"]: p["name"] for p in deploy.list_processes(env())}
    steps: dict[str, str] = {}
    for entry in [*case.get("history", []), *case.get("current", []), *case.get("open_tasks", []),
                  *case.get("messages", []), *case.get("incidents", [])]:
        if entry.get("element_id") and entry.get("name"):
            steps.setdefault(entry["element_id"], entry["name"])
    return {"pathway_name": pathways.get(case["pathway"], case["pathway"]),
            "region_name": region_name(case["region"]),
            "outcome": labels.label(OUTCOMES, case.get("outcome")) if case.get("outcome") else "",
            "step_names": steps, "history_kinds": labels.HISTORY, "actors": labels.ACTORS,
            "documents": labels.DOCUMENTS, "organisations": labels.ORGANISATIONS}


@bp.get("/cases/<int:case_id>/diagram.bpmn")
def diagram(case_id: int):
    return Response(cases.case_bpmn(env(), principal(), case_id), mimetype="application/xml")


@bp.get("/cases/<int:case_id>/documents/<int:document_id>")
def document(case_id: int, document_id: int):
    doc = cases.get_document(env(), principal(), case_id, document_id)
    return render_template("document.html", doc=doc, case_id=case_id, documents=labels.DOCUMENTS)
