"""No case is silently stuck: each shape SpiffWorkflow 3.2.0 stalls on is recognised as stuck,
naming the element it stopped after; a case that still waits for someone or something is not."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from orchestrator.engine.deployment import ProcessModel
from orchestrator.engine.runtime import CaseRuntime
from orchestrator.errors import DeploymentError

from .helpers import END, START, deploy, diagram, seq_flow, service_task, user_task

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NURSE = {"candidateGroups": "nurse"}


def task(task_id: str, name: str) -> str:
    return user_task(task_id, name, **NURSE)


def fake_join() -> str:
    """An exclusive split merged by a parallel gateway: the join waits for the path not taken."""
    return diagram(
        START, '<bpmn:exclusiveGateway id="Gw_Urgent" name="Kiireellinen?" default="Flow_Normal" />',
        task("Task_Fast", "Pikakäsittely"), task("Task_Normal", "Käsittely"),
        '<bpmn:parallelGateway id="Join_1" name="Yhdistä" />', END,
        seq_flow("StartEvent_1", "Gw_Urgent"), seq_flow("Gw_Urgent", "Task_Fast", "urgency == 'urgent'"),
        seq_flow("Gw_Urgent", "Task_Normal", flow_id="Flow_Normal"),
        seq_flow("Task_Fast", "Join_1"), seq_flow("Task_Normal", "Join_1"), seq_flow("Join_1", "End_1"))


def side_end_and_skipped_join() -> str:
    """A parallel split: one branch ends at a plain end event, the other reaches a parallel join
    by an exclusive path that skips the join's second incoming flow — a true deadlock."""
    return diagram(
        START, '<bpmn:parallelGateway id="Split_1" name="Jako" />',
        '<bpmn:endEvent id="End_Side" name="Ilmoitus tehty" />',
        task("Task_Check", "Tarkastus"),
        '<bpmn:exclusiveGateway id="Gw_More" name="Lisäselvitys?" default="Flow_Skip" />',
        task("Task_More", "Lisäselvitys"), '<bpmn:parallelGateway id="Join_1" name="Yhdistä" />', END,
        seq_flow("StartEvent_1", "Split_1"), seq_flow("Split_1", "End_Side"), seq_flow("Split_1", "Task_Check"),
        seq_flow("Task_Check", "Gw_More"), seq_flow("Gw_More", "Task_More", "urgency == 'urgent'"),
        seq_flow("Gw_More", "Join_1", flow_id="Flow_Skip"), seq_flow("Task_More", "Join_1"),
        seq_flow("Join_1", "End_1"))


def timer_cancels_the_only_wait() -> str:
    """A task with an interrupting timer boundary, both ways on meeting in a parallel join: when
    the timer fires it removes the case's only wait and the join waits for the cancelled task."""
    return diagram(
        START, task("Task_Answer", "Vastaus"),
        '<bpmn:boundaryEvent id="Timer_Late" name="Viikko kulunut" attachedToRef="Task_Answer">'
        '<bpmn:timerEventDefinition id="TED_1"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P7D'
        '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>',
        '<bpmn:parallelGateway id="Join_1" name="Yhdistä" />', END,
        seq_flow("StartEvent_1", "Task_Answer"), seq_flow("Task_Answer", "Join_1"),
        seq_flow("Timer_Late", "Join_1"), seq_flow("Join_1", "End_1"))


def catch_event(definition: str, extra: str = "", name: str = "Odota") -> str:
    xml = diagram(START, f'<bpmn:intermediateCatchEvent id="Catch_1" name="{name}">{definition}'
                         "</bpmn:intermediateCatchEvent>", END, chain=["StartEvent_1", "Catch_1", "End_1"])
    return xml.replace("</bpmn:definitions>", extra + "</bpmn:definitions>")


def only(models: list[ProcessModel]) -> ProcessModel:
    (model,) = models
    return model


def started(xml: str, **data) -> CaseRuntime:
    rt, _ = CaseRuntime.start(only(deploy(xml)), {"urgency": "normal", **data})
    return rt


def do(rt: CaseRuntime, element_id: str) -> None:
    (task,) = [t for t in rt.human_tasks(NOW) if t.element_id == element_id]
    rt.complete_human(task.task_id, {})


