"""Each BPMN construct either runs to its end as a Camunda 7 user expects, or deploy refuses it
with one located message and what to draw instead (docs/engine/constructs.md)."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from orchestrator.engine.library_messages import problem_from_library
from orchestrator.engine.runtime import CaseRuntime

from .helpers import (
    END,
    START,
    deploy,
    diagram,
    line_of,
    only_problem,
    rejected,
    seq_flow,
    service_task,
    user_task,
)

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
ESCALATIONS = ('<bpmn:escalation id="Esc_1" name="Lääkäri tarvitaan" escalationCode="doctor" />'
               '<bpmn:escalation id="Esc_2" name="Muu" escalationCode="other" />')
LIBRARY_TEXT = ("No start event found", "NotImplementedError", " at 0x", "{http", "Error(",
                "not supported for tasks of type", "was not found")


def nurse(*ids: str) -> dict:
    return {"nurse": list(ids)}


def between(node: str, node_id: str = "Task_1", *extra: str, definitions: str = "") -> str:
    """Start → ``node`` → end, everything in a nurse lane."""
    ids = ["StartEvent_1", node_id, "End_1"]
    xml = diagram(START, node, END, *extra, chain=ids, lanes=nurse(*ids, *_ids_in(extra)))
    return xml.replace("</bpmn:definitions>", definitions + "</bpmn:definitions>")


def _ids_in(nodes) -> list[str]:
    found = (re.match(r'\s*<bpmn:(\w+) id="([^"]+)"', n) for n in nodes)
    return [m.group(2) for m in found if m and m.group(1) != "sequenceFlow"]


def run(xml: str, data: dict | None = None, forms=None) -> tuple[CaseRuntime, list[str]]:
    (model,) = deploy(xml, forms)
    runtime, steps = CaseRuntime.start(model, {"urgency": "normal", **(data or {})})
    return runtime, [s.element_id for s in steps]


def reloaded(runtime: CaseRuntime) -> CaseRuntime:
    """The case as the next unit of work sees it: saved and loaded again."""
    return CaseRuntime.load(runtime.model, runtime.dumps())


def open_ids(runtime: CaseRuntime) -> list[str]:
    return sorted(h.element_id for h in runtime.human_tasks(NOW))


def complete(runtime: CaseRuntime, element_id: str, data: dict | None = None) -> list[str]:
    (task,) = [h for h in runtime.human_tasks(NOW) if h.element_id == element_id]
    return [s.element_id for s in runtime.complete_human(task.task_id, data or {})]


def refused(xml: str, element_id: str, *words: str, fix: str = ""):
    problem = only_problem(rejected(xml))
    assert problem.element_id == element_id
    assert problem.file == "test.bpmn" and problem.line == line_of(xml, f'id="{element_id}"')
    for word in words:
        assert word in problem.message, problem.message
    assert fix in (problem.fix or "") and problem.fix
    assert not any(text in str(problem) for text in LIBRARY_TEXT), str(problem)
    return problem


# -- plain and manual tasks pass through, as in Camunda 7 ------------------------------------

@pytest.mark.parametrize("tag", ["task", "manualTask"])
def test_plain_and_manual_tasks_pass_through_and_are_recorded_as_steps(tag):
    runtime, steps = run(between(f'<bpmn:{tag} id="Task_1" name="Soita asiakkaalle" />'))
    assert steps == ["StartEvent_1", "Task_1", "End_1"]
    assert runtime.completed and runtime.human_tasks(NOW) == [] and runtime.service_calls() == []


@pytest.mark.parametrize(("tag", "attribute", "said"), [
    ("manualTask", 'camunda:candidateGroups="nurse"', "candidate groups"),
    ("manualTask", 'camunda:assignee="nina"', "an assignee"),
    ("task", 'camunda:formRef="check"', "a form"),
])
def test_a_plain_or_manual_task_meant_for_a_person_is_refused(tag, attribute, said):
    xml = between(f'<bpmn:{tag} id="Task_1" name="Tarkista" {attribute} />')
    refused(xml, "Task_1", said, "meant for a person", fix="make it a user task")


# -- send tasks are external tasks ------------------------------------------------------------

def test_an_external_send_task_calls_its_topic_like_a_service_task():
    task = ('<bpmn:sendTask id="Task_1" name="Lähetä kutsu" camunda:type="external" camunda:topic="notify">'
            '<bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="to_role">nurse'
            "</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:sendTask>")
    runtime, steps = run(between(task))
    assert steps == ["StartEvent_1"] and not runtime.completed
    (call,) = runtime.service_calls()
    assert (call.element_id, call.topic, call.params) == ("Task_1", "notify", {"to_role": "nurse"})
    assert runtime.current_steps(calls=[call]) == ["Task_1"]
    assert [s.element_id for s in runtime.complete_service(call.task_id, {"sent": True})] == ["Task_1", "End_1"]
    assert runtime.completed and runtime.data()["sent"] is True


def test_a_send_task_without_an_external_topic_is_refused():
    refused(between('<bpmn:sendTask id="Task_1" name="Lähetä" />'), "Task_1", "a send task needs an external topic",
            fix='camunda:type="external"')


# -- link events ------------------------------------------------------------------------------

def link(kind: str, event_id: str, name: str) -> str:
    return (f'<bpmn:intermediate{kind}Event id="{event_id}" name="{name}">'
            f'<bpmn:linkEventDefinition id="Link_{event_id}" name="{name}" /></bpmn:intermediate{kind}Event>')


def test_a_link_throw_jumps_to_the_catch_of_the_same_name():
    ids = ["StartEvent_1", "Throw_1", "Catch_1", "Task_1", "End_1"]
    xml = diagram(START, link("Throw", "Throw_1", "Sivu 2"), link("Catch", "Catch_1", "Sivu 2"),
                  user_task(formRef="check"), END,
                  seq_flow("StartEvent_1", "Throw_1"), seq_flow("Catch_1", "Task_1"), seq_flow("Task_1", "End_1"),
                  lanes=nurse(*ids))
    runtime, steps = run(xml)
    assert steps == ["StartEvent_1", "Throw_1", "Catch_1"] and open_ids(runtime) == ["Task_1"]
    assert complete(runtime, "Task_1") == ["Task_1", "End_1"] and runtime.completed
    assert "Throw_1_link_" not in runtime.model.bpmn  # the stored diagram is as drawn


def test_a_link_throw_without_its_catch_is_refused():
    ids = ["StartEvent_1", "Throw_1", "End_1"]
    xml = diagram(START, link("Throw", "Throw_1", "Sivu 2"), link("Catch", "Catch_1", "Sivu 3"), END,
                  seq_flow("StartEvent_1", "Throw_1"), seq_flow("Catch_1", "End_1"), lanes=nurse(*ids, "Catch_1"))
    refused(xml, "Throw_1", "no link catch event named 'Sivu 2'", fix="add an intermediate catch link event")


# -- data objects and data stores are documentation, as in Camunda 7 -----------------------------

@pytest.mark.parametrize("target", [
    '<bpmn:dataObjectReference id="Ref_1" name="Suunnitelma" dataObjectRef="DataObject_1" />'
    '<bpmn:dataObject id="DataObject_1" />',
    '<bpmn:dataStoreReference id="Ref_1" name="Potilastietojärjestelmä" />',
])
def test_data_objects_and_stores_with_associations_do_not_change_the_run(target):
    task = ('<bpmn:userTask id="Task_1" name="Tarkastus" camunda:formRef="check">'
            '<bpmn:dataInputAssociation id="In_1"><bpmn:sourceRef>Ref_1</bpmn:sourceRef></bpmn:dataInputAssociation>'
            '<bpmn:dataOutputAssociation id="Out_1"><bpmn:targetRef>Ref_1</bpmn:targetRef></bpmn:dataOutputAssociation>'
            "</bpmn:userTask>")
    runtime, _ = run(between(task, "Task_1", target))
    assert complete(runtime, "Task_1", {"score": 3}) == ["Task_1", "End_1"]
    assert runtime.completed and runtime.data()["score"] == 3  # not moved into a data object


# -- inclusive gateways -----------------------------------------------------------------------

def inclusive() -> str:
    ids = ["StartEvent_1", "Split_1", "Task_1", "Task_2", "Join_1", "End_1"]
    return diagram(START, '<bpmn:inclusiveGateway id="Split_1" name="Mitä tarvitaan?" default="Flow_none" />',
                   user_task("Task_1", "Kiireellinen", formRef="check"), user_task("Task_2", "Hyväksytty", formRef="check"),
                   '<bpmn:inclusiveGateway id="Join_1" />', END,
                   seq_flow("StartEvent_1", "Split_1"),
                   seq_flow("Split_1", "Task_1", "urgency == 'urgent'"), seq_flow("Split_1", "Task_2", "approved == True"),
                   seq_flow("Split_1", "Join_1", flow_id="Flow_none"),
                   seq_flow("Task_1", "Join_1"), seq_flow("Task_2", "Join_1"), seq_flow("Join_1", "End_1"),
                   lanes=nurse(*ids))


def test_an_inclusive_gateway_takes_every_true_flow_and_its_join_waits_for_them_all():
    runtime, _ = run(inclusive(), {"urgency": "urgent", "approved": True})
    assert open_ids(runtime) == ["Task_1", "Task_2"]
    assert complete(runtime, "Task_1") == ["Task_1"] and not runtime.completed
    assert complete(runtime, "Task_2") == ["Task_2", "Join_1", "End_1"] and runtime.completed


def test_an_inclusive_gateway_takes_one_true_flow_or_else_its_default():
    runtime, _ = run(inclusive(), {"urgency": "normal", "approved": True})
    assert open_ids(runtime) == ["Task_2"]
    assert complete(runtime, "Task_2") == ["Task_2", "Join_1", "End_1"] and runtime.completed
    runtime, steps = run(inclusive(), {"urgency": "normal", "approved": False})
    assert steps[-2:] == ["Join_1", "End_1"] and runtime.completed


# -- escalation and transaction subprocesses -----------------------------------------------------

def subprocess(tag: str, end: str) -> str:
    return (f'<bpmn:{tag} id="Sub_1" name="Alkuarvio"><bpmn:startEvent id="SubStart_1" />'
            '<bpmn:userTask id="Task_2" name="Arvio" camunda:formRef="check" camunda:candidateGroups="nurse" />'
            f"{end}"
            '<bpmn:sequenceFlow id="Flow_s1" sourceRef="SubStart_1" targetRef="Task_2" />'
            '<bpmn:sequenceFlow id="Flow_s2" sourceRef="Task_2" targetRef="SubEnd_1" />'
            f"</bpmn:{tag}>")


def escalating(catch_ref: str | None, interrupting: bool = True) -> str:
    ids = ["StartEvent_1", "Sub_1", "Boundary_1", "Task_1", "End_1", "End_2"]
    ref = f' escalationRef="{catch_ref}"' if catch_ref else ""
    end = ('<bpmn:endEvent id="SubEnd_1" name="Lääkäri tarvitaan">'
           '<bpmn:escalationEventDefinition id="Esc_def_1" escalationRef="Esc_1" /></bpmn:endEvent>')
    xml = diagram(START, subprocess("subProcess", end), user_task(formRef="check"), END,
                  f'<bpmn:boundaryEvent id="Boundary_1" name="Eskaloitu" attachedToRef="Sub_1" '
                  f'cancelActivity="{str(interrupting).lower()}"><bpmn:escalationEventDefinition id="Esc_def_2"{ref} />'
                  "</bpmn:boundaryEvent>", '<bpmn:endEvent id="End_2" name="Valmis" />',
                  seq_flow("StartEvent_1", "Sub_1"), seq_flow("Sub_1", "End_2"),
                  seq_flow("Boundary_1", "Task_1"), seq_flow("Task_1", "End_1"), lanes=nurse(*ids))
    return xml.replace("</bpmn:definitions>", ESCALATIONS + "</bpmn:definitions>")


@pytest.mark.parametrize("catch_ref", ["Esc_1", None])
def test_an_escalation_is_caught_by_the_boundary_of_its_subprocess(catch_ref):
    runtime, _ = run(escalating(catch_ref))
    runtime = reloaded(runtime)
    assert complete(runtime, "Task_2") == ["Task_2", "SubEnd_1", "Sub_1", "Boundary_1"]
    assert open_ids(runtime) == ["Task_1"]
    assert complete(runtime, "Task_1") == ["Task_1", "End_1"] and runtime.completed


def test_an_escalation_of_another_code_is_not_caught_and_the_case_goes_on():
    runtime, _ = run(escalating("Esc_2"))
    assert complete(runtime, "Task_2")[-1] == "End_2" and runtime.completed


def test_a_transaction_runs_like_an_embedded_subprocess():
    xml = between(subprocess("transaction", '<bpmn:endEvent id="SubEnd_1" />'), "Sub_1")
    runtime, _ = run(xml)
    runtime = reloaded(runtime)
    assert open_ids(runtime) == ["Task_2"]
    assert complete(runtime, "Task_2") == ["Task_2", "SubEnd_1", "Sub_1", "End_1"] and runtime.completed


def test_a_cancel_end_event_in_a_transaction_is_refused():
    end = '<bpmn:endEvent id="SubEnd_1" name="Peru"><bpmn:cancelEventDefinition id="Cancel_1" /></bpmn:endEvent>'
    refused(between(subprocess("transaction", end), "Sub_1"), "SubEnd_1", "cancel events are not supported",
            fix="ordinary steps")


# -- refused constructs -------------------------------------------------------------------------

CONDITION = '<bpmn:condition xsi:type="bpmn:tFormalExpression">urgency == "urgent"</bpmn:condition>'


@pytest.mark.parametrize(("node", "element_id", "words", "fix"), [
    ('<bpmn:complexGateway id="Gateway_1" name="Monimutkainen" />', "Gateway_1",
     "complex gateways", "inclusive gateway"),
    ('<bpmn:adHocSubProcess id="Sub_1" name="Vapaa järjestys"><bpmn:userTask id="Task_2" name="A" camunda:candidateGroups="nurse" '
     'camunda:formRef="check" /><bpmn:completionCondition xsi:type="bpmn:tFormalExpression">score == 1'
     "</bpmn:completionCondition></bpmn:adHocSubProcess>", "Sub_1", "ad-hoc subprocesses", "parallel"),
    (f'<bpmn:intermediateCatchEvent id="Catch_1" name="Kun kiireellinen"><bpmn:conditionalEventDefinition '
     f'id="Cond_1">{CONDITION}</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>', "Catch_1",
     "wait forever", "exclusive gateway"),
    ('<bpmn:intermediateCatchEvent id="Catch_1" name="Hälytys"><bpmn:signalEventDefinition id="Sig_def" '
     'signalRef="Signal_1" /></bpmn:intermediateCatchEvent>', "Catch_1", "signal events", "message event"),
    ('<bpmn:intermediateThrowEvent id="Throw_1" name="Kompensoi"><bpmn:compensateEventDefinition id="Comp_1" />'
     "</bpmn:intermediateThrowEvent>", "Throw_1", "compensation", "ordinary steps"),
    (service_task("Task_1", "Peru varaus").replace("<bpmn:serviceTask ", '<bpmn:serviceTask isForCompensation="true" ', 1),
     "Task_1", "compensation handlers", "ordinary steps"),
])
def test_constructs_that_cannot_run_are_refused_with_one_located_message(node, element_id, words, fix):
    xml = between(node, element_id, definitions='<bpmn:signal id="Signal_1" name="Hälytys" />')
    refused(xml, element_id, words, fix=fix)


@pytest.mark.parametrize("definition", [
    f'<bpmn:conditionalEventDefinition id="Cond_1">{CONDITION}</bpmn:conditionalEventDefinition>',
    '<bpmn:compensateEventDefinition id="Comp_1" />',
    '<bpmn:signalEventDefinition id="Sig_def" signalRef="Signal_1" />',
])
def test_conditional_compensation_and_signal_boundary_events_are_refused(definition):
    xml = between(user_task(formRef="check"), "Task_1",
                  f'<bpmn:boundaryEvent id="Boundary_1" name="Reuna" attachedToRef="Task_1">{definition}'
                  "</bpmn:boundaryEvent>", '<bpmn:endEvent id="End_2" />', seq_flow("Boundary_1", "End_2"),
                  definitions='<bpmn:signal id="Signal_1" name="Hälytys" />')
    refused(xml, "Boundary_1", "not supported", fix=" ")


def test_a_task_with_several_outgoing_flows_is_refused_with_the_parallel_gateway_fix():
    ids = ["StartEvent_1", "Task_1", "Task_2", "End_1", "End_2"]
    xml = diagram(START, user_task(formRef="check"), user_task("Task_2", "Toinen", formRef="check"), END,
                  '<bpmn:endEvent id="End_2" />', seq_flow("StartEvent_1", "Task_1"), seq_flow("Task_1", "Task_2"),
                  seq_flow("Task_1", "End_2"), seq_flow("Task_2", "End_1"), lanes=nurse(*ids))
    refused(xml, "Task_1", "2 sequence flows leave", fix="put a parallel gateway after it")


@pytest.mark.parametrize("condition", ["score &gt; 5", "${no_such_field}"])
def test_a_conditional_flow_straight_out_of_a_task_is_refused_with_the_gateway_fix(condition):
    ids = ["StartEvent_1", "Task_1", "End_1"]
    xml = diagram(START, user_task(formRef="check"), END, seq_flow("StartEvent_1", "Task_1"),
                  seq_flow("Task_1", "End_1", condition), lanes=nurse(*ids))
    refused(xml, "Task_1", "conditional sequence flows", fix="put an exclusive gateway after it")


def test_a_start_event_may_fork_like_camunda_does():
    ids = ["StartEvent_1", "Task_1", "Task_2", "End_1", "End_2"]
    xml = diagram(START, user_task(formRef="check"), user_task("Task_2", "Toinen", formRef="check"), END,
                  '<bpmn:endEvent id="End_2" />', seq_flow("StartEvent_1", "Task_1"), seq_flow("StartEvent_1", "Task_2"),
                  seq_flow("Task_1", "End_1"), seq_flow("Task_2", "End_2"), lanes=nurse(*ids))
    runtime, _ = run(xml)
    assert open_ids(runtime) == ["Task_1", "Task_2"]


# -- nothing to run -------------------------------------------------------------------------------

@pytest.mark.parametrize(("nodes", "chain", "words", "fix"), [
    (('<bpmn:startEvent id="StartEvent_1" />',), (), "has only a start event", "draw the pathway"),
    ((START, user_task(formRef="check")), ("StartEvent_1", "Task_1"), "has no end event", "add an end event"),
    ((user_task(formRef="check"), END), ("Task_1", "End_1"), "has no start event", "add a start event"),
    ((), (), "is empty", "draw the pathway"),
])
def test_a_process_with_nothing_to_run_is_refused(nodes, chain, words, fix):
    xml = diagram(*nodes, chain=chain, lanes=nurse(*chain) if chain else None)
    problem = refused(xml, "test_process", "nothing to run", words, fix=fix)
    assert problem.element_name == "Testiprosessi"


def test_two_plain_start_events_are_refused():
    ids = ["StartEvent_1", "StartEvent_2", "Task_1", "End_1"]
    xml = diagram(START, '<bpmn:startEvent id="StartEvent_2" name="Toinen alku" />', user_task(formRef="check"), END,
                  seq_flow("StartEvent_1", "Task_1"), seq_flow("StartEvent_2", "Task_1"), seq_flow("Task_1", "End_1"),
                  lanes=nurse(*ids))
    refused(xml, "StartEvent_2", "2 plain start events", fix="keep one start event")


# -- library text never reaches the designer ----------------------------------------------------------

def test_a_schema_error_is_located_and_said_without_namespaces():
    xml = between('<bpmn:userTask id="Task_1" name="Tarkastus" camunda:formRef="check"><bpmn:notBpmn />'
                  "</bpmn:userTask>")
    problem = refused(xml, "Task_1", "does not follow the BPMN 2.0 schema", "<notBpmn> is not allowed here",
                      fix="Camunda Modeler")
    assert "Expected is" not in problem.message


def test_a_flow_to_a_missing_element_is_located_on_the_flow():
    ids = ["StartEvent_1", "End_1"]
    xml = diagram(START, END, seq_flow("StartEvent_1", "Nowhere_1"), lanes=nurse(*ids))
    refused(xml, "Flow_StartEvent_1_Nowhere_1", "goes to 'Nowhere_1'", fix="draw it again")


def test_a_boundary_event_without_a_type_is_refused_without_a_python_repr():
    xml = between(user_task(formRef="check"), "Task_1",
                  '<bpmn:boundaryEvent id="Boundary_1" name="Reuna" attachedToRef="Task_1" />',
                  '<bpmn:endEvent id="End_2" />', seq_flow("Boundary_1", "End_2"))
    refused(xml, "Boundary_1", "no type Polku can wait for", fix="timer")


def _process_root() -> etree._Element:
    xml = between(user_task(formRef="check"))
    return etree.fromstring(xml.encode())


@pytest.mark.parametrize(("exc", "words", "fix"), [
    (lambda p: ValidationException("No start event found", node=p), "has no start event", "add a start event"),
    (lambda p: ValidationException("Multiple outgoing flows are not supported for tasks of type", node=p),
     "several sequence flows", "parallel gateway"),
    (lambda p: ValidationException("Cannot resolve dataOutputAssociation <Element {http://www.omg.org/spec/"
                                   "BPMN/20100524/MODEL}targetRef at 0x7f3a2b1c0>", node=p),
     "data association", "draw it again"),
    (lambda p: ValidationException("The process 'other_pathway' was not found. Did you mean one of ...", node=p),
     "'other_pathway' is not deployed", "deploy it"),
    (lambda p: ValidationException("NotImplementedError('Something new: %r', b'<bpmn:foo id=\"X\"/>')", node=p),
     "Something new", "Camunda Modeler"),
])
def test_library_messages_become_located_problems_in_our_words(exc, words, fix):
    root = _process_root()
    task = root.xpath("//*[@id='Task_1']")[0]
    problem = problem_from_library(exc(task), root, "test.bpmn")
    assert (problem.element_id, problem.element_name, problem.line) == ("Task_1", "Tarkastus", task.sourceline)
    assert words in problem.message and fix in problem.fix
    assert not any(text in str(problem) for text in LIBRARY_TEXT), str(problem)


def test_a_call_to_a_process_that_is_not_deployed_is_located_on_the_call_activity():
    ids = ["StartEvent_1", "Call_1", "End_1"]
    xml = diagram(START, '<bpmn:callActivity id="Call_1" name="Jatkopolku" calledElement="no_such_pathway" />', END,
                  chain=ids, lanes=nurse(*ids))
    problem = only_problem(rejected(xml))
    assert (problem.element_id, problem.line) == ("Call_1", line_of(xml, 'id="Call_1"'))
    assert "no_such_pathway" in problem.message and problem.fix
    assert not any(text in str(problem) for text in LIBRARY_TEXT), str(problem)


def test_link_events_inside_an_embedded_subprocess_jump_there():
    inner = ('<bpmn:subProcess id="Sub_1" name="Ali"><bpmn:startEvent id="SubStart_1" />'
             + link("Throw", "Throw_1", "Eteenpäin") + link("Catch", "Catch_1", "Eteenpäin")
             + '<bpmn:userTask id="Task_2" name="Arvio" camunda:formRef="check" camunda:candidateGroups="nurse" />'
             '<bpmn:endEvent id="SubEnd_1" /><bpmn:sequenceFlow id="Flow_a" sourceRef="SubStart_1" targetRef="Throw_1" />'
             '<bpmn:sequenceFlow id="Flow_b" sourceRef="Catch_1" targetRef="Task_2" />'
             '<bpmn:sequenceFlow id="Flow_c" sourceRef="Task_2" targetRef="SubEnd_1" /></bpmn:subProcess>')
    runtime, steps = run(between(inner, "Sub_1"))
    assert steps[-2:] == ["Throw_1", "Catch_1"] and open_ids(runtime) == ["Task_2"]
    assert complete(runtime, "Task_2") == ["Task_2", "SubEnd_1", "Sub_1", "End_1"] and runtime.completed


def test_an_escalation_thrown_in_the_main_flow_starts_a_non_interrupting_event_subprocess():
    handler = ('<bpmn:subProcess id="Events_1" name="Eskalaatio" triggeredByEvent="true">'
               '<bpmn:startEvent id="EventStart_1" isInterrupting="false"><bpmn:escalationEventDefinition '
               'id="Esc_def_2" escalationRef="Esc_1" /></bpmn:startEvent>'
               '<bpmn:userTask id="Task_2" name="Hoida" camunda:formRef="check" camunda:candidateGroups="nurse" />'
               '<bpmn:endEvent id="EventEnd_1" /><bpmn:sequenceFlow id="Flow_e1" sourceRef="EventStart_1" '
               'targetRef="Task_2" /><bpmn:sequenceFlow id="Flow_e2" sourceRef="Task_2" targetRef="EventEnd_1" />'
               "</bpmn:subProcess>")
    ids = ["StartEvent_1", "Throw_1", "Task_1", "End_1"]
    xml = diagram(START, '<bpmn:intermediateThrowEvent id="Throw_1" name="Eskaloi"><bpmn:escalationEventDefinition '
                  'id="Esc_def_1" escalationRef="Esc_1" /></bpmn:intermediateThrowEvent>', user_task(formRef="check"),
                  END, handler, chain=ids, lanes=nurse(*ids, "Events_1"))
    runtime, _ = run(xml.replace("</bpmn:definitions>", ESCALATIONS + "</bpmn:definitions>"))
    assert open_ids(runtime) == ["Task_1", "Task_2"]
    complete(runtime, "Task_1")
    runtime = reloaded(runtime)
    assert not runtime.completed and open_ids(runtime) == ["Task_2"]
    complete(runtime, "Task_2")
    assert runtime.completed
