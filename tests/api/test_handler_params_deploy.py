"""Through the API a designer sees a handler-parameter problem as a located 422, and nothing deploys."""
from __future__ import annotations

from ..conftest import ROOT


def test_a_notify_without_recipient_is_refused_through_the_api(client_for, deployed):
    dora = client_for("dora")
    bpmn = (ROOT / "processes" / "unemployed_health_check.bpmn").read_text(encoding="utf-8")
    broken = bpmn.replace('<camunda:inputParameter name="to_role">nurse</camunda:inputParameter>', "", 1)
    assert broken != bpmn
    r = dora.post("/api/processes", json={"files": {"unemployed_health_check.bpmn": broken}})
    assert r.status_code == 422
    (problem,) = r.get_json()["details"]
    assert problem["element_id"] == "Task_NotifyNurses" and problem["element_name"] == "Ilmoita terveydenhoitajille"
    assert problem["field"] == "to_role" and problem["line"] and problem["fix"]
    assert problem["message"] == "notify needs one of the parameters 'to_role' or 'to'"
    listed = {p["process_id"]: p["version"] for p in dora.get("/api/processes").get_json()}
    assert listed["unemployed_health_check"] == 1