def waits(rt: CaseRuntime) -> bool:
    return bool(rt.human_tasks(NOW) or rt.service_calls() or rt.timers())


def flagged_or_refused(xml: str, after: str, blocked: tuple[str, ...], **data) -> None:
    """Whether deploy refuses the shape (with a located problem) or, if it runs, it either moves
    on or is flagged stuck after ``after`` — never active with nothing to wait for."""
    try:
        model = only(deploy(xml))
    except DeploymentError as exc:
        assert exc.problems and all(p.element_id for p in exc.problems), [str(p) for p in exc.problems]
        return
    rt, _ = CaseRuntime.start(model, {"urgency": "normal", **data})
    if rt.completed or waits(rt):
        assert rt.stuck() is None
        return
    stuck = rt.stuck()
    assert stuck is not None, "active with nothing to wait for, and not flagged"
    assert stuck.after.element_id == after
    assert tuple(w.element_id for w in stuck.blocked_at) == blocked


# -- stuck shapes ------------------------------------------------------------------------------
def test_a_parallel_gateway_merging_an_exclusive_split_is_stuck_after_the_task_done():
    rt = started(fake_join())
    assert rt.stuck() is None  # the task waits for a nurse
    do(rt, "Task_Normal")
    stuck = rt.stuck()
    assert not rt.completed and rt.current_steps() == []
    assert (stuck.after.element_id, stuck.after.name) == ("Task_Normal", "Käsittely")
    assert [w.element_id for w in stuck.blocked_at] == ["Join_1"]
    assert stuck.describe() == ("stuck after 'Käsittely' (Task_Normal): nothing waits for a person, a timer, "
                                "a message or a handler; 'Yhdistä' (Join_1) waits for something that cannot come")


def test_a_join_skipped_by_an_exclusive_path_while_the_other_branch_ended_is_a_deadlock():
    rt = started(side_end_and_skipped_join())
    assert rt.stuck() is None
    do(rt, "Task_Check")
    stuck = rt.stuck()
    assert stuck.after.element_id == "Gw_More"
    # the process's own end join, waiting for the ended side branch, is bookkeeping, not named
    assert [w.element_id for w in stuck.blocked_at] == ["Join_1"]


def test_a_timer_that_removes_the_only_wait_leaves_the_case_stuck_after_the_timer():
    with time_machine.travel(NOW, tick=False) as clock:
        rt = started(timer_cancels_the_only_wait())
        assert rt.stuck() is None and [t.element_id for t in rt.timers()] == ["Timer_Late"]
        clock.shift(timedelta(days=7, seconds=1))
        rt.fire_timers()
    assert rt.human_tasks(NOW) == [] and rt.timers() == []
    stuck = rt.stuck()
    assert stuck.after.element_id == "Timer_Late"
    assert [w.element_id for w in stuck.blocked_at] == ["Join_1"]


def test_a_signal_nobody_throws_is_flagged_unless_deploy_refuses_it():
    flagged_or_refused(catch_event('<bpmn:signalEventDefinition id="SED_1" signalRef="Signal_1" />',
                                   '<bpmn:signal id="Signal_1" name="valmis" />'), "StartEvent_1", ("Catch_1",))


def test_a_conditional_event_whose_condition_is_false_is_flagged_unless_deploy_refuses_it():
    flagged_or_refused(catch_event('<bpmn:conditionalEventDefinition id="CED_1"><bpmn:condition '
                                   'xsi:type="bpmn:tFormalExpression">approved</bpmn:condition>'
                                   "</bpmn:conditionalEventDefinition>"), "StartEvent_1", ("Catch_1",),
                       approved=False)


def test_a_link_throw_that_leads_nowhere_is_flagged_unless_it_runs_or_deploy_refuses_it():
    xml = diagram(START, '<bpmn:intermediateThrowEvent id="Throw_1" name="Jatko"><bpmn:linkEventDefinition '
                         'id="LED_1" name="jatko" /></bpmn:intermediateThrowEvent>',
                  '<bpmn:intermediateCatchEvent id="Catch_1" name="Jatko"><bpmn:linkEventDefinition '
                  'id="LED_2" name="jatko" /></bpmn:intermediateCatchEvent>', END,
                  seq_flow("StartEvent_1", "Throw_1"), seq_flow("Catch_1", "End_1"))
    flagged_or_refused(xml, "Throw_1", ())


