"""A case that can never move again is not left silently "active": it becomes an incident on
the case, seen through the API, on the case page, in the stats and in the manager view —
once, however often the case is saved — and it is resolved when the case moves on."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from SpiffWorkflow.util.task import TaskState

from orchestrator.services import deploy
from orchestrator.services.case_state import load_runtime, save_progress
from orchestrator.services.timers import fire_due_timers
from orchestrator.store.models import Case, Event, Incident

from ..engine.helpers import END, STANDARD_COMPONENTS, START, diagram, form_json, seq_flow, user_task
from ..engine.test_stuck import fake_join, timer_cancels_the_only_wait
from ..web.test_pages import sign_in
from .walk import do

T0 = datetime(2027, 2, 1, 8, 0, tzinfo=timezone.utc)
NURSE_LANE = "Terveydenhoitaja"


def in_nurse_lane(xml: str, pathway: str, *node_ids: str) -> bytes:
    """The test diagram as its own pathway, its tasks in the nurses' lane (so nurses see the case)."""
    lane = ('<bpmn:laneSet id="LaneSet_1"><bpmn:lane id="Lane_1" name="' + NURSE_LANE + '">'
            + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in node_ids) + "</bpmn:lane></bpmn:laneSet>")
    xml = xml.replace('id="test_process" name="Testiprosessi" isExecutable="true">',
                      f'id="{pathway}" name="Jumitesti {pathway}" isExecutable="true">{lane}')
    return xml.replace(' camunda:candidateGroups="nurse"', "").encode()


def skipping_join() -> str:
    """Only the urgent path has a task; the normal one goes straight to a parallel join."""
    return diagram(
        START, '<bpmn:exclusiveGateway id="Gw_Urgent" name="Kiireellinen?" default="Flow_Normal" />',
        user_task("Task_Fast", "Pikakäsittely", candidateGroups="nurse"),
        '<bpmn:parallelGateway id="Join_1" name="Yhdistä" />', END,
        seq_flow("StartEvent_1", "Gw_Urgent"), seq_flow("Gw_Urgent", "Task_Fast", "urgency == 'urgent'"),
        seq_flow("Gw_Urgent", "Join_1", flow_id="Flow_Normal"), seq_flow("Task_Fast", "Join_1"),
        seq_flow("Join_1", "End_1"))


@pytest.fixture
def stuck_pathways(deployed):
    start_form = form_json(*STANDARD_COMPONENTS["start"]).encode()
    deploy.deploy(deployed, None, {
        "fake_join.bpmn": in_nurse_lane(fake_join(), "stuck_fake_join", "Task_Fast", "Task_Normal"),
        "timer_join.bpmn": in_nurse_lane(timer_cancels_the_only_wait(), "stuck_timer_join", "Task_Answer"),
        "at_start.bpmn": in_nurse_lane(skipping_join(), "stuck_at_start", "Task_Fast"),
    }, {"start.form": start_form})
    return deployed


