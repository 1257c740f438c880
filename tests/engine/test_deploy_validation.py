"""Deploy-time rejections: every problem names the element, its line and what to do instead."""
from __future__ import annotations

import pytest

from orchestrator.engine.deployment import build_models, read_forms
from orchestrator.errors import DeploymentError
from orchestrator.roles import ROLES, role_for_name

from .helpers import (
    END,
    STANDARD_FORMS,
    START,
    deploy,
    diagram,
    field,
    form_json,
    line_of,
    only_problem,
    rejected,
    seq_flow,
    standard_forms_plus,
    user_task,
)

NURSE_LANE = ["StartEvent_1", "Task_1", "End_1"]


def one_task(task: str, *extra: str, lanes: dict | None = None, task_id: str = "Task_1") -> str:
    """Start → ``task`` → end, all in a nurse lane unless ``lanes`` says otherwise."""
    ids = ["StartEvent_1", task_id, "End_1"]
    return diagram(START, task, END, *extra, chain=ids,
                   lanes={"nurse": ids} if lanes is None else lanes)


def gateway_diagram(*flows: str, default: str | None = None) -> str:
    """Start → Gateway_1 → (flows) → Task_1 / End_1."""
    default_attr = f' default="{default}"' if default else ""
    return diagram(START, f'<bpmn:exclusiveGateway id="Gateway_1" name="Päätös"{default_attr} />',
                   user_task(formRef="check"), END, *flows,
                   seq_flow("Task_1", "End_1"),
                   chain=["StartEvent_1", "Gateway_1"],
                   lanes={"nurse": ["StartEvent_1", "Gateway_1", "Task_1", "End_1"]})


# -- code in a diagram ----------------------------------------------------------------------

def test_script_task_is_refused_with_the_service_task_alternative():
    xml = one_task('<bpmn:scriptTask id="Script_1" name="Laske pisteet" scriptFormat="python">'
                   "<bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>", task_id="Script_1")
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Script_1"
    assert problem.element_name == "Laske pisteet"
    assert problem.line == line_of(xml, 'id="Script_1"')
    assert problem.message.startswith("script tasks are not run by Polku")
    assert "service task" in problem.fix and 'camunda:type="external"' in problem.fix
    assert str(problem).startswith(f"test.bpmn:{problem.line} Script_1 ('Laske pisteet'): script tasks")


def test_execution_listener_with_a_script_is_refused_on_its_task():
    task = ('<bpmn:userTask id="Task_1" name="Tarkastus" camunda:formRef="check"><bpmn:extensionElements>'
            '<camunda:executionListener event="start"><camunda:script scriptFormat="groovy">'
            "java.lang.Runtime.getRuntime().exec('id')</camunda:script></camunda:executionListener>"
            "</bpmn:extensionElements></bpmn:userTask>")
    xml = one_task(task)
    error = rejected(xml)
    messages = sorted(p.message for p in error.problems)
    assert messages == ["camunda:script found: Polku does not run code written in a diagram",
                        "execution listener found: Polku does not run code written in a diagram"]
    for problem in error.problems:
        assert problem.element_id == "Task_1"
        assert problem.line == line_of(xml, 'id="Task_1"')
        assert problem.fix == "remove it; call a handler from a service task instead"


def test_java_delegate_service_task_is_refused():
    xml = one_task('<bpmn:serviceTask id="Task_1" name="Laske" camunda:class="fi.kunta.Laskuri" />')
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Task_1"
    assert problem.line == line_of(xml, 'camunda:class=')
    assert problem.message == "Java delegates and expressions cannot run in Polku"
    assert problem.fix == 'use camunda:type="external" camunda:topic="<handler topic>"'


# -- conditions -------------------------------------------------------------------------------

def test_juel_condition_is_refused_with_the_python_to_write():
    xml = gateway_diagram(seq_flow("Gateway_1", "Task_1", "${approved}", flow_id="Flow_Approved"),
                          seq_flow("Gateway_1", "End_1", flow_id="Flow_Else"), default="Flow_Else")
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Flow_Approved"
    assert problem.line == line_of(xml, 'id="Flow_Approved"')
    assert problem.message == "condition: `${approved}` is a JUEL expression; write `approved == True`"


def test_a_typo_in_a_condition_variable_gets_a_did_you_mean():
    xml = gateway_diagram(seq_flow("Gateway_1", "Task_1", "urgncy == 'urgent'", flow_id="Flow_Urgent"),
                          seq_flow("Gateway_1", "End_1", flow_id="Flow_Else"), default="Flow_Else")
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Flow_Urgent"
    assert problem.line == line_of(xml, 'id="Flow_Urgent"')
    assert problem.message == "condition uses 'urgncy', which no form of this process sets"
    assert problem.fix == "did you mean 'urgency'?"


