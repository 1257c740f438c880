"""Timer cycles, call activities and multi-instance activities: each one either runs to the end
or is refused at deploy with one located message (issue 9, point 2)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from orchestrator.engine.deployment import build_models, stored_calls, stored_forms
from orchestrator.engine.runtime import CaseRuntime
from orchestrator.errors import DeploymentError, ExecutionError

from .helpers import (
    END,
    START,
    TOPICS,
    deploy,
    diagram,
    field,
    line_of,
    only_problem,
    rejected,
    seq_flow,
    simple_forms,
    user_task,
)

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NOTIFY = ('<bpmn:serviceTask id="Remind_Notify" name="Muistuta" camunda:type="external" camunda:topic="notify">'
          '<bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="to_role">nurse'
          '</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>')


def timer(kind: str, text: str) -> str:
    return (f'<bpmn:timerEventDefinition id="TED_{kind}"><bpmn:{kind} xsi:type="bpmn:tFormalExpression">{text}'
            f"</bpmn:{kind}></bpmn:timerEventDefinition>")


def reminder_diagram(cycle: str) -> str:
    """A nurse task with a non-interrupting reminder boundary that notifies on each cycle."""
    return diagram(
        START, user_task("Task_1", candidateGroups="nurse"),
        f'<bpmn:boundaryEvent id="Remind" name="Muistutus" attachedToRef="Task_1" cancelActivity="false">'
        f'{timer("timeCycle", cycle)}</bpmn:boundaryEvent>',
        NOTIFY, '<bpmn:endEvent id="Remind_End" name="Muistutettu" />',
        seq_flow("Remind", "Remind_Notify"), seq_flow("Remind_Notify", "Remind_End"),
        END, chain=["StartEvent_1", "Task_1", "End_1"])


def event_subprocess_diagram(cycle: str = "R/P1D", interrupting: str = "false") -> str:
    sub = ('<bpmn:subProcess id="Reminders" name="Muistutukset" triggeredByEvent="true">'
           f'<bpmn:startEvent id="Reminder_Start" name="Joka päivä" isInterrupting="{interrupting}">'
           f'{timer("timeCycle", cycle)}</bpmn:startEvent>'
           f'{NOTIFY}<bpmn:endEvent id="Reminder_End" />'
           + seq_flow("Reminder_Start", "Remind_Notify") + seq_flow("Remind_Notify", "Reminder_End")
           + "</bpmn:subProcess>")
    return diagram(START, user_task("Task_1", candidateGroups="nurse"), sub, END,
                   chain=["StartEvent_1", "Task_1", "End_1"])


def fire_and_notify(rt: CaseRuntime) -> int:
    """Fire due timers and complete the notify calls they caused, as the service layer does."""
    steps = rt.fire_timers()
    calls = rt.service_calls()
    for call in calls:
        rt.complete_service(call.task_id, {})
    assert bool(steps) == bool(calls), "a firing that moves the case must report a step (or it is not saved)"
    return len(calls)


# -- timers ------------------------------------------------------------------------------------
def test_a_three_times_twelve_hour_reminder_fires_three_times_while_the_task_waits():
    (model,) = deploy(reminder_diagram("R3/PT12H"))
    with time_machine.travel(T0, tick=False) as clock:
        rt, _ = CaseRuntime.start(model, {})
        (first,) = rt.timers()
        assert first.due_at == T0 + timedelta(hours=12) and first.boundary
        fired = []
        for _ in range(5):
            clock.shift(timedelta(hours=12, seconds=1))
            fired.append(fire_and_notify(rt))
            rt = CaseRuntime.load(model, rt.dumps())
        assert fired == [1, 1, 1, 0, 0]
        assert rt.timers() == [] and rt.current_steps() == ["Task_1"]
        rt.complete_human(rt.human_tasks(T0)[0].task_id, {})
    assert rt.completed


def test_a_daily_reminder_fires_every_day_until_the_task_is_done_and_then_leaves_no_timer():
    (model,) = deploy(reminder_diagram("R/P1D"))
    with time_machine.travel(T0, tick=False) as clock:
        rt, _ = CaseRuntime.start(model, {})
        for day in range(1, 4):
            clock.shift(timedelta(days=1, seconds=1))
            assert fire_and_notify(rt) == 1
            assert [t.due_at for t in rt.timers()] == [T0 + timedelta(days=day + 1)]
        rt.complete_human(rt.human_tasks(T0)[0].task_id, {})
        assert rt.completed and rt.timers() == []
        clock.shift(timedelta(days=1))
        assert rt.fire_timers() == []


def test_a_daily_cycle_from_a_date_reads_the_time_as_finnish_time():
    (model,) = deploy(reminder_diagram("R/2026-12-02T09:00/P1D"))
    with time_machine.travel(T0, tick=False) as clock:
        rt, _ = CaseRuntime.start(model, {})
        # 09:00 in Helsinki is 07:00 UTC in December
        assert [t.due_at for t in rt.timers()] == [datetime(2026, 12, 2, 7, 0, tzinfo=UTC)]
        clock.move_to(datetime(2026, 12, 2, 7, 0, 1, tzinfo=UTC))
        assert fire_and_notify(rt) == 1
        assert [t.due_at for t in rt.timers()] == [datetime(2026, 12, 3, 7, 0, tzinfo=UTC)]


def test_a_cycle_timer_event_subprocess_fires_each_cycle_and_ends_with_the_process():
    (model,) = deploy(event_subprocess_diagram("R/P1D"))
    with time_machine.travel(T0, tick=False) as clock:
        rt, _ = CaseRuntime.start(model, {})
        # the listener is a side timer: the case is at the nurse's task, not at "Joka päivä"
        assert rt.current_steps() == ["Task_1"]
        for _ in range(3):
            clock.shift(timedelta(days=1, seconds=1))
            assert fire_and_notify(rt) == 1
            rt = CaseRuntime.load(model, rt.dumps())
        assert rt.current_steps() == ["Task_1"]
        rt.complete_human(rt.human_tasks(T0)[0].task_id, {})
    assert rt.completed and rt.timers() == [] and rt.outcome() == "Loppu"


def test_a_top_level_timer_start_event_is_refused_with_what_to_draw_instead():
    xml = diagram(f'<bpmn:startEvent id="StartEvent_1" name="Joka aamu">{timer("timeCycle", "R/P1D")}</bpmn:startEvent>',
                  user_task("Task_1", candidateGroups="nurse"), END, chain=["StartEvent_1", "Task_1", "End_1"])
    problem = only_problem(rejected(xml))
    assert (problem.file, problem.element_id, problem.element_name) == ("test.bpmn", "StartEvent_1", "Joka aamu")
    assert problem.line == line_of(xml, 'id="StartEvent_1"')
    assert "opened by a person" in problem.message and "event subprocess" in problem.fix


@pytest.mark.parametrize(("cron", "iso"), [("0 0 9 * * ?", r"R/\d{4}-\d{2}-\d{2}T09:00/P1D"),
                                           ("0 0/5 * * * ?", r"R/PT5M"),
                                           ("0 30 8 ? * MON", r"R/\d{4}-\d{2}-\d{2}T08:30/P1W")])
def test_a_camunda_cron_cycle_is_refused_with_the_iso_form_to_write(cron, iso):
    problem = only_problem(rejected(reminder_diagram(cron)))
    assert problem.element_id == "Remind" and problem.line is not None
    assert "cron" in problem.message
    written = re.search(r"write (\S+) instead", problem.fix)
    assert written and re.fullmatch(iso, written.group(1)), problem.fix
    # … and what it says to write deploys
    assert deploy(reminder_diagram(written.group(1)))


@pytest.mark.parametrize("text", ["PT12H", "R/every-day"])
def test_a_cycle_that_is_not_an_iso_repeating_interval_is_refused(text):
    problem = only_problem(rejected(reminder_diagram(text)))
    assert problem.element_id == "Remind" and "R/PT5M" in problem.fix


def test_a_cycle_on_an_intermediate_timer_is_refused_because_it_would_repeat_the_rest_of_the_path():
    xml = diagram(START, f'<bpmn:intermediateCatchEvent id="Wait" name="Odota">{timer("timeCycle", "R3/P1D")}'
                  "</bpmn:intermediateCatchEvent>", user_task("Task_1", candidateGroups="nurse"), END,
                  chain=["StartEvent_1", "Wait", "Task_1", "End_1"])
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Wait" and "boundary" in problem.fix


# -- call activities -------------------------------------------------------------------------
CALL_FORMS = simple_forms(start=[field("urgency")], nurse_check=[field("score", "number")],
                          after=[field("note")])
CALLED = diagram('<bpmn:startEvent id="Check_Start" />', user_task("Check_Task", "Hoitajan arvio", formRef="nurse_check"),
                 '<bpmn:endEvent id="Check_End" />', chain=["Check_Start", "Check_Task", "Check_End"],
                 lanes={"Terveydenhoitaja": ["Check_Start", "Check_Task", "Check_End"]}, process_id="nurse_check")
CALLER = diagram(START, '<bpmn:callActivity id="Call_Check" name="Arvio" calledElement="nurse_check" />',
                 user_task("After", "Jatko", formRef="after", candidateGroups="doctor"), END,
                 chain=["StartEvent_1", "Call_Check", "After", "End_1"])


def caller_of(models):
    return next(m for m in models if m.process_id == "test_process")


def run_call(model) -> CaseRuntime:
    rt, _ = CaseRuntime.start(model, {"urgency": "x"})
    (task,) = rt.human_tasks(T0)
    # the called process's own lane gives the role, and its form is stored with the caller
    assert (task.element_id, task.role, task.form_id) == ("Check_Task", "nurse", "nurse_check")
    assert "nurse_check" in model.forms and rt.current_steps() == ["Check_Task"]
    rt = CaseRuntime.load(model, rt.dumps())
    rt.complete_human(task.task_id, {"score": 4})
    (after,) = rt.human_tasks(T0)
    assert (after.element_id, after.role, after.data["score"]) == ("After", "doctor", 4)
    rt.complete_human(after.task_id, {"note": "ok"})
    assert rt.completed
    return rt


def test_a_call_activity_runs_a_process_from_another_file_of_the_same_deploy():
    model = caller_of(build_models({"caller.bpmn": CALLER, "called.bpmn": CALLED}, CALL_FORMS, TOPICS))
    assert set(model.calls) == {"nurse_check"}
    run_call(model)


def test_a_call_activity_runs_an_already_deployed_process_and_the_version_keeps_it():
    library = {"nurse_check": ("called.bpmn", CALLED)}
    (model,) = build_models({"caller.bpmn": CALLER}, CALL_FORMS, TOPICS, library=library)
    run_call(model)
    # what is stored with the version is enough to rebuild it, without the library
    stored = model.forms_json()
    forms = {fid: CALL_FORMS[fid] for fid in stored_forms(stored)}
    (rebuilt,) = build_models({"caller.bpmn": model.bpmn}, forms, TOPICS, library=stored_calls(stored))
    assert rebuilt.content_hash() == model.content_hash()
    run_call(rebuilt)


def test_a_new_version_of_the_called_process_changes_the_callers_content():
    (old,) = build_models({"caller.bpmn": CALLER}, CALL_FORMS, TOPICS, library={"nurse_check": ("c.bpmn", CALLED)})
    changed = CALLED.replace("Hoitajan arvio", "Hoitajan uusi arvio")
    (new,) = build_models({"caller.bpmn": CALLER}, CALL_FORMS, TOPICS, library={"nurse_check": ("c.bpmn", changed)})
    assert old.content_hash() != new.content_hash()


def test_an_unknown_called_element_is_refused_with_the_known_process_ids():
    xml = CALLER.replace('calledElement="nurse_check"', 'calledElement="nurse_chek"')
    problem = only_problem(rejected(xml, CALL_FORMS, library={"nurse_check": ("c.bpmn", CALLED)}))
    assert (problem.element_id, problem.element_name, problem.file) == ("Call_Check", "Arvio", "test.bpmn")
    assert problem.line == line_of(xml, 'id="Call_Check"')
    assert "did you mean 'nurse_check'?" in problem.fix and "test_process" in problem.fix


def test_a_call_activity_without_a_called_element_is_refused():
    problem = only_problem(rejected(CALLER.replace(' calledElement="nurse_check"', ""), CALL_FORMS))
    assert problem.element_id == "Call_Check" and "Called element" in problem.fix


def test_forms_of_an_embedded_subprocess_are_stored_and_its_lane_gives_the_role():
    sub = ('<bpmn:subProcess id="Sub_1" name="Vaihe"><bpmn:startEvent id="Sub_Start" />'
           + user_task("Inner", "Sisätehtävä", formRef="nurse_check")
           + '<bpmn:endEvent id="Sub_End" />' + seq_flow("Sub_Start", "Inner") + seq_flow("Inner", "Sub_End")
           + "</bpmn:subProcess>")
    # Camunda Modeler lists the subprocess in the lane, not the tasks inside it
    xml = diagram(START, sub, END, chain=["StartEvent_1", "Sub_1", "End_1"],
                  lanes={"nurse": ["StartEvent_1", "Sub_1", "End_1"]})
    (model,) = deploy(xml, CALL_FORMS)
    assert "nurse_check" in model.forms
    rt, _ = CaseRuntime.start(model, {})
    (task,) = rt.human_tasks(T0)
    assert (task.element_id, task.role, task.form_id) == ("Inner", "nurse", "nurse_check")
    rt.complete_human(task.task_id, {"score": 1})
    assert rt.completed


# -- multi-instance ----------------------------------------------------------------------------
MI_FORMS = simple_forms(start=[field("reviewers", "checklist")], review=[field("verdict")])


def mi_diagram(collection: str = "${reviewers}", sequential: bool = False, extra: str = "",
               element_variable: str = ' camunda:elementVariable="reviewer"', assignee: str = "${reviewer}") -> str:
    review = (f'<bpmn:userTask id="Review" name="Arvio" camunda:formRef="review" camunda:assignee="{assignee}" '
              f'camunda:candidateGroups="doctor"><bpmn:multiInstanceLoopCharacteristics '
              f'isSequential="{"true" if sequential else "false"}" camunda:collection="{collection}"'
              f"{element_variable}>{extra}</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>")
    return diagram(START, review, user_task("After", "Jatko", candidateGroups="nurse"), END,
                   chain=["StartEvent_1", "Review", "After", "End_1"])


@pytest.mark.parametrize("collection", ["${reviewers}", "reviewers"])
def test_a_parallel_multi_instance_opens_one_task_per_item_and_moves_on_after_all(collection):
    (model,) = deploy(mi_diagram(collection), MI_FORMS)
    rt, _ = CaseRuntime.start(model, {"reviewers": ["dan", "dora", "dave"]})
    open_tasks = rt.human_tasks(T0)
    assert sorted(t.assignee for t in open_tasks) == ["dan", "dave", "dora"]
    assert {t.element_id for t in open_tasks} == {"Review"} and rt.current_steps() == ["Review"]
    for i, task in enumerate(open_tasks):
        rt = CaseRuntime.load(model, rt.dumps())
        rt.complete_human(task.task_id, {"verdict": f"v{i}"})
        assert len(rt.human_tasks(T0)) == (2 - i if i < 2 else 1)
    (after,) = rt.human_tasks(T0)
    # what the instances filled in is case data (the last one to finish wins, as in Camunda 7)
    assert after.element_id == "After" and after.data["verdict"] == "v2"
    assert after.data["reviewers"] == ["dan", "dora", "dave"]


def test_a_sequential_multi_instance_opens_the_tasks_one_after_another():
    (model,) = deploy(mi_diagram(sequential=True), MI_FORMS)
    rt, _ = CaseRuntime.start(model, {"reviewers": ["dan", "dora"]})
    seen = []
    for _ in range(2):
        (task,) = rt.human_tasks(T0)
        seen.append(task.assignee)
        rt.complete_human(task.task_id, {"verdict": "ok"})
    assert seen == ["dan", "dora"] and [t.element_id for t in rt.human_tasks(T0)] == ["After"]


def test_a_completion_condition_may_count_the_finished_instances():
    extra = "<bpmn:completionCondition>nrOfCompletedInstances &gt;= 2</bpmn:completionCondition>"
    (model,) = deploy(mi_diagram(extra=extra), MI_FORMS)
    rt, _ = CaseRuntime.start(model, {"reviewers": ["dan", "dora", "dave"]})
    first, second, _third = rt.human_tasks(T0)
    rt.complete_human(first.task_id, {"verdict": "ok"})
    rt.complete_human(second.task_id, {"verdict": "ok"})
    assert [t.element_id for t in rt.human_tasks(T0)] == ["After"]


def test_a_loop_cardinality_opens_that_many_tasks():
    xml = mi_diagram(extra="<bpmn:loopCardinality>2</bpmn:loopCardinality>").replace(
        ' camunda:collection="${reviewers}"', "")
    (model,) = deploy(xml.replace('camunda:assignee="${reviewer}" ', ""), MI_FORMS)
    rt, _ = CaseRuntime.start(model, {})
    assert [t.element_id for t in rt.human_tasks(T0)] == ["Review", "Review"]


def test_a_collection_no_form_sets_is_refused_with_the_close_name():
    problem = only_problem(rejected(mi_diagram("${reviewer_list}"), MI_FORMS))
    assert problem.element_id == "Review" and problem.element_name == "Arvio"
    assert "reviewer_list" in problem.message and "did you mean 'reviewers'?" in problem.fix


def test_the_element_variable_is_a_known_name_only_because_it_is_declared():
    problems = rejected(mi_diagram(element_variable=""), MI_FORMS).problems
    assert {p.element_id for p in problems} == {"Review"}
    messages = " | ".join(p.message for p in problems)
    assert "camunda:assignee uses 'reviewer'" in messages and "needs an element variable" in messages


def test_a_juel_completion_condition_is_refused_with_what_to_write():
    extra = "<bpmn:completionCondition>${nrOfCompletedInstances &gt;= 2}</bpmn:completionCondition>"
    problem = only_problem(rejected(mi_diagram(extra=extra), MI_FORMS))
    assert problem.element_id == "Review" and "nrOfCompletedInstances >= 2" in problem.message


def test_initiator_and_camunda_initiator_name_the_user_who_started_the_case():
    xml = diagram('<bpmn:startEvent id="StartEvent_1" camunda:formRef="start" camunda:initiator="starter" />',
                  user_task("Own", assignee="${initiator}", candidateGroups="nurse"),
                  user_task("Again", assignee="${starter}", candidateGroups="nurse"), END,
                  chain=["StartEvent_1", "Own", "Again", "End_1"])
    (model,) = deploy(xml)
    rt, _ = CaseRuntime.start(model, {"started_by": "rita"})
    (own,) = rt.human_tasks(T0)
    assert own.assignee == "rita"
    rt.complete_human(own.task_id, {})
    assert rt.human_tasks(T0)[0].assignee == "rita"


@pytest.mark.parametrize("sequential", [False, True])
def test_an_empty_collection_runs_no_instance_and_a_text_is_refused_by_name(sequential):
    (model,) = deploy(mi_diagram(sequential=sequential), MI_FORMS)
    rt, _ = CaseRuntime.start(model, {})
    assert [t.element_id for t in rt.human_tasks(T0)] == ["After"]
    with pytest.raises(ExecutionError) as info:
        CaseRuntime.start(model, {"reviewers": "nina"})
    assert str(info.value) == "Review: the multi-instance collection 'reviewers' must be a list, but it holds 'nina'"


def test_an_interrupting_timer_event_subprocess_stops_the_main_path_and_ends_the_case():
    sub = ('<bpmn:subProcess id="Escalate" name="Eskalointi" triggeredByEvent="true">'
           f'<bpmn:startEvent id="Esc_Start" name="Viikko kulunut">{timer("timeDuration", "P7D")}</bpmn:startEvent>'
           + user_task("Esc_Task", "Selvitä viive", candidateGroups="doctor") + '<bpmn:endEvent id="Esc_End" />'
           + seq_flow("Esc_Start", "Esc_Task") + seq_flow("Esc_Task", "Esc_End") + "</bpmn:subProcess>")
    xml = diagram(START, '<bpmn:parallelGateway id="Split" />', '<bpmn:parallelGateway id="Join" />',
                  user_task("A", candidateGroups="nurse"), user_task("B", candidateGroups="nurse"), sub, END,
                  seq_flow("StartEvent_1", "Split"), seq_flow("Split", "A"), seq_flow("Split", "B"),
                  seq_flow("A", "Join"), seq_flow("B", "Join"), seq_flow("Join", "End_1"))
    (model,) = deploy(xml)
    with time_machine.travel(T0, tick=False) as clock:
        rt, _ = CaseRuntime.start(model, {})
        rt.complete_human(rt.human_tasks(T0)[0].task_id, {})
        assert rt.current_steps() == ["B"]
        clock.shift(timedelta(days=7, seconds=1))
        assert rt.fire_timers()
        rt = CaseRuntime.load(model, rt.dumps())
        assert [(t.element_id, t.role) for t in rt.human_tasks(T0)] == [("Esc_Task", "doctor")]
        rt.complete_human(rt.human_tasks(T0)[0].task_id, {})
    assert rt.completed and rt.timers() == []


def test_an_interrupting_timer_event_subprocess_with_no_wait_still_interrupts_and_ends_the_case():
    """The event subprocess runs to its end in the same engine step its timer fires in: the
    open task is cancelled all the same, as when a message starts one (one mechanism)."""
    sub = ('<bpmn:subProcess id="Expire" name="Vanhentuminen" triggeredByEvent="true">'
           f'<bpmn:startEvent id="Exp_Start" name="Viikko kulunut">{timer("timeDuration", "P7D")}</bpmn:startEvent>'
           '<bpmn:endEvent id="Exp_End" name="Vanhentunut" />' + seq_flow("Exp_Start", "Exp_End") + "</bpmn:subProcess>")
    (model,) = deploy(diagram(START, user_task("A", candidateGroups="nurse"), sub, END,
                              chain=["StartEvent_1", "A", "End_1"]))
    with time_machine.travel(T0, tick=False) as clock:
        rt, _ = CaseRuntime.start(model, {})
        assert rt.current_steps() == ["A"]
        clock.shift(timedelta(days=7, seconds=1))
        assert "Exp_End" in [s.element_id for s in rt.fire_timers()]
    assert rt.completed and rt.human_tasks(T0) == [] and rt.outcome() == "Vanhentunut"


@pytest.mark.parametrize("where", ["boundary", "event subprocess"])
def test_a_cycle_on_an_interrupting_timer_is_refused(where):
    xml = (reminder_diagram("R3/PT12H").replace('cancelActivity="false"', 'cancelActivity="true"')
           if where == "boundary" else event_subprocess_diagram("R3/PT12H", interrupting="true"))
    problem = only_problem(rejected(xml))
    assert problem.element_id in ("Remind", "Reminder_Start") and "non-interrupting" in problem.fix


def test_timers_inside_a_called_process_fire_and_the_caller_moves_on_after_it():
    called = event_subprocess_diagram("R/P1D").replace('id="test_process"', 'id="nurse_check"')
    caller = CALLER.replace(user_task("After", "Jatko", formRef="after", candidateGroups="doctor"),
                            user_task("After", "Jatko", candidateGroups="doctor"))
    model = caller_of(build_models({"caller.bpmn": caller, "called.bpmn": called}, CALL_FORMS, TOPICS))
    with time_machine.travel(T0, tick=False) as clock:
        rt, _ = CaseRuntime.start(model, {})
        assert rt.current_steps() == ["Task_1"]
        clock.shift(timedelta(days=1, seconds=1))
        assert fire_and_notify(rt) == 1
        rt = CaseRuntime.load(model, rt.dumps())
        rt.complete_human(rt.human_tasks(T0)[0].task_id, {})
        # the called process ended (its reminder stopped listening) and the caller went on
        assert [t.element_id for t in rt.human_tasks(T0)] == ["After"] and rt.timers() == []
        rt.complete_human(rt.human_tasks(T0)[0].task_id, {})
    assert rt.completed


def test_a_subprocess_id_repeated_in_a_called_process_is_refused_with_what_to_rename():
    sub = ('<bpmn:subProcess id="Sub_1" name="Vaihe"><bpmn:startEvent id="Sub_Start" />'
           + user_task("Inner", "Sisätehtävä", candidateGroups="nurse") + '<bpmn:endEvent id="Sub_End" />'
           + seq_flow("Sub_Start", "Inner") + seq_flow("Inner", "Sub_End") + "</bpmn:subProcess>")
    called = diagram('<bpmn:startEvent id="C_Start" />', sub, '<bpmn:endEvent id="C_End" />',
                     chain=["C_Start", "Sub_1", "C_End"], process_id="nurse_check")
    caller = diagram(START, sub, '<bpmn:callActivity id="Call_Check" name="Arvio" calledElement="nurse_check" />',
                     END, chain=["StartEvent_1", "Sub_1", "Call_Check", "End_1"])
    with pytest.raises(DeploymentError) as info:
        build_models({"caller.bpmn": caller, "called.bpmn": called}, CALL_FORMS, TOPICS)
    problem = only_problem(info.value)
    assert (problem.element_id, problem.element_name, problem.line) == ("Sub_1", "Vaihe", 5)
    assert "Duplicate" not in problem.message and "another id" in problem.fix


@pytest.mark.parametrize("sequential", [False, True])
def test_a_cardinality_from_case_data_must_be_a_whole_number(sequential):
    forms = simple_forms(start=[field("count", "number")], review=[field("verdict")])
    xml = mi_diagram(sequential=sequential, extra="<bpmn:loopCardinality>count</bpmn:loopCardinality>")
    xml = xml.replace(' camunda:collection="${reviewers}"', "").replace('camunda:assignee="${reviewer}" ', "")
    (model,) = deploy(xml, forms)
    rt, _ = CaseRuntime.start(model, {"count": 2})
    # the element variable is the instance's number, as Camunda's loopCounter
    assert [t.data["reviewer"] for t in rt.human_tasks(T0)] == ([0] if sequential else [0, 1])
    for bad in (2.5, "two", None):
        with pytest.raises(ExecutionError) as info:
            CaseRuntime.start(model, {"count": bad})
        assert str(info.value) == "Review: the loop cardinality 'count' must give a whole number"
    # one case's bad value leaves the deployed model as it was for the next case
    rt, _ = CaseRuntime.start(model, {"count": 2})
    assert len(rt.human_tasks(T0)) == (1 if sequential else 2)


def test_the_shapes_camunda_modeler_writes_deploy_and_run():
    """Attributes, child order and extension elements as Camunda Modeler 5 saves them."""
    caller = diagram(
        START.replace(" />", "><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>"),
        '<bpmn:callActivity id="Activity_0call1" name="Arvio" calledElement="nurse_check">'
        '<bpmn:extensionElements><camunda:in variables="all" /><camunda:out variables="all" />'
        "</bpmn:extensionElements><bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>"
        "</bpmn:callActivity>",
        '<bpmn:userTask id="Activity_0mi" name="Arvio" camunda:formRef="review" camunda:assignee="${reviewer}" '
        'camunda:candidateGroups="doctor"><bpmn:incoming>Flow_2</bpmn:incoming><bpmn:outgoing>Flow_3</bpmn:outgoing>'
        '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${reviewers}" camunda:elementVariable="reviewer">'
        '<bpmn:completionCondition xsi:type="bpmn:tFormalExpression">nrOfCompletedInstances == nrOfInstances'
        "</bpmn:completionCondition></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>",
        END.replace(" />", "><bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>"),
        seq_flow("StartEvent_1", "Activity_0call1", flow_id="Flow_1"),
        seq_flow("Activity_0call1", "Activity_0mi", flow_id="Flow_2"),
        seq_flow("Activity_0mi", "End_1", flow_id="Flow_3"))
    forms = {**CALL_FORMS, **simple_forms(start=[field("reviewers", "checklist")], review=[field("verdict")])}
    model = caller_of(build_models({"caller.bpmn": caller, "called.bpmn": CALLED}, forms, TOPICS))
    rt, _ = CaseRuntime.start(model, {"reviewers": ["dan", "dora"]})
    rt.complete_human(rt.human_tasks(T0)[0].task_id, {"score": 2})
    reviews = rt.human_tasks(T0)
    assert sorted(t.assignee for t in reviews) == ["dan", "dora"]
    for task in reviews:
        rt.complete_human(task.task_id, {"verdict": "ok"})
    assert rt.completed
