"""The loop shapes issue 9 names, drawn as Camunda Modeler writes them, for the engine and
service tests: each loops while the reviewer does not approve, and ends on approval."""
from __future__ import annotations

import pytest

from .helpers import END, START, diagram, field, seq_flow, simple_forms, user_task

FORMS = {
    "start": [field("approved", "checkbox")],
    "review": [field("approved", "checkbox"), field("note")],
    "follow_up": [field("need_continues", "checkbox")],
}
REVIEW_FORMS = simple_forms(**FORMS)
ROLE = "social_worker"  # the lane every shape's people work in
APPROVED, REJECTED = "approved == True", "approved == False"
RECORD = ('<bpmn:serviceTask id="Task_Record" name="Kirjaa" camunda:type="external" camunda:topic="record">'
          '<bpmn:extensionElements><camunda:inputOutput>'
          '<camunda:inputParameter name="document">review_round</camunda:inputParameter>'
          '<camunda:inputParameter name="fields">note</camunda:inputParameter>'
          '</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>')
DECIDE = '<bpmn:exclusiveGateway id="Gateway_Approved" name="Hyväksytty?" />'
MERGE = '<bpmn:exclusiveGateway id="Gateway_Merge" name="Uusi kierros" />'
REVIEW = user_task("Task_Review", "Tarkastus", formRef="review")
SUB_REVIEW = user_task("Task_Review", "Tarkastus", formRef="review", candidateGroups=ROLE)


def _lane(*nodes: str, flows: list[str]) -> str:
    ids = [n.split('id="', 1)[1].split('"', 1)[0] for n in nodes]
    return diagram(*nodes, *flows, lanes={ROLE: ids})


def straight_back() -> str:
    """(a) start → Review → gateway → back to Review."""
    return _lane(START, REVIEW, DECIDE, END, flows=[
        seq_flow("StartEvent_1", "Task_Review"), seq_flow("Task_Review", "Gateway_Approved"),
        seq_flow("Gateway_Approved", "End_1", APPROVED), seq_flow("Gateway_Approved", "Task_Review", REJECTED)])


def through_merge() -> str:
    """(b) start → merge → Review → gateway → back to the merge."""
    return _lane(START, MERGE, REVIEW, DECIDE, END, flows=[
        seq_flow("StartEvent_1", "Gateway_Merge"), seq_flow("Gateway_Merge", "Task_Review"),
        seq_flow("Task_Review", "Gateway_Approved"), seq_flow("Gateway_Approved", "End_1", APPROVED),
        seq_flow("Gateway_Approved", "Gateway_Merge", REJECTED)])


def back_to_service() -> str:
    """(c) start → Record (handler) → Review → gateway → back to Record."""
    return _lane(START, RECORD, REVIEW, DECIDE, END, flows=[
        seq_flow("StartEvent_1", "Task_Record"), seq_flow("Task_Record", "Task_Review"),
        seq_flow("Task_Review", "Gateway_Approved"), seq_flow("Gateway_Approved", "End_1", APPROVED),
        seq_flow("Gateway_Approved", "Task_Record", REJECTED)])


def across_parallel() -> str:
    """(d) start → merge → split → Review ∥ Check → join → gateway → back to the merge."""
    return _lane(
        START, MERGE, '<bpmn:parallelGateway id="Gateway_Split" name="Yhtä aikaa" />', REVIEW,
        user_task("Task_Check", "Toinen tarkastus", formRef="review"),
        '<bpmn:parallelGateway id="Gateway_Join" name="Molemmat valmiit" />', DECIDE, END, flows=[
            seq_flow("StartEvent_1", "Gateway_Merge"), seq_flow("Gateway_Merge", "Gateway_Split"),
            seq_flow("Gateway_Split", "Task_Review"), seq_flow("Gateway_Split", "Task_Check"),
            seq_flow("Task_Review", "Gateway_Join"), seq_flow("Task_Check", "Gateway_Join"),
            seq_flow("Gateway_Join", "Gateway_Approved"), seq_flow("Gateway_Approved", "End_1", APPROVED),
            seq_flow("Gateway_Approved", "Gateway_Merge", REJECTED)])


