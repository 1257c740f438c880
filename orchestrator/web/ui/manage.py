"""The manager view: each pathway's diagram as a live heatmap of where the work waits, the
uniform measures as tables (each with its CSV), and two charts. Counts, durations and
pseudonymous lists only — never a client's name or reference."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from ...errors import RequestError
from ...services import deploy, measures, users
from ...services.stuck import stuck_overview
from ..auth import env, principal
from .helpers import requires_role
from .labels import MILESTONES, label

bp = Blueprint("manage", __name__)

# Pathway-specific measures: shown with their own pathway, the rest tucked under "other pathways".
ONLY_FOR = {"health_checks": "unemployed_health_check", "ips_outcomes": measures.IPS,
            "caseloads": measures.IPS, "first_contact": measures.IPS,
            "consultations": "work_ability_network"}

TITLES = {
    "flow": _l("Cases started and closed per month"),
    "milestones": _l("Time from start to milestone (days)"),
    "outcomes": _l("Cases closed by outcome"),
    "health_checks": _l("Unemployed health checks done per month"),
    "ips_outcomes": _l("IPS clients by outcome"),
    "consultations": _l("Consultations and network assessments"),
    "score_change": _l("Work-ability score, first vs latest"),
    "caseloads": _l("IPS caseload per job coach (limit %(n)d)", n=measures.IPS_CASELOAD_LIMIT),
    "first_contact": _l("IPS: days from first meeting to first employer contact (target %(n)d)",
                        n=measures.FIRST_CONTACT_DAYS),
    "open_work": _l("Open tasks with no owner, and overdue, by step and region"),
}

COLUMNS = {
    "pathway": _l("Pathway"), "month": _l("Month"), "started": _l("Started"), "closed": _l("Closed"),
    "milestone": _l("Milestone"), "cases": _l("Cases"), "median": _l("Median"), "p90": _l("90th percentile"),
    "outcome": _l("Outcome"), "done": _l("Done"), "clients": _l("Clients"), "kind": _l("Kind"),
    "mean first": _l("Mean first"), "mean latest": _l("Mean latest"), "mean change": _l("Mean change"),
    "job coach": _l("Job coach"), "active clients": _l("Active clients"), "over the limit": _l("Over the limit"),
    f"within {measures.FIRST_CONTACT_DAYS} days": _l("Within %(n)d days", n=measures.FIRST_CONTACT_DAYS),
    "step": _l("Step"), "region": _l("Region"), "open": _l("Open"), "no owner": _l("No owner"),
    "overdue": _l("Overdue"),
}

# Fixed values the measures put in cells (outcome codes of the end events, row labels).
VALUES = {
    "done": _l("done"), "handed_over": _l("handed over"), "returned_to_referrer": _l("returned to referrer"),
    "no_consent": _l("no consent"), "consultation_only": _l("consultation only"), "withdrew": _l("withdrew"),
    "paid_work": _l("paid work"), "fee_paid_work": _l("fee-paid work"), "studies": _l("studies"),
    "other": _l("other"), "consultations": _l("consultations"),
    "consultation was enough": _l("consultation was enough"),
    "network assessments (meeting held)": _l("network assessments (meeting held)"),
}


@bp.before_request
@login_required
@requires_role(*measures.MEASURE_ROLES)
def _managers_only():
    return None


def _date(name: str, problems: list[str]) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(_("%(value)s is not a date; the default period is shown.", value=value))
        return None


@bp.get("/manage")
def manage():
    me, now = principal(), env().now()
    processes = deploy.list_processes(env())
    if not processes:
        abort(404)
    names = {p["process_id"]: p["name"] for p in processes}
    pathway = request.args.get("pathway") or processes[0]["process_id"]
    if pathway not in names:
        abort(404)
    region = request.args.get("region") or None
    if region and region not in me.regions:
        abort(403)
    problems: list[str] = []
    start, end = _date("from", problems), _date("to", problems)
    try:
        scope = measures.scope_for(me, region, start, end, pathway, now)
    except RequestError:  # the period starts after it ends: say so, show the default
        problems.append(_("The period starts after it ends; the default period is shown."))
        start = end = None
        scope = measures.scope_for(me, region, None, None, pathway, now)
    period = {"from": scope.start.date().isoformat(), "to": (scope.end - timedelta(days=1)).date().isoformat()}
    filters = {"region": region or "", **period, "pathway": pathway}

    region_names = {r["key"]: r["name"] for r in users.list_regions(env())}
    tables = []
    for table in measures.all_measures(env(), scope, now):
        t = table.as_dict()
        t["count_column"] = table.count_column
        tables.append(t)
        t["label"] = str(TITLES.get(t["name"], t["title"]))
        t["headers"] = [str(COLUMNS.get(c, c)) for c in t["columns"]]
        t["cells"] = [[_show(c, v, names, region_names) for c, v in zip(t["columns"], row, strict=False)]
                      for row in t["rows"]]
        t["csv_url"] = url_for("api.measure_csv", name=t["name"], **filters)
    own = [t for t in tables if ONLY_FOR.get(t["name"], pathway) == pathway]
    others = [t for t in tables if ONLY_FOR.get(t["name"], pathway) != pathway]

    # every pathway's stuck cases, whichever pathway is shown: each needs its designer's attention
    stuck = [{**r, "pathway_name": names.get(r["pathway"], r["pathway"])} for r in stuck_overview(env(), scope.regions)]
    return render_template(
        "manage.html", processes=processes, pathway=pathway, pathway_name=names[pathway],
        regions=[(r, region_names.get(r, r)) for r in sorted(me.regions)], region=region or "",
        period=period, problems=problems, stuck=stuck, own=own, others=others, small_cell=measures.SMALL_CELL,
        charts=_charts(pathway, {t["name"]: t for t in tables}),
        xml_url=url_for("api.process_bpmn", process_id=pathway),
        overview_url=url_for("api.step_overview", pathway=pathway, region=region or ""),
        tasks_url=url_for("api.step_tasks", pathway=pathway, element_id="ELEMENT_ID", region=region or ""),
        text=_js_text())


def _show(column: str, value: object, names: dict[str, str], regions: dict[str, str] | None = None) -> str:
    """A cell as people read it: one decimal (decimal comma in Finnish and Swedish), yes/no, names."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, float):
        return format_decimal(value, "0.0")
    if isinstance(value, int):
        return str(value)
    if column == "pathway":
        return names.get(value, value)
    if value == "" and column == "outcome":
        return _("(none)")
    if column == "region" and regions:
        return regions.get(str(value), str(value))
    if column == "milestone":
        return label(MILESTONES, value)
    return str(VALUES.get(value, value))


