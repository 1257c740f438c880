"""Messages end to end: deploy a diagram that waits, start a case, send the message over HTTP,
and see the steps, the inbox, the timers table, the audit trail and the end state."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from orchestrator.services import deploy
from orchestrator.services.handler_api import BpmnError
from orchestrator.services.timers import fire_due_timers
from orchestrator.store.models import Event, Incident, Task, TimerRow

from ..engine import message_diagrams as md
from .walk import case, do

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def waiting(deployed):
    """Every message diagram deployed, plus a test-only handler that throws BPMN errors."""
    def register(ctx):
        if ctx.data.get("register_down"):
            raise ConnectionError("the register is down")
        code = ctx.data.get("fail_with")
        if code:
            raise BpmnError(code, "the register does not know this client", {"rejection": code.lower()})
        return {"registered": True}

    deployed.handlers.register("register_client", register)
    files = {f"{pid}.bpmn": xml.encode() for pid, xml in {
        "message_catch": md.catch_process(), "message_receive": md.receive_task_process(),
        "boundary_cut": md.boundary_process(True, "boundary_cut"),
        "boundary_side": md.boundary_process(False, "boundary_side"),
        "message_or_timer": md.gateway_process(),
        "moved_cut": md.event_subprocess_process(True, "moved_cut"),
        "moved_side": md.event_subprocess_process(False, "moved_side"),
        "handler_error": md.error_boundary_process("register_client", "REJECTED"),
        "register_or_cancel": md.error_boundary_process("register_client", "REJECTED", "register_or_cancel").replace(
            "</bpmn:process>", md.message_catch("Event_Withdrawn", "Peruttu", "Message_Withdrawn", tag="boundaryEvent",
                                                extra=' attachedToRef="Task_Register"')
            + '<bpmn:endEvent id="End_Withdrawn" name="Peruttu" />'
            + md.seq_flow("Event_Withdrawn", "End_Withdrawn") + "</bpmn:process>").replace(
            "</bpmn:definitions>", '<bpmn:message id="Message_Withdrawn" name="referral_withdrawn" />'
            "</bpmn:definitions>"),
    }.items()}
    deploy.deploy(deployed, None, files, {})
    return deployed


def start(client, pathway: str, client_ref: str = "AS-7", **data) -> dict:
    r = client.post("/api/cases", json={"pathway": pathway, "region": "north", "client_ref": client_ref, "data": data})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def send(client, name: str, status: int = 200, **body) -> dict:
    r = client.post("/api/messages", json={"name": name, **body})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def inbox(client, case_id: int) -> list[str]:
    items = client.get("/api/tasks?scope=role&limit=500").get_json()["items"]
    return sorted(t["element_id"] for t in items if t["case_id"] == case_id)


def events(env, case_id: int, kind: str) -> list[Event]:
    with env.uow() as uow:
        rows = list(uow.session.scalars(sa.select(Event).where(Event.case_id == case_id, Event.kind == kind)))
        uow.session.expunge_all()
        return rows


def test_a_case_waits_for_a_message_by_name_and_moves_on_when_it_is_sent(waiting, client_for):
    nina = client_for("nina")
    c = start(nina, "message_catch", status="new")
    assert c["current_steps"] == ["Event_Payment"] and inbox(nina, c["id"]) == []
    seen = case(nina, c["id"])
    assert seen["current"] == [{"element_id": "Event_Payment", "name": "Maksu saapui", "message": "payment_received"}]
    assert [m["message"] for m in seen["messages"]] == ["payment_received"]
    page = nina.get(f"/cases/{c['id']}").get_data(as_text=True)
    assert "payment_received" in page and "Message_Payment" not in page

    r = send(nina, "payment_received", case_id=c["id"], data={"status": "paid", "amount": 120})
    assert [x["element_id"] for x in r["caught"]] == ["Event_Payment"]
    assert r["case"]["current_steps"] == ["Task_Review"] and inbox(nina, c["id"]) == ["Task_Review"]
    seen = case(nina, c["id"])
    assert seen["data"]["status"] == "paid" and seen["data"]["amount"] == 120 and "_message" not in seen["data"]
    (received,) = events(waiting, c["id"], "message_received")
    assert received.actor == "nina" and received.details["message"] == "payment_received"
    assert received.details["fields"] == ["amount", "status"]

    # the wait is over: the same message again finds nothing waiting, and nothing changes
    again = send(nina, "payment_received", 404, case_id=c["id"], data={"status": "twice"})
    assert again["error"] and "not waiting for message 'payment_received'" in again["message"]
    assert case(nina, c["id"])["data"]["status"] == "paid"
    assert do(nina, c["id"], "Task_Review", {})["status"] == "completed"


def test_a_receive_task_ends_the_case_when_its_message_comes(waiting, client_for):
    nina = client_for("nina")
    c = start(nina, "message_receive")
    assert c["current_steps"] == ["Task_Statement"]
    r = send(nina, "statement_received", client_ref="AS-7", pathway="message_receive", data={"statement": "ok"})
    assert r["case"]["current_steps"] == ["Task_Review"] and inbox(nina, c["id"]) == ["Task_Review"]
    assert do(nina, c["id"], "Task_Review", {})["outcome"] == "Loppu"


def test_client_ref_and_pathway_find_the_one_waiting_case_and_two_are_ambiguous(waiting, client_for):
    nina = client_for("nina")
    first, second = start(nina, "message_catch", "AS-9"), start(nina, "message_catch", "AS-9")
    r = send(nina, "payment_received", 409, client_ref="AS-9", pathway="message_catch", data={})
    assert str(first["id"]) in r["message"] and str(second["id"]) in r["message"] and "case_id" in r["message"]
    assert case(nina, first["id"])["current_steps"] == ["Event_Payment"]  # nothing moved
    send(nina, "payment_received", case_id=second["id"])
    r = send(nina, "payment_received", client_ref="AS-9", pathway="message_catch")
    assert r["case"]["id"] == first["id"]
    assert send(nina, "payment_received", 404, client_ref="AS-9", pathway="message_catch")["error"]


def test_only_staff_who_may_see_the_case_may_send_it_a_message(waiting, client_for):
    c = start(client_for("nina"), "message_catch")
    sami = client_for("sami")  # a nurse, but in the south
    assert send(sami, "payment_received", 404, case_id=c["id"])["message"] == f"case {c['id']} not found"
    assert send(sami, "payment_received", 404, client_ref="AS-7", pathway="message_catch")["error"]
    assert case(client_for("nina"), c["id"])["current_steps"] == ["Event_Payment"]


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"name": "payment_received", "case_id": 1, "data": ["not", "an", "object"]}, 400, "data"),
    ({"name": "payment_received", "case_id": 1, "data": {"two words": 1}}, 400, "data.two words"),
    ({"name": "payment_received", "case_id": 1, "data": {"__class__": 1}}, 400, "data.__class__"),
    ({"name": "payment_received", "case_id": 1, "data": {"region": "south"}}, 400, "data.region"),
    ({"name": "payment_received", "data": {}}, 400, "case_id"),
    ({"name": "", "case_id": 1}, 422, "name"),
    ({"name": "payment_received", "case_id": 1, "colour": "red"}, 422, "colour"),
])
def test_bad_message_requests_are_refused_and_change_nothing(waiting, client_for, body, status, field):
    nina = client_for("nina")
    c = start(nina, "message_catch")
    body = {**body, **({"case_id": c["id"]} if "case_id" in body else {})}
    r = nina.post("/api/messages", json=body)
    assert r.status_code == status, r.get_json()
    error = r.get_json()
    assert set(error) == {"error", "message", "details"} and field in [d["field"] for d in error["details"]]
    assert case(nina, c["id"])["current_steps"] == ["Event_Payment"]
    assert nina.post("/api/messages", data="not json", content_type="application/json").status_code == 400


def test_an_interrupting_message_boundary_closes_the_open_task(waiting, client_for):
    nina = client_for("nina")
    c = start(nina, "boundary_cut")
    assert inbox(nina, c["id"]) == ["Task_Review"]
    assert [m["kind"] for m in case(nina, c["id"])["messages"]] == ["boundary"]
    assert "case_cancelled" in nina.get(f"/cases/{c['id']}").get_data(as_text=True)
    r = send(nina, "case_cancelled", case_id=c["id"], data={"reason": "moved"})
    assert r["case"]["status"] == "completed" and r["case"]["outcome"] == "Peruttu loppu"
    assert inbox(nina, c["id"]) == []
    with waiting.uow() as uow:
        (status,) = uow.session.scalars(sa.select(Task.status).where(Task.case_id == c["id"]))
    assert status == "cancelled"


def test_a_non_interrupting_message_boundary_leaves_the_task_open(waiting, client_for):
    nina = client_for("nina")
    c = start(nina, "boundary_side")
    for _ in range(2):  # it listens again while the task is open, as in Camunda 7
        r = send(nina, "case_cancelled", case_id=c["id"])
        assert [s["element_id"] for s in r["steps"]] == ["Event_Cancelled", "End_Cancelled"]
        assert r["case"]["status"] == "active" and inbox(nina, c["id"]) == ["Task_Review"]
    assert len(events(waiting, c["id"], "message_received")) == 2
    assert do(nina, c["id"], "Task_Review", {})["status"] == "completed"


def timer_rows(env, case_id: int) -> list[tuple[str, datetime]]:
    with env.uow() as uow:
        return [(r.element_id, r.due_at.replace(tzinfo=UTC)) for r in uow.session.scalars(
            sa.select(TimerRow).where(TimerRow.case_id == case_id))]


def test_event_based_gateway_the_message_first_wins_and_its_timer_row_goes(waiting, token_client_for):
    nina = token_client_for("nina")
    with time_machine.travel(T0, tick=False):
        c = start(nina, "message_or_timer")
        assert timer_rows(waiting, c["id"]) == [("Event_Deadline", T0 + timedelta(days=3))]
        assert c["current_steps"] == ["Event_Deadline", "Event_Reply"]
        send(nina, "reply_received", case_id=c["id"], data={"reply": "yes"})
        assert timer_rows(waiting, c["id"]) == [] and inbox(nina, c["id"]) == ["Task_Review"]


def test_event_based_gateway_the_timer_first_wins_and_the_message_then_finds_nothing(waiting, token_client_for):
    nina = token_client_for("nina")
    with time_machine.travel(T0, tick=False) as traveller:
        c = start(nina, "message_or_timer")
        traveller.shift(timedelta(days=3, seconds=1))
        assert fire_due_timers(waiting) == 1
        assert inbox(nina, c["id"]) == ["Task_Remind"] and timer_rows(waiting, c["id"]) == []
        assert case(nina, c["id"])["messages"] == []
        send(nina, "reply_received", 404, case_id=c["id"])


def test_an_interrupting_message_event_subprocess_replaces_the_open_work(waiting, client_for):
    nina = client_for("nina")
    c = start(nina, "moved_cut")
    assert [m["kind"] for m in case(nina, c["id"])["messages"]] == ["event_subprocess"]
    send(nina, "client_moved", case_id=c["id"], data={"new_municipality": "Oulu"})
    assert inbox(nina, c["id"]) == ["Task_Transfer"]
    done = do(nina, c["id"], "Task_Transfer", {})
    assert done["status"] == "completed" and done["outcome"] == "Siirretty"
    with waiting.uow() as uow:
        statuses = {r.element_id: r.status for r in uow.session.execute(
            sa.select(Task.element_id, Task.status).where(Task.case_id == c["id"]))}
    assert statuses == {"Task_Review": "cancelled", "Task_Transfer": "completed"}


def test_a_non_interrupting_message_event_subprocess_adds_work_beside_the_open_task(waiting, client_for):
    nina = client_for("nina")
    c = start(nina, "moved_side")
    send(nina, "client_moved", case_id=c["id"])
    assert inbox(nina, c["id"]) == ["Task_Review", "Task_Transfer"]
    do(nina, c["id"], "Task_Transfer", {})
    assert do(nina, c["id"], "Task_Review", {})["status"] == "completed"


def test_a_handler_bpmn_error_follows_the_error_boundary(waiting, client_for):
    nina = client_for("nina")
    c = start(nina, "handler_error", fail_with="REJECTED")
    assert c["current_steps"] == ["Task_Resolve"] and not c["has_incident"]
    assert inbox(nina, c["id"]) == ["Task_Resolve"]
    (thrown,) = events(waiting, c["id"], "bpmn_error")
    assert thrown.element_id == "Task_Register" and thrown.details["code"] == "REJECTED"
    assert case(nina, c["id"])["data"]["rejection"] == "rejected"
    ok = start(nina, "handler_error", "AS-8")
    assert ok["status"] == "completed" and ok["outcome"] == "Loppu"


def test_a_bpmn_error_no_boundary_catches_is_an_incident_naming_the_code(waiting, client_for):
    nina = client_for("nina")
    c = start(nina, "handler_error", fail_with="NOT_MODELLED")
    assert c["has_incident"] and c["current_steps"] == ["Task_Register"]
    (incident,) = case(nina, c["id"])["incidents"]
    assert "NOT_MODELLED" in incident["message"] and "error boundary" in incident["message"]
    # retrying throws the same error again: still one open incident, counted
    r = nina.post(f"/api/cases/{c['id']}/retry", json={})
    assert r.status_code == 200, r.get_json()
    with waiting.uow() as uow:
        (row,) = uow.session.scalars(sa.select(Incident).where(Incident.case_id == c["id"]))
        assert row.resolved_at is None and row.attempts == 2


def test_a_message_that_interrupts_a_failing_service_task_ends_its_incident(waiting, client_for):
    nina = client_for("nina")
    c = start(nina, "register_or_cancel", register_down=True)
    assert c["has_incident"]
    r = send(nina, "referral_withdrawn", case_id=c["id"])
    assert r["case"]["status"] == "completed" and not r["case"]["has_incident"]
    with waiting.uow() as uow:
        (row,) = uow.session.scalars(sa.select(Incident).where(Incident.case_id == c["id"]))
        assert row.resolved_by == "nina" and row.resolved_at is not None