def nested() -> str:
    """(e) an inner rework loop (Review until approved) inside an outer follow-up loop."""
    return _lane(
        START, '<bpmn:exclusiveGateway id="Gateway_Outer" name="Uusi seurantajakso" />', MERGE, REVIEW, DECIDE,
        user_task("Task_FollowUp", "Seuranta", formRef="follow_up"),
        '<bpmn:exclusiveGateway id="Gateway_Continues" name="Jatkuuko?" />', END, flows=[
            seq_flow("StartEvent_1", "Gateway_Outer"), seq_flow("Gateway_Outer", "Gateway_Merge"),
            seq_flow("Gateway_Merge", "Task_Review"), seq_flow("Task_Review", "Gateway_Approved"),
            seq_flow("Gateway_Approved", "Gateway_Merge", REJECTED),
            seq_flow("Gateway_Approved", "Task_FollowUp", APPROVED),
            seq_flow("Task_FollowUp", "Gateway_Continues"),
            seq_flow("Gateway_Continues", "Gateway_Outer", "need_continues == True"),
            seq_flow("Gateway_Continues", "End_1", "need_continues == False")])


def _subprocess(inner: list[str], flows: list[str]) -> str:
    body = "".join(["\n      " + n for n in inner] + ["\n  " + f for f in flows])
    return f'<bpmn:subProcess id="Sub_Round" name="Kierros">{body}\n    </bpmn:subProcess>'


def loop_in_subprocess() -> str:
    """(f) the rework loop inside an embedded subprocess."""
    sub = _subprocess(
        ['<bpmn:startEvent id="Sub_Start" />', MERGE, SUB_REVIEW, DECIDE, '<bpmn:endEvent id="Sub_End" />'],
        [seq_flow("Sub_Start", "Gateway_Merge"), seq_flow("Gateway_Merge", "Task_Review"),
         seq_flow("Task_Review", "Gateway_Approved"), seq_flow("Gateway_Approved", "Sub_End", APPROVED),
         seq_flow("Gateway_Approved", "Gateway_Merge", REJECTED)])
    return _lane(START, sub, END, flows=[seq_flow("StartEvent_1", "Sub_Round"), seq_flow("Sub_Round", "End_1")])


def looping_subprocess() -> str:
    """(f') the embedded subprocess itself runs again until approved."""
    sub = _subprocess(['<bpmn:startEvent id="Sub_Start" />', SUB_REVIEW, '<bpmn:endEvent id="Sub_End" />'],
                      [seq_flow("Sub_Start", "Task_Review"), seq_flow("Task_Review", "Sub_End")])
    return _lane(START, MERGE, sub, DECIDE, END, flows=[
        seq_flow("StartEvent_1", "Gateway_Merge"), seq_flow("Gateway_Merge", "Sub_Round"),
        seq_flow("Sub_Round", "Gateway_Approved"), seq_flow("Gateway_Approved", "End_1", APPROVED),
        seq_flow("Gateway_Approved", "Gateway_Merge", REJECTED)])


SEQUENTIAL = {"straight_back": straight_back, "through_merge": through_merge, "back_to_service": back_to_service,
              "loop_in_subprocess": loop_in_subprocess, "looping_subprocess": looping_subprocess}


def straight_back_with_reminder() -> str:
    """(a) with a non-interrupting 3-day reminder on Review that asks someone to phone."""
    return _lane(
        START, REVIEW, DECIDE, END,
        '<bpmn:boundaryEvent id="Timer_Remind" name="Kolme päivää" cancelActivity="false" '
        'attachedToRef="Task_Review"><bpmn:timerEventDefinition id="TimerDef_Remind">'
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P3D</bpmn:timeDuration>'
        '</bpmn:timerEventDefinition></bpmn:boundaryEvent>',
        user_task("Task_Call", "Soita asiakkaalle", formRef="review"),
        '<bpmn:endEvent id="End_Called" name="Soitettu" />', flows=[
            seq_flow("StartEvent_1", "Task_Review"), seq_flow("Task_Review", "Gateway_Approved"),
            seq_flow("Gateway_Approved", "End_1", APPROVED), seq_flow("Gateway_Approved", "Task_Review", REJECTED),
            seq_flow("Timer_Remind", "Task_Call"), seq_flow("Task_Call", "End_Called")])


def escalation_loop() -> str:
    """An interrupting 2-day timer on Review escalates to the coordinator, who sends it back."""
    return _lane(
        START, MERGE, REVIEW, DECIDE, END,
        '<bpmn:boundaryEvent id="Timer_Late" name="Kaksi päivää" attachedToRef="Task_Review">'
        '<bpmn:timerEventDefinition id="TimerDef_Late">'
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P2D</bpmn:timeDuration>'
        '</bpmn:timerEventDefinition></bpmn:boundaryEvent>',
        user_task("Task_Escalate", "Selvitä viive", formRef="review"), flows=[
            seq_flow("StartEvent_1", "Gateway_Merge"), seq_flow("Gateway_Merge", "Task_Review"),
            seq_flow("Task_Review", "Gateway_Approved"), seq_flow("Gateway_Approved", "End_1", APPROVED),
            seq_flow("Gateway_Approved", "Gateway_Merge", REJECTED),
            seq_flow("Timer_Late", "Task_Escalate"), seq_flow("Task_Escalate", "Gateway_Merge")])