def start(client, pathway: str, ref: str, urgency: str = "normal") -> int:
    r = client.post("/api/cases", json={"pathway": pathway, "region": "north", "client_ref": ref,
                                        "data": {"urgency": urgency}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def stuck_incidents(env, case_id: int) -> list[Incident]:
    with env.uow() as uow:
        rows = list(uow.session.scalars(sa.select(Incident).where(Incident.case_id == case_id).order_by(Incident.id)))
        uow.session.expunge_all()
        return rows


def incident_events(env, case_id: int) -> list[str]:
    with env.uow() as uow:
        return list(uow.session.scalars(sa.select(Event.kind).where(
            Event.case_id == case_id, Event.kind.in_(("incident", "incident_resolved"))).order_by(Event.id)))


def test_a_fake_join_case_is_flagged_once_and_shown_everywhere(stuck_pathways, app, token_client_for):
    nina, mia = token_client_for("nina"), token_client_for("mia")
    case_id = start(nina, "stuck_fake_join", "ST-1")
    other = start(nina, "stuck_fake_join", "ST-2")
    assert nina.get(f"/api/cases/{case_id}").get_json()["incidents"] == []

    do(nina, case_id, "Task_Normal", {})

    body = nina.get(f"/api/cases/{case_id}").get_json()
    assert body["status"] == "active" and body["current_steps"] == [] and body["has_incident"] is True
    (incident,) = body["incidents"]
    assert incident["kind"] == "stuck" and incident["topic"] is None
    assert (incident["element_id"], incident["name"]) == ("Task_Normal", "Käsittely")
    assert incident["message"].startswith("stuck after 'Käsittely' (Task_Normal)")
    assert "'Yhdistä' (Join_1) waits for something that cannot come" in incident["message"]
    assert nina.get(f"/api/cases/{other}").get_json()["has_incident"] is False  # still waits for a nurse

    stats = mia.get("/api/stats/stuck_fake_join").get_json()
    assert stats["stuck_cases"] == 1
    assert stats["stuck"] == [{"element_id": "Task_Normal", "name": "Käsittely", "cases": 1}]
    assert stats["cases"]["with_incident"] == 1

    # a later save of the case (here: staff retry it) keeps the one incident, adds no second one
    r = nina.post(f"/api/cases/{case_id}/retry", json={})
    assert r.status_code == 200 and r.get_json()["has_incident"] is True, r.get_json()
    assert [i.resolved_at for i in stuck_incidents(stuck_pathways, case_id)] == [None]
    assert incident_events(stuck_pathways, case_id) == ["incident"]

    page = sign_in(app, "nina").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Asiakkuus on jumissa vaiheen Käsittely jälkeen" in page  # Finnish by default
    assert "Mikään ei odota." in page and "Asiakkuus on päättynyt." not in page

    manage = sign_in(app, "mia").get("/manage?pathway=unemployed_health_check").get_data(as_text=True)
    assert "Jumissa olevat asiakkuudet" in manage
    assert "<td>Jumitesti stuck_fake_join</td><td data-element=\"Task_Normal\">Käsittely</td>" \
           '<td class="num">1</td>' in manage


def test_the_incident_is_resolved_when_the_case_moves_on(stuck_pathways, token_client_for):
    nina = token_client_for("nina")
    case_id = start(nina, "stuck_fake_join", "ST-3")
    do(nina, case_id, "Task_Normal", {})
    assert nina.get(f"/api/cases/{case_id}").get_json()["has_incident"] is True

    # What a corrected version or a repair by an administrator would do: the join goes on.
    env = stuck_pathways
    with env.uow() as uow:
        case = uow.session.get(Case, case_id)
        runtime = load_runtime(env, uow.session, case)
        (join,) = [t for t in runtime.workflow.get_tasks(state=TaskState.WAITING)
                   if t.task_spec.bpmn_id == "Join_1"]
        join._set_state(TaskState.READY)
        steps = runtime.run()
        save_progress(env, uow, case, runtime, "admin", steps, env.now())
        uow.commit()

    body = nina.get(f"/api/cases/{case_id}").get_json()
    assert body["status"] == "completed" and body["has_incident"] is False and body["incidents"] == []
    (incident,) = stuck_incidents(env, case_id)
    assert incident.resolved_at is not None and incident.resolved_by == "admin"
    assert incident_events(env, case_id) == ["incident", "incident_resolved"]
    assert token_client_for("mia").get("/api/stats/stuck_fake_join").get_json()["stuck_cases"] == 0


def test_a_timer_that_cancels_the_only_wait_flags_the_case_when_the_worker_fires_it(stuck_pathways,
                                                                                   token_client_for):
    with time_machine.travel(T0, tick=False) as clock:
        nina = token_client_for("nina")
        case_id = start(nina, "stuck_timer_join", "ST-4")
        assert nina.get(f"/api/cases/{case_id}").get_json()["current_steps"] == ["Task_Answer"]
        clock.shift(timedelta(days=7, seconds=1))
        assert fire_due_timers(stuck_pathways) == 1
        body = nina.get(f"/api/cases/{case_id}").get_json()
    assert body["status"] == "active" and body["open_tasks"] == [] and body["has_incident"] is True
    assert [(i["kind"], i["element_id"], i["name"]) for i in body["incidents"]] == \
        [("stuck", "Timer_Late", "Viikko kulunut")]
    assert token_client_for("mia").get("/api/stats/stuck_timer_join").get_json()["stuck_cases"] == 1


def test_a_case_stuck_as_it_starts_is_flagged_by_the_start_itself(stuck_pathways, token_client_for):
    nina = token_client_for("nina")
    r = nina.post("/api/cases", json={"pathway": "stuck_at_start", "region": "north", "client_ref": "ST-5",
                                      "data": {"urgency": "normal"}})
    assert r.status_code == 201 and r.get_json()["has_incident"] is True, r.get_json()
    body = nina.get(f"/api/cases/{r.get_json()['id']}").get_json()
    assert [(i["kind"], i["element_id"]) for i in body["incidents"]] == [("stuck", "Gw_Urgent")]
    urgent = start(nina, "stuck_at_start", "ST-6", urgency="urgent")  # its task waits for a nurse
    assert nina.get(f"/api/cases/{urgent}").get_json()["has_incident"] is False
    assert token_client_for("mia").get("/api/stats/stuck_at_start").get_json()["stuck_cases"] == 1