def test_an_unknown_condition_variable_without_a_near_match_asks_for_a_form_field():
    xml = gateway_diagram(seq_flow("Gateway_1", "Task_1", "kela_status == 'ok'", flow_id="Flow_Kela"),
                          seq_flow("Gateway_1", "End_1", flow_id="Flow_Else"), default="Flow_Else")
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Flow_Kela"
    assert problem.fix == "add a form field with that key, or correct the name"


def test_conditions_may_use_form_keys_of_any_step_and_system_variables():
    xml = gateway_diagram(
        seq_flow("Gateway_1", "Task_1", "score &lt; 5 and urgency == 'urgent' and region == 'north'",
                 flow_id="Flow_Low"),
        seq_flow("Gateway_1", "End_1", flow_id="Flow_Else"), default="Flow_Else")
    (model,) = deploy(xml)
    assert model.elements["Gateway_1"].type == "ExclusiveGateway"


def test_exclusive_gateway_with_two_unconditioned_flows_names_each_flow():
    xml = gateway_diagram(seq_flow("Gateway_1", "Task_1", flow_id="Flow_A"),
                          seq_flow("Gateway_1", "End_1", flow_id="Flow_B"))
    error = rejected(xml)
    assert sorted(p.element_id for p in error.problems) == ["Flow_A", "Flow_B"]
    for problem in error.problems:
        assert problem.line == line_of(xml, f'id="{problem.element_id}"')
        assert problem.message == "flow from gateway Gateway_1 has no condition and is not the default"
        assert problem.fix == "add a condition, or mark the flow as the gateway's default flow"


def test_an_unconditioned_default_flow_is_fine():
    xml = gateway_diagram(seq_flow("Gateway_1", "Task_1", "score &lt; 5", flow_id="Flow_Low"),
                          seq_flow("Gateway_1", "End_1", flow_id="Flow_Else"), default="Flow_Else")
    assert deploy(xml)


# -- forms ------------------------------------------------------------------------------------

def test_user_task_form_not_found_names_task_and_form():
    xml = one_task(user_task("UserTask_3", formRef="x"), task_id="UserTask_3")
    problem = only_problem(rejected(xml))
    assert problem.element_id == "UserTask_3"
    assert problem.line == line_of(xml, 'id="UserTask_3"')
    assert problem.message == "form 'x' referenced by UserTask_3 not found in forms/"
    assert problem.fix == "add forms/x.form or correct camunda:formRef"


def test_form_key_in_camunda_forms_syntax_is_resolved_to_the_form_file():
    good = one_task(user_task(formKey="camunda-forms:deployment:forms/check.form"))
    (model,) = deploy(good)
    assert set(model.forms) == {"start", "check"}
    bad = one_task(user_task(formKey="camunda-forms:deployment:forms/missing.form"))
    assert only_problem(rejected(bad)).message == "form 'missing' referenced by Task_1 not found in forms/"


def test_start_event_form_not_found_is_reported_on_the_start_event():
    xml = one_task(user_task(formRef="check"))
    forms = {"check": STANDARD_FORMS["check"]}
    problem = only_problem(rejected(xml, forms=forms))
    assert problem.element_id == "StartEvent_1"
    assert problem.message == "form 'start' referenced by StartEvent_1 not found in forms/"


def test_embedded_html_form_key_is_refused_with_form_ref_fix():
    problem = only_problem(rejected(one_task(user_task(formKey="embedded:app:forms/check.html"))))
    assert problem.element_id == "Task_1"
    assert problem.message == "form key 'embedded:app:forms/check.html' is not a Camunda Form"
    assert "camunda:formRef" in problem.fix


# -- roles: lanes and candidate groups ---------------------------------------------------------

def test_lane_without_a_role_is_reported_once_on_the_lane():
    xml = diagram(START, user_task("Task_1", formRef="check"), user_task("Task_2", formRef="check"), END,
                  chain=["StartEvent_1", "Task_1", "Task_2", "End_1"],
                  lanes={"Sairaanhoitaja ja kuraattori": ["StartEvent_1", "Task_1", "Task_2", "End_1"]})
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Lane_1"
    assert problem.element_name == "Sairaanhoitaja ja kuraattori"
    assert problem.line == line_of(xml, 'id="Lane_1"')
    assert problem.message == "lane 'Sairaanhoitaja ja kuraattori' has no role mapping"
    assert "'Terveydenhoitaja'" in problem.fix and "camunda:candidateGroups" in problem.fix