def loop_beside_a_waiting_branch() -> str:
    """A rework loop on one parallel branch while the other branch's task stays open."""
    return _lane(
        START, '<bpmn:parallelGateway id="Gateway_Split" name="Yhtä aikaa" />', MERGE, REVIEW, DECIDE,
        user_task("Task_Check", "Toinen tarkastus", formRef="review"),
        '<bpmn:parallelGateway id="Gateway_Join" name="Molemmat valmiit" />', END, flows=[
            seq_flow("StartEvent_1", "Gateway_Split"), seq_flow("Gateway_Split", "Gateway_Merge"),
            seq_flow("Gateway_Split", "Task_Check"), seq_flow("Gateway_Merge", "Task_Review"),
            seq_flow("Task_Review", "Gateway_Approved"), seq_flow("Gateway_Approved", "Gateway_Merge", REJECTED),
            seq_flow("Gateway_Approved", "Gateway_Join", APPROVED), seq_flow("Task_Check", "Gateway_Join"),
            seq_flow("Gateway_Join", "End_1")])


def looping_subprocess_with_work() -> str:
    """(f') where the subprocess records the round (a handler) before the review waits."""
    sub = _subprocess(['<bpmn:startEvent id="Sub_Start" />', RECORD, SUB_REVIEW, '<bpmn:endEvent id="Sub_End" />'],
                      [seq_flow("Sub_Start", "Task_Record"), seq_flow("Task_Record", "Task_Review"),
                       seq_flow("Task_Review", "Sub_End")])
    return _lane(START, MERGE, sub, DECIDE, END, flows=[
        seq_flow("StartEvent_1", "Gateway_Merge"), seq_flow("Gateway_Merge", "Sub_Round"),
        seq_flow("Sub_Round", "Gateway_Approved"), seq_flow("Gateway_Approved", "End_1", APPROVED),
        seq_flow("Gateway_Approved", "Gateway_Merge", REJECTED)])


def into_the_parallel_split() -> str:
    """(d) drawn without the merge: the gateway flows straight back into the parallel split."""
    return _lane(
        START, '<bpmn:parallelGateway id="Gateway_Split" name="Yhtä aikaa" />', REVIEW,
        user_task("Task_Check", "Toinen tarkastus", formRef="review"),
        '<bpmn:parallelGateway id="Gateway_Join" name="Molemmat valmiit" />', DECIDE, END, flows=[
            seq_flow("StartEvent_1", "Gateway_Split"),
            seq_flow("Gateway_Split", "Task_Review"), seq_flow("Gateway_Split", "Task_Check"),
            seq_flow("Task_Review", "Gateway_Join"), seq_flow("Task_Check", "Gateway_Join"),
            seq_flow("Gateway_Join", "Gateway_Approved"), seq_flow("Gateway_Approved", "End_1", APPROVED),
            seq_flow("Gateway_Approved", "Gateway_Split", REJECTED)])


# Every loop shape of issue 9 point 1: (test id, diagram, open tasks a round, nested decision?)
ALL = [
    ("straight-back-to-the-user-task", straight_back, 1, False),
    ("through-a-merging-gateway", through_merge, 1, False),
    ("back-to-a-service-task", back_to_service, 1, False),
    ("across-a-parallel-split-and-join", across_parallel, 2, False),
    ("straight-into-the-parallel-split", into_the_parallel_split, 2, False),
    ("nested-loops", nested, 1, True),
    ("inside-an-embedded-subprocess", loop_in_subprocess, 1, False),
    ("the-subprocess-itself-loops", looping_subprocess, 1, False),
    ("the-subprocess-loops-and-works-before-it-waits", looping_subprocess_with_work, 1, False),
]


def params(decide, nested_decide) -> list:
    """``ALL`` as pytest parameters (shape, decide, per_round) with the caller's decisions."""
    return [pytest.param(shape, nested_decide if is_nested else decide, per_round, id=name)
            for name, shape, per_round, is_nested in ALL]
