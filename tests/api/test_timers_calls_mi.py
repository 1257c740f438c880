"""Timer cycles, call activities and multi-instance tasks through the services and the HTTP
API: deployed by a designer, started, driven through the inbox to the end — or refused at
deploy with a located message, never a 500."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import time_machine

from orchestrator.services.timers import fire_due_timers
from orchestrator.store.models import Event, ProcessVersion, TimerRow

from ..engine.helpers import END, diagram, field, form_json, seq_flow, user_task
from .walk import case, do, find_task, outbox

T0 = datetime(2027, 3, 1, 7, 0, tzinfo=UTC)
FORMS = {
    "tcm_start.form": form_json(field("client_ref"), field("note")),
    "tcm_check.form": form_json(field("score", "number")),
    "tcm_after.form": form_json(field("summary")),
    "tcm_reviewers.form": form_json(field("client_ref"), field("note"), field("reviewers", "checklist", values=[
        {"label": "Nina", "value": "nina"}, {"label": "Noora", "value": "noora"}])),
    "tcm_review.form": form_json(field("verdict")),
}
START = '<bpmn:startEvent id="StartEvent_1" name="Alku" camunda:formRef="tcm_start" />'
CALLED = diagram('<bpmn:startEvent id="Check_Start" />',
                 user_task("Check_Task", "Hoitajan arvio", formRef="tcm_check"), '<bpmn:endEvent id="Check_End" />',
                 chain=["Check_Start", "Check_Task", "Check_End"],
                 lanes={"Terveydenhoitaja": ["Check_Start", "Check_Task", "Check_End"]}, process_id="tcm_called")
CALLER = diagram(START, '<bpmn:callActivity id="Call_Check" name="Arvio" calledElement="tcm_called" />',
                 user_task("After", "Jatko", formRef="tcm_after", candidateGroups="doctor"), END,
                 chain=["StartEvent_1", "Call_Check", "After", "End_1"], process_id="tcm_caller")
NOTIFY = ('<bpmn:serviceTask id="Remind_Notify" name="Muistuta" camunda:type="external" camunda:topic="notify">'
          '<bpmn:extensionElements><camunda:inputOutput>'
          '<camunda:inputParameter name="to_role">nurse</camunda:inputParameter>'
          '<camunda:inputParameter name="subject">Muistutus</camunda:inputParameter>'
          "</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>")


def cycle(text: str) -> str:
    return (f'<bpmn:timerEventDefinition id="TED_1"><bpmn:timeCycle xsi:type="bpmn:tFormalExpression">{text}'
            "</bpmn:timeCycle></bpmn:timerEventDefinition>")


def reminder_process(text: str) -> str:
    return diagram(START, user_task("Task_1", "Soita asiakkaalle", formRef="tcm_check", candidateGroups="nurse"),
                   f'<bpmn:boundaryEvent id="Remind" name="Muistutus" attachedToRef="Task_1" cancelActivity="false">'
                   f"{cycle(text)}</bpmn:boundaryEvent>",
                   NOTIFY, '<bpmn:endEvent id="Remind_End" name="Muistutettu" />',
                   seq_flow("Remind", "Remind_Notify"), seq_flow("Remind_Notify", "Remind_End"),
                   END, chain=["StartEvent_1", "Task_1", "End_1"], process_id="tcm_reminder")


def deploy_files(client, files: dict[str, str], status: int = 201):
    r = client.post("/api/processes", json={"files": {**FORMS, **files}})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def start(client, pathway: str, data: dict | None = None) -> dict:
    r = client.post("/api/cases", json={"pathway": pathway, "region": "north",
                                        "data": {"client_ref": "TCM-1", "note": "x", **(data or {})}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def in_inbox(client, case_id: int, element_id: str) -> list[dict]:
    items = []
    for scope in ("role", "mine"):
        items += client.get(f"/api/tasks?scope={scope}&limit=500").get_json()["items"]
    return list({t["id"]: t for t in items if t["case_id"] == case_id and t["element_id"] == element_id}.values())


def timer_rows(env, case_id: int) -> int:
    with env.uow() as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(TimerRow).where(TimerRow.case_id == case_id))


# -- call activities -------------------------------------------------------------------------------
def test_a_call_activity_across_files_runs_through_the_inbox_of_the_case_region(token_client_for, client_for):
    dora, rita, nina, sami, dan = (token_client_for(u) for u in ("dora", "rita", "nina", "sami", "dan"))
    deploy_files(dora, {"caller.bpmn": CALLER, "called.bpmn": CALLED})
    c = start(rita, "tcm_caller")
    assert c["current_steps"] == ["Check_Task"]
    # the called process's lane (Terveydenhoitaja) makes it a nurse task of the case's region
    (task,) = in_inbox(nina, c["id"], "Check_Task")
    assert (task["role"], task["region"], task["form_id"]) == ("nurse", "north", "tcm_check")
    assert in_inbox(sami, c["id"], "Check_Task") == []
    # the pages a nurse opens for it render: inbox, the task with the called process's form, the case
    page = client_for("nina")
    for url in ("/inbox", f"/tasks/{task['id']}", f"/cases/{c['id']}", f"/cases/{c['id']}/diagram.bpmn"):
        assert page.get(url).status_code == 200, url
    manager = client_for("mia")
    for url in ("/manage", "/api/stats/tcm_caller", "/api/stats/tcm_caller/overview"):
        assert manager.get(url).status_code == 200, url
    do(nina, c["id"], "Check_Task", {"score": 3})
    assert case(dan, c["id"])["current_steps"] == ["After"]
    done = do(dan, c["id"], "After", {"summary": "ok"})
    assert done["status"] == "completed"
    assert case(dan, c["id"])["current_steps"] == []


def test_a_call_activity_calls_the_process_deployed_before_it(token_client_for, deployed):
    dora, rita, nina, dan = (token_client_for(u) for u in ("dora", "rita", "nina", "dan"))
    deploy_files(dora, {"called.bpmn": CALLED})
    deploy_files(dora, {"caller.bpmn": CALLER})
    c = start(rita, "tcm_caller")
    do(nina, c["id"], "Check_Task", {"score": 5})
    assert do(dan, c["id"], "After", {"summary": "ok"})["status"] == "completed"


def test_redeploying_the_called_process_gives_new_cases_the_new_one_and_running_cases_keep_theirs(
        token_client_for, deployed):
    dora, rita, nina = (token_client_for(u) for u in ("dora", "rita", "nina"))
    deploy_files(dora, {"called.bpmn": CALLED})
    deploy_files(dora, {"caller.bpmn": CALLER})
    old = start(rita, "tcm_caller")
    result = deploy_files(dora, {"called.bpmn": CALLED.replace("Hoitajan arvio", "Hoitajan uusi arvio")})
    assert {(d["process_id"], d["version"], d["changed"]) for d in result} == {
        ("tcm_called", 2, True), ("tcm_caller", 2, True)}
    new = start(rita, "tcm_caller")
    assert find_task(nina, old["id"], "Check_Task")["name"] == "Hoitajan arvio"
    assert find_task(nina, new["id"], "Check_Task")["name"] == "Hoitajan uusi arvio"
    # deploying the same again changes nothing
    assert all(not d["changed"] for d in deploy_files(dora, {"called.bpmn": CALLED.replace(
        "Hoitajan arvio", "Hoitajan uusi arvio")}, status=200))


def test_an_unknown_called_process_is_refused_at_deploy_with_the_known_ids(token_client_for, deployed):
    dora = token_client_for("dora")
    deploy_files(dora, {"called.bpmn": CALLED})
    before = dora.get("/api/processes").get_json()
    r = dora.post("/api/processes", json={"files": {**FORMS, "caller.bpmn": CALLER.replace(
        'calledElement="tcm_called"', 'calledElement="tcm_caled"')}})
    assert r.status_code == 422, r.get_json()
    (problem,) = r.get_json()["details"]
    assert (problem["file"], problem["element_id"], problem["element_name"]) == ("caller.bpmn", "Call_Check", "Arvio")
    assert problem["line"] and "did you mean 'tcm_called'?" in problem["fix"]
    assert dora.get("/api/processes").get_json() == before


def test_a_process_with_a_form_inside_an_embedded_subprocess_starts_and_runs(token_client_for):
    dora, rita, nina = (token_client_for(u) for u in ("dora", "rita", "nina"))
    sub = ('<bpmn:subProcess id="Sub_1" name="Vaihe"><bpmn:startEvent id="Sub_Start" />'
           + user_task("Inner", "Sisätehtävä", formRef="tcm_check")
           + '<bpmn:endEvent id="Sub_End" />' + seq_flow("Sub_Start", "Inner") + seq_flow("Inner", "Sub_End")
           + "</bpmn:subProcess>")
    xml = diagram(START, sub, END, chain=["StartEvent_1", "Sub_1", "End_1"],
                  lanes={"nurse": ["StartEvent_1", "Sub_1", "End_1"]}, process_id="tcm_embedded")
    deploy_files(dora, {"embedded.bpmn": xml})
    c = start(nina, "tcm_embedded")
    assert in_inbox(rita, c["id"], "Inner") == []
    bad = nina.post(f"/api/tasks/{find_task(nina, c['id'], 'Inner')['id']}/complete", json={"data": {"score": "x"}})
    assert bad.status_code == 422  # the inner task's own form checks what is sent
    assert do(nina, c["id"], "Inner", {"score": 2})["status"] == "completed"


# -- timers ------------------------------------------------------------------------------------------
def test_a_twelve_hour_reminder_notifies_three_times_and_then_leaves_no_timer(deployed, token_client_for):
    dora, rita, nina = (token_client_for(u) for u in ("dora", "rita", "nina"))
    with time_machine.travel(T0, tick=False) as clock:
        deploy_files(dora, {"reminder.bpmn": reminder_process("R3/PT12H")})
        c = start(rita, "tcm_reminder")
        for _ in range(4):
            clock.shift(timedelta(hours=12, seconds=1))
            fire_due_timers(deployed)
        reminders = [m for m in outbox(deployed, c["id"]) if m.subject == "Muistutus"]
        # three cycles, each to both nurses of the region
        assert len(reminders) == 3 * 2
        assert timer_rows(deployed, c["id"]) == 0
        assert case(nina, c["id"])["current_steps"] == ["Task_1"]
        assert do(nina, c["id"], "Task_1", {"score": 1})["status"] == "completed"
    with deployed.uow() as uow:
        fired = uow.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
            Event.case_id == c["id"], Event.kind == "timer_fired"))
    assert fired == 3


def test_a_daily_reminder_stops_when_the_task_is_completed(deployed, token_client_for):
    dora, rita, nina = (token_client_for(u) for u in ("dora", "rita", "nina"))
    with time_machine.travel(T0, tick=False) as clock:
        deploy_files(dora, {"reminder.bpmn": reminder_process("R/P1D")})
        c = start(rita, "tcm_reminder")
        for _ in range(2):
            clock.shift(timedelta(days=1, seconds=1))
            assert fire_due_timers(deployed) == 1
        assert timer_rows(deployed, c["id"]) == 1
        assert do(nina, c["id"], "Task_1", {"score": 1})["status"] == "completed"
        assert timer_rows(deployed, c["id"]) == 0
        clock.shift(timedelta(days=3))
        assert fire_due_timers(deployed) == 0
    assert len([m for m in outbox(deployed, c["id"]) if m.subject == "Muistutus"]) == 2 * 2


def test_an_event_subprocess_reminder_fires_daily_and_the_case_still_completes(deployed, token_client_for):
    dora, rita, nina = (token_client_for(u) for u in ("dora", "rita", "nina"))
    sub = ('<bpmn:subProcess id="Reminders" name="Muistutukset" triggeredByEvent="true">'
           f'<bpmn:startEvent id="Reminder_Start" name="Joka aamu" isInterrupting="false">{cycle("R/P1D")}'
           f'</bpmn:startEvent>{NOTIFY}<bpmn:endEvent id="Reminder_End" />'
           + seq_flow("Reminder_Start", "Remind_Notify") + seq_flow("Remind_Notify", "Reminder_End")
           + "</bpmn:subProcess>")
    xml = diagram(START, user_task("Task_1", "Soita", formRef="tcm_check", candidateGroups="nurse"), sub, END,
                  chain=["StartEvent_1", "Task_1", "End_1"], process_id="tcm_evsub")
    with time_machine.travel(T0, tick=False) as clock:
        deploy_files(dora, {"evsub.bpmn": xml})
        c = start(rita, "tcm_evsub")
        for _ in range(2):
            clock.shift(timedelta(days=1, seconds=1))
            assert fire_due_timers(deployed) == 1
        assert case(nina, c["id"])["current_steps"] == ["Task_1"]
        assert do(nina, c["id"], "Task_1", {"score": 1})["status"] == "completed"
        assert timer_rows(deployed, c["id"]) == 0
    assert len([m for m in outbox(deployed, c["id"]) if m.subject == "Muistutus"]) == 2 * 2


def test_a_cron_cycle_and_a_timer_start_event_are_refused_with_located_messages(token_client_for, deployed):
    dora = token_client_for("dora")
    r = dora.post("/api/processes", json={"files": {**FORMS, "cron.bpmn": reminder_process("0 0 9 * * ?")}})
    assert r.status_code == 422
    (problem,) = r.get_json()["details"]
    assert (problem["file"], problem["element_id"], problem["element_name"]) == ("cron.bpmn", "Remind", "Muistutus")
    assert "T09:00/P1D" in problem["fix"] and problem["line"]
    timed = diagram(f'<bpmn:startEvent id="StartEvent_1" name="Joka aamu">{cycle("R/P1D")}</bpmn:startEvent>',
                    user_task("Task_1", candidateGroups="nurse"), END, chain=["StartEvent_1", "Task_1", "End_1"],
                    process_id="tcm_timed")
    r = dora.post("/api/processes", json={"files": {"timed.bpmn": timed}})
    assert r.status_code == 422
    (problem,) = r.get_json()["details"]
    assert problem["element_id"] == "StartEvent_1" and problem["fix"]
    with deployed.uow() as uow:
        assert uow.session.scalar(sa.select(ProcessVersion).where(
            ProcessVersion.process_id.in_(["tcm_reminder", "tcm_timed"]))) is None


# -- multi-instance and initiator -----------------------------------------------------------------
def test_a_parallel_review_gives_each_reviewer_a_task_then_the_initiator_finishes(token_client_for, client_for):
    dora, rita, nina, noora = (token_client_for(u) for u in ("dora", "rita", "nina", "noora"))
    xml = diagram('<bpmn:startEvent id="StartEvent_1" name="Alku" camunda:formRef="tcm_reviewers" />',
                  '<bpmn:userTask id="Review" name="Arvio" camunda:formRef="tcm_review" '
                  'camunda:assignee="${reviewer}" camunda:candidateGroups="nurse">'
                  '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${reviewers}" '
                  'camunda:elementVariable="reviewer" /></bpmn:userTask>',
                  user_task("Close", "Päätä", formRef="tcm_after", assignee="${initiator}",
                            candidateGroups="referrer"), END,
                  chain=["StartEvent_1", "Review", "Close", "End_1"], process_id="tcm_review")
    deploy_files(dora, {"review.bpmn": xml})
    c = start(rita, "tcm_review", {"reviewers": ["nina", "noora"]})
    assert c["current_steps"] == ["Review"]
    (mine,) = [t for t in in_inbox(nina, c["id"], "Review") if t["assignee"] == "nina"]
    (hers,) = [t for t in in_inbox(noora, c["id"], "Review") if t["assignee"] == "noora"]
    page = client_for("nina")
    for url in ("/inbox", f"/tasks/{mine['id']}", f"/cases/{c['id']}"):
        assert page.get(url).status_code == 200, url
    assert nina.post(f"/api/tasks/{mine['id']}/complete", json={"data": {"verdict": "hyvä"}}).status_code == 200
    assert case(rita, c["id"])["current_steps"] == ["Review"]
    assert noora.post(f"/api/tasks/{hers['id']}/complete", json={"data": {"verdict": "hyvä"}}).status_code == 200
    (close,) = in_inbox(rita, c["id"], "Close")
    assert close["assignee"] == "rita"
    assert do(rita, c["id"], "Close", {"summary": "valmis"}, claim=False)["status"] == "completed"