def test_candidate_groups_excuse_a_task_from_its_unmapped_lane():
    xml = one_task(user_task(formRef="check", candidateGroups="nurse"),
                   lanes={"Sairaanhoitaja ja kuraattori": NURSE_LANE})
    (model,) = deploy(xml)
    assert model.elements["Task_1"].role == "nurse"


def test_unknown_candidate_group_is_named_with_the_valid_roles():
    xml = one_task(user_task(formRef="check", candidateGroups="nurse, hoitajat"))
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Task_1"
    assert problem.line == line_of(xml, 'id="Task_1"')
    assert problem.message == "candidate group 'hoitajat' is not a role"
    assert problem.fix == "use one of: " + ", ".join(ROLES)


def test_user_task_in_no_lane_and_without_candidate_groups_has_no_role():
    xml = diagram(START, user_task(formRef="check"), END, chain=["StartEvent_1", "Task_1", "End_1"])
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Task_1"
    assert problem.line == line_of(xml, 'id="Task_1"')
    assert problem.message == "this task has no role: it is in no lane and has no candidate groups"
    assert problem.fix == "put it in a lane named after a role, or set camunda:candidateGroups"


def test_a_task_outside_lanes_with_a_direct_assignee_needs_no_role():
    xml = diagram(START, user_task(formRef="check", assignee="${doctor_user}"), END,
                  chain=["StartEvent_1", "Task_1", "End_1"])
    (model,) = deploy(xml, forms=standard_forms_plus("start", field("doctor_user")))
    assert model.elements["Task_1"].role is None


def test_an_assignee_from_a_variable_no_form_sets_is_refused():
    xml = diagram(START, user_task(formRef="check", assignee="${docter_user}"), END,
                  chain=["StartEvent_1", "Task_1", "End_1"])
    problem = only_problem(rejected(xml, forms=standard_forms_plus("start", field("doctor_user"))))
    assert problem.element_id == "Task_1"
    assert problem.message == "camunda:assignee uses 'docter_user', which no form of this process sets"
    assert problem.fix == "did you mean 'doctor_user'?"


@pytest.mark.parametrize("lane_name", ["nurse", "Terveydenhoitaja", "Terveyskeskuksen hoitaja (nurse)",
                                       "  NURSE ", "Hälsovårdare", "Nurse"])
def test_lane_names_that_map_to_the_nurse_role(lane_name):
    assert role_for_name(lane_name) == "nurse"
    (model,) = deploy(one_task(user_task(formRef="check"), lanes={lane_name: NURSE_LANE}))
    assert model.elements["Task_1"].role == "nurse"


@pytest.mark.parametrize("name", ["Sairaanhoitaja ja kuraattori", "nurses", "Terveydenhoitajat", "(nurse) tiimi",
                                  "Laakari", ""])
def test_names_that_map_to_no_role(name):
    assert role_for_name(name) is None


def test_candidate_group_doctor_wins_over_the_nurse_lane():
    xml = one_task(user_task(formRef="check", candidateGroups="doctor"))
    (model,) = deploy(xml)
    assert model.elements["Task_1"].role == "doctor"
    assert model.elements["StartEvent_1"].role == "nurse"


def test_a_nested_lane_gives_its_own_role():
    # Camunda Modeler lists a child lane's nodes in the parent lane too; the innermost lane wins.
    xml = diagram(START, user_task("Task_1", formRef="check"), user_task("Task_2", formRef="check"), END,
                  chain=["StartEvent_1", "Task_1", "Task_2", "End_1"])
    nested = ('    <bpmn:laneSet id="LaneSet_1">\n'
              '      <bpmn:lane id="Lane_Outer" name="Terveydenhoitaja">\n'
              + "".join(f"        <bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>\n"
                        for n in ("StartEvent_1", "Task_1", "Task_2", "End_1"))
              + '        <bpmn:childLaneSet id="LaneSet_2">\n'
                '          <bpmn:lane id="Lane_Inner" name="Lääkäri">'
                "<bpmn:flowNodeRef>Task_2</bpmn:flowNodeRef></bpmn:lane>\n"
                "        </bpmn:childLaneSet>\n"
                "      </bpmn:lane>\n"
                "    </bpmn:laneSet>\n")
    xml = xml.replace('isExecutable="true">\n', 'isExecutable="true">\n' + nested, 1)
    (model,) = deploy(xml)
    assert model.elements["Task_1"].role == "nurse"
    assert model.elements["Task_2"].role == "doctor"