def in_subprocess(loop: str = "") -> str:
    """The fake join inside an embedded subprocess (``loop``: its loop characteristics)."""
    inner = fake_join().split('<bpmn:process id="test_process" name="Testiprosessi" isExecutable="true">')[1]
    inner = inner.split("</bpmn:process>")[0].replace(START, '<bpmn:startEvent id="Sub_Start" name="Alku" />')
    inner = inner.replace("StartEvent_1", "Sub_Start").replace('"End_1"', '"Sub_End"').replace(
        'sourceRef="Join_1" targetRef="End_1"', 'sourceRef="Join_1" targetRef="Sub_End"')
    return diagram(START, f'<bpmn:subProcess id="Sub_1" name="Käsittely">{loop}{inner}</bpmn:subProcess>', END,
                   chain=["StartEvent_1", "Sub_1", "End_1"])


def test_a_stuck_embedded_subprocess_makes_the_case_stuck():
    rt = started(in_subprocess())
    assert rt.stuck() is None  # the task inside the subprocess waits
    do(rt, "Task_Normal")
    assert rt.stuck().after.element_id == "Task_Normal"


def test_a_stuck_instance_of_a_multi_instance_subprocess_makes_the_case_stuck():
    xml = in_subprocess('<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality '
                        'xsi:type="bpmn:tFormalExpression">1</bpmn:loopCardinality>'
                        "</bpmn:multiInstanceLoopCharacteristics>")
    try:
        rt = started(xml)
    except DeploymentError:
        return  # refused at deploy is the other acceptable outcome
    assert rt.stuck() is None
    do(rt, "Task_Normal")
    # the running multi-instance is not a wait of its own: its stuck instance is what counts
    stuck = rt.stuck()
    assert (stuck.after.element_id, [w.element_id for w in stuck.blocked_at]) == ("Task_Normal", ["Join_1"])


# -- not stuck ---------------------------------------------------------------------------------
def test_a_case_waiting_for_a_person_a_timer_a_handler_or_a_message_is_not_stuck():
    assert started(fake_join()).stuck() is None
    with time_machine.travel(NOW, tick=False):
        assert started(timer_cancels_the_only_wait()).stuck() is None
    service = diagram(START, service_task("Task_Notify", "Ilmoita", "record"), END,
                      chain=["StartEvent_1", "Task_Notify", "End_1"])
    rt = started(service)
    assert [c.element_id for c in rt.service_calls()] == ["Task_Notify"]
    assert rt.stuck() is None  # a running handler, even one that keeps failing (an incident shows it)
    message = catch_event('<bpmn:messageEventDefinition id="MED_1" messageRef="Message_1" />',
                          '<bpmn:message id="Message_1" name="vastaus" />')
    try:
        model = only(deploy(message))
    except DeploymentError:
        return  # messages are refused in this build; nothing to wait for
    rt, _ = CaseRuntime.start(model, {})
    assert not rt.completed and rt.stuck() is None  # a message can be delivered from outside


def test_an_ended_case_and_a_finished_side_branch_are_not_stuck():
    rt = started(diagram(START, END, chain=["StartEvent_1", "End_1"]))
    assert rt.completed and rt.stuck() is None
    side = diagram(START, '<bpmn:parallelGateway id="Split_1" name="Jako" />',
                   '<bpmn:endEvent id="End_Side" name="Ilmoitus tehty" />', task("Task_Check", "Tarkastus"), END,
                   seq_flow("StartEvent_1", "Split_1"), seq_flow("Split_1", "End_Side"),
                   seq_flow("Split_1", "Task_Check"), seq_flow("Task_Check", "End_1"))
    rt = started(side)
    assert rt.stuck() is None  # the end join waits for the ended branch, the task for a nurse
    do(rt, "Task_Check")
    assert rt.completed and rt.stuck() is None
