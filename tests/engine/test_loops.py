"""Loop compaction on the real work-ability network model: follow-ups "until the need ends"
with the overdue alert firing on every loop must stay bounded and still end properly."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

from orchestrator.engine.deployment import build_models, read_forms
from orchestrator.engine.runtime import CaseRuntime

from .helpers import TOPICS

ROOT = Path(__file__).resolve().parents[2]


def network_model():
    forms, _ = read_forms({str(p): p.read_bytes() for p in (ROOT / "forms").glob("wn_*.form")})
    (model,) = build_models({"wn.bpmn": (ROOT / "processes" / "work_ability_network.bpmn").read_bytes()},
                            forms, TOPICS)
    return model


def settle(rt: CaseRuntime) -> None:
    while calls := rt.service_calls():
        for call in calls:
            rt.complete_service(call.task_id, None)


def human(rt: CaseRuntime, element_id: str, data: dict) -> None:
    (task,) = [t for t in rt.human_tasks(datetime.now(UTC)) if t.element_id == element_id]
    rt.complete_human(task.task_id, data)
    settle(rt)


def at_network_meeting(model) -> CaseRuntime:
    """A network case through consent, contact request, consultation and invitation."""
    rt, _ = CaseRuntime.start(model, {"client_ref": "L", "need_description": "x", "urgency": "normal"})
    settle(rt)
    human(rt, "Task_RecordConsent", {"consent_given": "yes", "consent_organisations": ["kela"]})
    human(rt, "Task_ContactRequest", {"request_summary": "x"})
    human(rt, "Task_Consultation", {"consultation_outcome": "network_needed"})
    human(rt, "Task_InviteNetwork", {"network_members": "kalle", "meeting_at": "2027-01-20T10:00"})
    return rt


def test_three_hundred_follow_ups_each_with_an_overdue_alert_stay_bounded_and_end(tmp_path):
    model = network_model()
    with time_machine.travel(datetime(2027, 1, 4, 8, tzinfo=UTC), tick=False) as clock:
        rt = at_network_meeting(model)
        human(rt, "Task_NetworkMeeting", {"joint_plan": "x", "client_lead": "sofia", "followup_interval": "P6W"})
        sizes = []
        for loop in range(300):
            clock.shift(timedelta(weeks=6, seconds=1))
            rt.fire_timers()
            (follow_up,) = [t for t in rt.human_tasks(datetime.now(UTC)) if t.element_id == "Task_FollowUp"]
            assert follow_up.assignee == "sofia"  # the client lead lane goes to the named lead
            clock.shift(timedelta(days=15))  # the follow-up is late: the coordinator is alerted
            rt.fire_timers()
            assert [c.element_id for c in rt.service_calls()] == ["Task_AlertCoordinator"]
            settle(rt)
            rt = CaseRuntime.load(model, rt.dumps())
            human(rt, "Task_FollowUp", {"progress": f"loop {loop}", "need_continues": "yes"})
            sizes.append(len(rt.workflow.tasks))
        assert max(sizes) == min(sizes), (sizes[:3], sizes[-3:])
        clock.shift(timedelta(weeks=6, seconds=1))
        rt.fire_timers()
        human(rt, "Task_FollowUp", {"progress": "done", "need_continues": "no", "closure_reason": "employed"})
    assert rt.completed and rt.outcome() == "employed"


def test_an_outcome_field_left_empty_falls_back_to_the_end_events_name():
    model = network_model()
    with time_machine.travel(datetime(2027, 1, 4, 8, tzinfo=UTC), tick=False) as clock:
        rt = at_network_meeting(model)
        human(rt, "Task_NetworkMeeting", {"joint_plan": "x", "client_lead": "sofia", "followup_interval": "P8W"})
        clock.shift(timedelta(weeks=8, seconds=1))
        rt.fire_timers()
        human(rt, "Task_FollowUp", {"progress": "x", "need_continues": "no"})
    assert rt.completed and rt.outcome() == "Asiakkuus päättyi"


def test_values_changed_inside_the_loop_survive_the_rewinds():
    """The client lead changes and the score moves on: later follow-ups must see the new values."""
    model = network_model()
    with time_machine.travel(datetime(2027, 1, 4, 8, tzinfo=UTC), tick=False) as clock:
        rt = at_network_meeting(model)
        human(rt, "Task_NetworkMeeting", {"joint_plan": "x", "client_lead": "sofia", "followup_interval": "P6W",
                                          "workability_score": 2})
        for loop in range(5):
            clock.shift(timedelta(weeks=6, seconds=1))
            rt.fire_timers()
            (follow_up,) = [t for t in rt.human_tasks(datetime.now(UTC)) if t.element_id == "Task_FollowUp"]
            assert follow_up.assignee == ("sofia" if loop < 2 else "saku")
            assert follow_up.data["workability_score"] == 2 + loop
            if loop == 1:
                rt.set_data({"client_lead": "saku"})
            human(rt, "Task_FollowUp", {"progress": "x", "need_continues": "yes", "workability_score": 3 + loop})
            rt = CaseRuntime.load(model, rt.dumps())
