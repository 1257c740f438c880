"""What staff read in place of the codes the services return: history kinds, document kinds,
organisations and milestones. A code with no label here is shown as it is, so a new one is
visible (and gets a label) rather than hidden."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

# The history entries a case page lists, in the words of the people who work the case.
HISTORY = {
    "case_started": _l("case started"),
    "task_completed": _l("task done"),
    "task_claimed": _l("task taken"),
    "task_reassigned": _l("task reassigned"),
    "task_delegated": _l("task delegated"),
    "timer_fired": _l("time limit reached"),
    "message_received": _l("message received"),
    "bpmn_error": _l("step ended in an error"),
    "document_saved": _l("document saved"),
    "message_queued": _l("notification queued"),
    "consent_recorded": _l("consent recorded"),
    "consent_withdrawn": _l("consent withdrawn"),
    "client_lead_changed": _l("client lead changed"),
    "handed_over": _l("handed over to another pathway"),
    "incident": _l("problem recorded"),
    "incident_resolved": _l("problem resolved"),
    "case_completed": _l("case closed"),
}

# Actors that are not people.
ACTORS = {"system": _l("system")}

# The documents the four pathways' record_document steps write (their "document" parameter).
DOCUMENTS = {
    "health_check_summary": _l("Health check summary"),
    "activation_plan": _l("Activation plan"),
    "closure": _l("Closing summary"),
    "ips_end": _l("IPS closing summary"),
    "job_start": _l("Job start"),
    "joint_plan": _l("Joint plan"),
    "rehabilitation_outcome": _l("Rehabilitation outcome"),
}

# orchestrator.organisations.ORGANISATIONS, in each UI language.
ORGANISATIONS = {
    "health_centre": _l("Health centre"),
    "social_services": _l("Social services"),
    "te_office": _l("TE services / municipal employment services"),
    "kela": _l("Kela"),
    "ips_service": _l("IPS job coaching"),
    "mental_health": _l("Mental health and substance abuse services"),
    "education": _l("Educational institution"),
    "ngo": _l("Non-governmental organisation"),
    "rehabilitation_provider": _l("Rehabilitation provider"),
}

# The four pathways' polku.milestone values (the milestones measure names its rows by them).
MILESTONES = {
    "health_check_done": _l("health check done"),
    "first_meeting": _l("first meeting"),
    "first_employer_contact": _l("first employer contact"),
    "job_start": _l("job start"),
    "activation_plan": _l("activation plan"),
    "consultation": _l("consultation"),
    "network_meeting": _l("network meeting"),
}


def label(table: dict, code: str | None) -> str:
    """The label of ``code`` in ``table`` as a string, or the code itself when it has none."""
    if code is None:
        return ""
    return str(table.get(code, code))