def _charts(pathway: str, tables: dict[str, dict]) -> dict:
    months: dict[str, list[int]] = {}
    for _p, month, started, closed in tables["flow"]["rows"]:
        m = months.setdefault(month, [0, 0])
        m[0] += started
        m[1] += closed
    if pathway == measures.IPS:
        outcome_rows = [(kind, n) for kind, n in tables["ips_outcomes"]["rows"]]
    else:
        outcome_rows = [(o, n) for p, o, n in tables["outcomes"]["rows"] if p == pathway]
    return {
        "flow": {"labels": sorted(months), "started": [months[m][0] for m in sorted(months)],
                 "closed": [months[m][1] for m in sorted(months)],
                 "started_label": _("Started"), "closed_label": _("Closed")},
        "outcomes": {"labels": [_show("outcome", o, {}) for o, _n in outcome_rows],
                     "counts": [n for _o, n in outcome_rows], "label": _("Cases")},
    }


def _js_text() -> dict:
    return {"open": _("open"), "overdue": _("overdue"), "overdue_heading": _("Overdue"), "days": _("d"),
            "median": _("median waiting time, days"), "task": _("Task"), "step": _("Step"),
            "region": _("Region"), "waiting_since": _("Waiting since"), "assignee": _("Assignee"),
            "yes": _("yes"), "no": _("no"), "nobody": _("nobody"), "none": _("No open tasks at this step."),
            "tasks_of": _("Open tasks at the step"), "error": _("The diagram could not be shown."),
            "tasks_error": _("The tasks could not be fetched.")}