# -- service tasks ----------------------------------------------------------------------------

def test_service_task_without_external_topic_is_refused_with_the_topics():
    xml = one_task('<bpmn:serviceTask id="Task_1" name="Ilmoita" />')
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Task_1"
    assert problem.line == line_of(xml, 'id="Task_1"')
    assert problem.message == "a service task needs an external topic"
    assert problem.fix == 'set camunda:type="external" camunda:topic to one of: consent, invite, notify, record'


def test_service_task_with_an_unregistered_topic_is_refused():
    xml = one_task('<bpmn:serviceTask id="Task_1" name="Tekstiviesti" camunda:type="external" camunda:topic="sms" />')
    problem = only_problem(rejected(xml, topics=["notify", "record"]))
    assert problem.element_id == "Task_1"
    assert problem.message == "no handler is registered for topic 'sms'"
    assert problem.fix == "use one of: notify, record"
    # The same file deploys once a handler for the topic is registered.
    assert deploy(xml, topics=["notify", "record", "sms"])


def test_with_no_handlers_registered_the_fix_says_so():
    xml = one_task('<bpmn:serviceTask id="Task_1" camunda:type="external" camunda:topic="notify" />')
    assert only_problem(rejected(xml, topics=[])).fix == "use one of: (none registered)"


# -- ids and timers ---------------------------------------------------------------------------

def test_reserved_id_start_is_refused():
    xml = diagram('<bpmn:startEvent id="Start" camunda:formRef="start" />', user_task(formRef="check"), END,
                  chain=["Start", "Task_1", "End_1"], lanes={"nurse": ["Start", "Task_1", "End_1"]})
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Start"
    assert problem.line == line_of(xml, 'id="Start"')
    assert problem.message == "the id 'Start' is reserved by the engine (the element would be skipped)"
    assert "StartEvent_1" in problem.fix


def timer_diagram(kind: str, text: str) -> str:
    return diagram(START, user_task(formRef="check"),
                   '<bpmn:intermediateCatchEvent id="Timer_Wait" name="Odota">'
                   f'<bpmn:timerEventDefinition id="TED_1"><bpmn:{kind} xsi:type="bpmn:tFormalExpression">{text}'
                   f"</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>",
                   END, chain=["StartEvent_1", "Task_1", "Timer_Wait", "End_1"],
                   lanes={"nurse": ["StartEvent_1", "Task_1", "Timer_Wait", "End_1"]})


def test_timer_with_an_invalid_expression_is_refused_on_the_timer_event():
    xml = timer_diagram("timeDuration", "3 days")
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Timer_Wait"
    assert problem.element_name == "Odota"
    assert problem.line == line_of(xml, 'id="Timer_Wait"')
    assert problem.message.startswith("timer timeDuration '3 days' is neither ISO-8601 nor a valid expression")


def test_empty_timer_is_refused_with_an_iso_example():
    problem = only_problem(rejected(timer_diagram("timeDuration", "")))
    assert problem.element_id == "Timer_Wait"
    assert problem.message == "the timer's timeDuration is empty"
    assert "P3D" in problem.fix


# (a timeCycle belongs on a boundary event or an event subprocess start: tests/engine/test_timers_calls_mi.py)
@pytest.mark.parametrize(("kind", "text"), [("timeDuration", "P3D"),
                                            ("timeDate", "2026-12-10T10:00"), ("timeDate", "add_days(now(), 3)")])
def test_timers_written_the_way_the_modeller_writes_them_deploy(kind, text):
    assert deploy(timer_diagram(kind, text))


def test_a_non_iso_timer_is_told_to_write_iso_8601():
    problem = only_problem(rejected(timer_diagram("timeDuration", "3 days")))
    assert problem.fix is not None and "P3D" in problem.fix


def test_a_juel_timer_date_is_not_told_to_become_a_boolean():
    forms = standard_forms_plus("check", field("reminder_at", "datetime"))
    # ${name} alone is the Camunda way to say "the date in this field": accepted
    assert deploy(timer_diagram("timeDate", "${reminder_at}"), forms=forms)
    problem = only_problem(rejected(timer_diagram("timeDate", "${reminder_at + 1}"), forms=forms))
    assert "== True" not in problem.message and "P3D" in problem.fix


# -- many problems, one answer ----------------------------------------------------------------

