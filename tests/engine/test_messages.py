"""Message waits in the engine: each kind catches its message by name, moves on, and shows where it waits."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from orchestrator.engine.runtime import CaseRuntime

from . import message_diagrams as md
from .helpers import deploy, diagram, line_of, only_problem, rejected, seq_flow, user_task

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


def started(xml: str, data: dict | None = None) -> CaseRuntime:
    (model,) = deploy(xml, topics=("notify", "register"))
    runtime, _ = CaseRuntime.start(model, data or {"status": "new"})
    return runtime


def humans(rt: CaseRuntime) -> list[str]:
    return [h.element_id for h in rt.human_tasks(T0)]


def test_an_intermediate_catch_waits_for_its_message_by_name_and_takes_its_data():
    rt = started(md.catch_process())
    assert rt.current_steps() == ["Event_Payment"]
    assert [(w.message, w.kind) for w in rt.message_waits()] == [("payment_received", "catch")]
    # a message nobody waits for changes nothing
    assert rt.send_message("payment_refunded", {"status": "x"}) == ([], [])
    caught, steps = rt.send_message("payment_received", {"status": "paid", "amount": 120})
    assert [w.element_id for w in caught] == ["Event_Payment"]
    assert [s.element_id for s in steps] == ["Event_Payment"]
    assert humans(rt) == ["Task_Review"] and rt.message_waits() == []
    # the sent values win over what the case had, and the next step sees them
    task = rt.human_tasks(T0)[0]
    assert task.data["status"] == "paid" and task.data["amount"] == 120


def test_a_receive_task_waits_and_the_case_ends_when_its_message_comes():
    rt = started(md.receive_task_process())
    assert rt.current_steps() == ["Task_Statement"]
    rt.send_message("statement_received", {"statement": "ok"})
    assert humans(rt) == ["Task_Review"] and rt.data()["statement"] == "ok"


def test_an_interrupting_message_boundary_cancels_the_task_and_follows_its_path():
    rt = started(md.boundary_process(interrupting=True))
    assert humans(rt) == ["Task_Review"]
    # a boundary listens beside the task: the task is the step, the message is accepted
    assert rt.current_steps() == ["Task_Review"]
    assert [(w.message, w.kind) for w in rt.message_waits()] == [("case_cancelled", "boundary")]
    _, steps = rt.send_message("case_cancelled", {"reason": "moved away"})
    assert [s.element_id for s in steps] == ["Event_Cancelled", "End_Cancelled"]
    assert rt.completed and humans(rt) == [] and rt.outcome() == "Peruttu loppu"


def test_a_non_interrupting_message_boundary_runs_its_path_each_time_and_the_task_stays_open():
    rt = started(md.boundary_process(interrupting=False))
    for _ in range(3):
        _, steps = rt.send_message("case_cancelled", {})
        assert [s.element_id for s in steps] == ["Event_Cancelled", "End_Cancelled"]
        assert humans(rt) == ["Task_Review"] and not rt.completed
        assert [w.kind for w in CaseRuntime.load(rt.model, rt.dumps()).message_waits()] == ["boundary"]
    (task,) = rt.human_tasks(T0)
    rt.complete_human(task.task_id, {})
    assert rt.completed and rt.message_waits() == []
    assert rt.send_message("case_cancelled", {}) == ([], [])


def test_event_based_gateway_schedules_its_timer_and_the_message_wins_when_it_comes_first():
    with time_machine.travel(T0, tick=False):
        rt = started(md.gateway_process())
        (timer,) = rt.timers()
        assert (timer.element_id, timer.due_at, timer.boundary) == ("Event_Deadline", T0 + timedelta(days=3), False)
        assert rt.current_steps() == ["Event_Deadline", "Event_Reply"]
        rt.send_message("reply_received", {"reply": "yes"})
    assert rt.timers() == [] and humans(rt) == ["Task_Review"]


def test_event_based_gateway_takes_the_timer_branch_when_the_deadline_passes_first():
    with time_machine.travel(T0, tick=False) as traveller:
        rt = started(md.gateway_process())
        traveller.shift(timedelta(days=3, seconds=1))
        steps = rt.fire_timers()
    assert "Event_Deadline" in [s.element_id for s in steps]
    assert humans(rt) == ["Task_Remind"] and rt.message_waits() == [] and rt.timers() == []
    assert rt.send_message("reply_received", {}) == ([], [])


def test_an_interrupting_message_event_subprocess_replaces_what_the_case_was_doing():
    rt = started(md.event_subprocess_process(interrupting=True))
    assert [(w.message, w.kind) for w in rt.message_waits()] == [("client_moved", "event_subprocess")]
    assert rt.current_steps() == ["Task_Review"]
    rt.send_message("client_moved", {"new_municipality": "Oulu"})
    assert humans(rt) == ["Task_Transfer"] and rt.message_waits() == []
    (task,) = rt.human_tasks(T0)
    assert task.data["new_municipality"] == "Oulu"
    rt.complete_human(task.task_id, {})
    assert rt.completed


def test_a_non_interrupting_message_event_subprocess_runs_beside_the_open_task_each_time():
    rt = started(md.event_subprocess_process(interrupting=False))
    rt.send_message("client_moved", {})
    assert sorted(humans(rt)) == ["Task_Review", "Task_Transfer"]
    rt.send_message("client_moved", {})
    assert sorted(humans(rt)) == ["Task_Review", "Task_Transfer", "Task_Transfer"]
    for task in rt.human_tasks(T0):
        rt.complete_human(task.task_id, {})
    assert rt.completed


def test_message_waits_survive_saving_and_loading_the_case():
    rt = started(md.gateway_process())
    again = CaseRuntime.load(rt.model, rt.dumps())
    assert [(w.element_id, w.message) for w in again.message_waits()] == [("Event_Reply", "reply_received")]
    assert [t.element_id for t in again.timers()] == ["Event_Deadline"]


def test_a_bpmn_error_is_caught_by_the_error_boundary_with_its_code():
    rt = started(md.error_boundary_process("register", "REJECTED"))
    (call,) = rt.service_calls()
    assert rt.throw_error(call.task_id, "OTHER", {}) is None  # not this boundary's code: nothing moves
    steps = rt.throw_error(call.task_id, "REJECTED", {"rejection": "unknown client"})
    assert [s.element_id for s in steps] == ["Event_Rejected"]
    assert rt.service_calls() == [] and humans(rt) == ["Task_Resolve"]
    assert rt.human_tasks(T0)[0].data["rejection"] == "unknown client"


def test_an_error_boundary_without_an_error_reference_catches_every_code():
    rt = started(md.error_boundary_process("register", None))
    (call,) = rt.service_calls()
    assert rt.throw_error(call.task_id, "ANYTHING", None) is not None
    assert humans(rt) == ["Task_Resolve"]


# -- deploy checks ----------------------------------------------------------------------
def test_a_message_event_without_a_message_is_refused_with_where_and_what_to_do():
    xml = diagram(md.START, '<bpmn:intermediateCatchEvent id="Event_Wait" name="Odota">'
                  '<bpmn:messageEventDefinition id="MED_1" /></bpmn:intermediateCatchEvent>', md.END,
                  chain=["StartEvent_1", "Event_Wait", "End_1"])
    p = only_problem(rejected(xml))
    assert (p.element_id, p.element_name, p.line) == ("Event_Wait", "Odota", line_of(xml, 'id="Event_Wait"'))
    assert "names no message" in p.message and "Message" in p.fix


def test_a_message_without_a_name_is_refused_naming_the_waiting_element():
    xml = md.catch_process().replace('name="payment_received"', "")
    p = only_problem(rejected(xml))
    assert p.element_id == "Event_Payment" and "has no name" in p.message and "Message_Payment" in p.fix


def test_a_receive_task_whose_message_is_missing_is_refused():
    xml = md.receive_task_process().replace('<bpmn:message id="Message_Statement"', '<bpmn:message id="Other"')
    p = only_problem(rejected(xml))
    assert p.element_id == "Task_Statement" and "not defined" in p.message


def test_a_process_started_by_a_message_is_refused_with_the_plain_start_to_draw_instead():
    xml = md.with_messages(diagram(
        md.message_catch("Start_Msg", "Hakemus saapui", "Message_App", tag="startEvent"), md.END,
        chain=["Start_Msg", "End_1"]), ("Message_App", "application_received"))
    p = only_problem(rejected(xml))
    assert p.element_id == "Start_Msg" and "starts by a message" in p.message
    assert "plain start event" in p.fix


def test_correlation_keys_and_message_throw_events_are_refused():
    xml = md.with_messages(diagram(
        md.START, '<bpmn:intermediateThrowEvent id="Event_Send" name="Lähetä">'
        '<bpmn:messageEventDefinition id="MED_2" messageRef="Message_1" /></bpmn:intermediateThrowEvent>', md.END,
        chain=["StartEvent_1", "Event_Send", "End_1"]), ("Message_1", "sent"))
    xml = xml.replace("</bpmn:definitions>", '<bpmn:correlationProperty id="Prop_1" name="ref">'
                      '<bpmn:correlationPropertyRetrievalExpression messageRef="Message_1">'
                      "<bpmn:messagePath>client_ref</bpmn:messagePath>"
                      "</bpmn:correlationPropertyRetrievalExpression></bpmn:correlationProperty></bpmn:definitions>")
    problems = rejected(xml).problems
    assert sorted(p.element_id for p in problems) == ["Event_Send", "Prop_1"]
    assert all(p.fix and p.line for p in problems)


def test_an_event_based_gateway_with_two_timers_is_refused():
    timer = ('<bpmn:intermediateCatchEvent id="{0}" name="{0}"><bpmn:timerEventDefinition id="TED_{0}">'
             '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P{1}D</bpmn:timeDuration>'
             "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>")
    xml = diagram(md.START, '<bpmn:eventBasedGateway id="Gateway_1" name="Odota" />',
                  timer.format("Timer_A", 1), timer.format("Timer_B", 2),
                  user_task("Task_1", "Tee", candidateGroups="nurse"), md.END,
                  seq_flow("Gateway_1", "Timer_A"), seq_flow("Gateway_1", "Timer_B"),
                  seq_flow("Timer_A", "Task_1"), seq_flow("Timer_B", "Task_1"),
                  chain=["StartEvent_1", "Gateway_1"], process_id="two_timers")
    xml = xml.replace("</bpmn:process>", seq_flow("Task_1", "End_1") + "</bpmn:process>")
    p = only_problem(rejected(xml))
    assert p.element_id == "Gateway_1" and "one timer" in p.fix


def test_every_message_diagram_of_these_tests_deploys():
    for xml in (md.catch_process(), md.receive_task_process(), md.boundary_process(True),
                md.boundary_process(False), md.gateway_process(), md.event_subprocess_process(True),
                md.event_subprocess_process(False)):
        assert deploy(xml)


def test_a_message_wait_inside_an_embedded_subprocess_catches_too():
    inner = ('<bpmn:subProcess id="Sub_1" name="Alaprosessi"><bpmn:startEvent id="Sub_Start" />'
             + md.message_catch("Event_In", "Sisällä", "Message_Inner")
             + '<bpmn:endEvent id="Sub_End" />' + seq_flow("Sub_Start", "Event_In").strip()
             + seq_flow("Event_In", "Sub_End").strip() + "</bpmn:subProcess>")
    rt = started(md.with_messages(diagram(md.START, inner, md.END, chain=["StartEvent_1", "Sub_1", "End_1"]),
                                  ("Message_Inner", "inner_done")))
    assert rt.current_steps() == ["Event_In"]
    rt.send_message("inner_done", {"x": 1})
    assert rt.completed and rt.data()["x"] == 1


def test_an_error_boundary_naming_a_missing_error_is_refused():
    xml = md.error_boundary_process("register", "REJECTED").replace('<bpmn:error id="Error_Rejected"',
                                                                    '<bpmn:error id="Error_Other"')
    p = only_problem(rejected(xml, topics=("register",)))
    assert p.element_id == "Event_Rejected" and "Error_Rejected" in p.message and "Error code" in p.fix
