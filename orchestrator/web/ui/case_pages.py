"""The case view: where it is, what happened, its documents, links, and the diagram."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_login import login_required

from ...services import cases
from ..auth import env, principal

bp = Blueprint("case_pages", __name__)


@bp.before_request
@login_required
def _signed_in():
    return None


@bp.get("/cases/<int:case_id>")
def case_page(case_id: int):
    reason = request.args.get("reason") or "case view"
    case = cases.get_case(env(), principal(), case_id, reason)
    return render_template("case.html", case=case)


@bp.get("/cases/<int:case_id>/diagram.bpmn")
def diagram(case_id: int):
    return Response(cases.case_bpmn(env(), principal(), case_id), mimetype="application/xml")


@bp.get("/cases/<int:case_id>/documents/<int:document_id>")
def document(case_id: int, document_id: int):
    doc = cases.get_document(env(), principal(), case_id, document_id)
    return render_template("document.html", doc=doc, case_id=case_id)