def test_every_problem_in_a_file_is_reported_in_one_deployment_error():
    xml = diagram(
        START,
        '<bpmn:scriptTask id="Script_1" name="Skripti"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>',
        user_task("UserTask_3", formRef="x"),
        '<bpmn:serviceTask id="Task_Sms" name="Tekstiviesti" camunda:type="external" camunda:topic="sms" />',
        '<bpmn:exclusiveGateway id="Gateway_1" default="Flow_Else" />',
        END,
        seq_flow("Gateway_1", "End_1", "${approved}", flow_id="Flow_Juel"),
        seq_flow("Gateway_1", "End_1", flow_id="Flow_Else"),
        chain=["StartEvent_1", "Script_1", "UserTask_3", "Task_Sms", "Gateway_1"],
        lanes={"nurse": ["StartEvent_1", "Script_1", "UserTask_3", "Task_Sms", "Gateway_1", "End_1"]},
    )
    error = rejected(xml)
    assert sorted(p.element_id for p in error.problems) == ["Flow_Juel", "Script_1", "Task_Sms", "UserTask_3"]
    assert str(error).startswith("deployment rejected: 4 problem(s)")
    assert error.status == 422
    assert {d["element_id"] for d in error.details()} == {"Flow_Juel", "Script_1", "Task_Sms", "UserTask_3"}
    assert all(d["file"] == "test.bpmn" and d["line"] > 1 for d in error.details())


def test_problems_in_several_files_and_forms_come_together_and_nothing_is_deployed():
    good = one_task(user_task(formRef="check"))
    bad = one_task('<bpmn:serviceTask id="Task_1" camunda:type="external" camunda:topic="sms" />')
    forms, form_problems = read_forms({"forms/other.form": '{"components": [\n  {"type": "textfield",,}\n]}'})
    assert forms == {}
    with pytest.raises(DeploymentError) as info:
        build_models({"a.bpmn": good, "b.bpmn": bad}, STANDARD_FORMS, ["notify"], form_problems=form_problems)
    assert sorted(p.file for p in info.value.problems) == ["b.bpmn", "forms/other.form"]


def test_the_same_process_id_in_two_files_is_refused():
    xml = one_task(user_task(formRef="check"))
    with pytest.raises(DeploymentError) as info:
        build_models({"a.bpmn": xml, "b.bpmn": xml}, STANDARD_FORMS, ["notify", "record"])
    problem = only_problem(info.value)
    assert problem.file == "b.bpmn"
    assert problem.element_id == "test_process"
    assert problem.message == "process id 'test_process' is also defined in a.bpmn"


def test_a_file_without_an_executable_process_is_refused():
    xml = one_task(user_task(formRef="check")).replace('isExecutable="true"', 'isExecutable="false"')
    problem = only_problem(rejected(xml))
    assert problem.element_id == "test_process"
    assert problem.message == "no executable process in this file"
    assert "Executable" in problem.fix


# -- form files -------------------------------------------------------------------------------

def test_a_form_with_invalid_json_gives_its_line():
    text = '{\n  "components": [\n    {"type": "textfield", "key": "a",}\n  ]\n}'
    forms, problems = read_forms({"forms/broken.form": text})
    assert forms == {}
    (problem,) = problems
    assert problem.file == "forms/broken.form"
    assert problem.line == 3
    assert problem.message.startswith("JSON error:")


def test_a_form_with_duplicate_keys_names_both_components():
    text = form_json(field("score", "number", id="Field_A"),
                     {"type": "group", "id": "Group_1", "components": [field("score", "textfield", id="Field_B")]})
    _, problems = read_forms({"forms/dup.form": text})
    (problem,) = problems
    assert problem.field == "score"
    assert problem.element_id == "Field_B"
    assert problem.message == "key 'score' is used by two fields (Field_A and Field_B)"
    assert problem.fix == "give every input field its own key"


def test_a_form_with_an_unsupported_component_type_is_refused():
    text = form_json(field("cv", "filepicker", id="Field_File"), field("ok"))
    _, problems = read_forms({"forms/upload.form": text})
    (problem,) = problems
    assert problem.element_id == "Field_File"
    assert problem.message == "component type 'filepicker' is not supported"
    assert "textfield" in problem.fix and "checklist" in problem.fix


def test_form_problems_block_the_deploy_together_with_bpmn_problems():
    forms, form_problems = read_forms({"forms/upload.form": form_json(field("cv", "filepicker"))})
    bad = one_task('<bpmn:serviceTask id="Task_1" camunda:type="external" camunda:topic="sms" />')
    error = rejected(bad, form_problems=form_problems)
    assert sorted(p.file for p in error.problems) == ["forms/upload.form", "test.bpmn"]
