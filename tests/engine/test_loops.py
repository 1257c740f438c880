"""Loop compaction: the real work-ability network model's follow-ups "until the need ends"
(with the overdue alert firing on every loop), and every loop shape issue 9 names, must run
round after round with one open task a round, stay bounded and still end properly."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from orchestrator.engine.deployment import build_models, read_forms
from orchestrator.engine.runtime import CaseRuntime

from . import loop_shapes
from .helpers import TOPICS, deploy

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


# -- every loop shape issue 9 names: ≥ 100 rounds, one open task a round, a flat task tree ----
ROUNDS = 120
LAST = ROUNDS - 1


def tree_size(rt: CaseRuntime) -> int:
    return len(rt.workflow.tasks) + sum(len(sp.tasks) for sp in rt.workflow.subprocesses.values())


def tree_depth(rt: CaseRuntime) -> int:
    return max(t.depth for t in rt.workflow.get_tasks())


def review_decision(round_no: int) -> dict:
    return {"approved": round_no == LAST, "note": f"round {round_no}"}


def nested_decision(round_no: int) -> dict:
    """Rework once (round 3k), approve (3k + 1), follow up (3k + 2): 40 outer, 80 inner rounds."""
    return {"approved": round_no % 3 == 1, "need_continues": round_no != LAST, "note": f"round {round_no}"}


def run_rounds(shape, decide=review_decision, per_round: int = 1):
    """Drive a case of ``shape`` through ROUNDS rounds, saving and loading it after each.

    Returns the runtime at the end, what was open each round, the tree size and depth after
    each round, and how many handler calls ran."""
    (model,) = deploy(shape(), loop_shapes.REVIEW_FORMS)
    rt, _ = CaseRuntime.start(model, {"approved": False})
    opened, sizes, depths, calls = [], [], [], []
    for round_no in range(ROUNDS):
        while pending := rt.service_calls():
            calls.extend(pending)
            for call in pending:
                rt.complete_service(call.task_id, None)
        humans = rt.human_tasks(datetime.now(UTC))
        assert len(humans) == per_round, (round_no, humans)
        opened.append(humans)
        for task in humans:
            rt.complete_human(task.task_id, decide(round_no))
        rt = CaseRuntime.load(model, rt.dumps())
        sizes.append(tree_size(rt))
        depths.append(tree_depth(rt))
    while pending := rt.service_calls():
        calls.extend(pending)
        for call in pending:
            rt.complete_service(call.task_id, None)
    return rt, opened, sizes, depths, calls


SHAPES = loop_shapes.params(review_decision, nested_decision)


@pytest.mark.parametrize(("shape", "decide", "per_round"), SHAPES)
def test_every_loop_shape_opens_a_new_task_each_round_stays_flat_and_ends(shape, decide, per_round):
    rt, opened, sizes, depths, _ = run_rounds(shape, decide, per_round)
    keys = [task.key for humans in opened for task in humans]
    assert len(set(keys)) == len(keys) == ROUNDS * per_round  # each round is a task of its own
    assert sizes[LAST - 1] <= sizes[1] + 2 and depths[LAST - 1] <= depths[1] + 1, (sizes[:3], sizes[-3:])
    assert max(depths) < 30
    assert rt.completed and rt.outcome() == "Loppu"


def test_the_rework_loop_straight_back_reuses_the_engine_task_but_counts_its_rounds():
    """The known stall: the rewound Review keeps its engine id; its occurrence tells the rounds apart."""
    _, opened, *_ = run_rounds(loop_shapes.straight_back)
    assert len({humans[0].task_id for humans in opened}) == 1
    assert [humans[0].occurrence for humans in opened[:3]] == [0, 1, 2]


def test_each_round_sees_what_the_previous_round_wrote():
    _, opened, *_ = run_rounds(loop_shapes.through_merge)
    assert [humans[0].data.get("note") for humans in opened[1:4]] == ["round 0", "round 1", "round 2"]
    assert opened[LAST][0].data["note"] == f"round {LAST - 1}"


def test_nested_loops_alternate_rework_and_follow_up_to_the_end():
    _, opened, *_ = run_rounds(loop_shapes.nested, nested_decision)
    steps = [humans[0].element_id for humans in opened]
    assert steps[:6] == ["Task_Review", "Task_Review", "Task_FollowUp"] * 2
    assert steps.count("Task_FollowUp") == ROUNDS // 3


def test_the_service_task_a_loop_returns_to_runs_once_a_round_as_its_own_execution():
    with time_machine.travel(datetime(2027, 1, 4, 8, tzinfo=UTC), tick=False):  # the clock does not move
        _, _, _, _, calls = run_rounds(loop_shapes.back_to_service)
    assert [c.element_id for c in calls] == ["Task_Record"] * ROUNDS
    # outbox idempotency keys are built from this: one set of messages per round, not one in all
    assert len({c.execution for c in calls}) == ROUNDS


def test_a_looping_subprocess_that_works_before_it_waits_runs_its_handler_once_a_round():
    """It cannot be rewound (that would record the round twice): its old rounds are cut out."""
    _, opened, sizes, _, calls = run_rounds(loop_shapes.looping_subprocess_with_work)
    assert [c.element_id for c in calls] == ["Task_Record"] * ROUNDS
    assert len({c.task_id for c in calls}) == ROUNDS
    assert max(sizes[:-1]) == min(sizes[:-1])


def test_a_parallel_round_reports_its_routing_once():
    (model,) = deploy(loop_shapes.across_parallel(), loop_shapes.REVIEW_FORMS)
    rt, _ = CaseRuntime.start(model, {"approved": False})
    for _ in range(3):
        first, second = rt.human_tasks(datetime.now(UTC))
        rt.complete_human(first.task_id, {"approved": False})
        steps = [s.element_id for s in rt.complete_human(second.task_id, {"approved": False})]
        assert steps.count("Gateway_Split") == 1 and steps.count("Gateway_Merge") == 1, steps


def test_a_reminder_branch_still_open_pauses_compaction_but_not_the_loop():
    """A non-interrupting reminder opened a phone call on round 2; the review goes on round after
    round while the call is open (uncompacted), keeps its inbox identity when the call is done,
    and the tree shrinks back once the next round begins."""
    (model,) = deploy(loop_shapes.straight_back_with_reminder(), loop_shapes.REVIEW_FORMS)
    with time_machine.travel(datetime(2027, 1, 4, 8, tzinfo=UTC), tick=False) as clock:
        rt, _ = CaseRuntime.start(model, {"approved": False})
        sizes, began = [], datetime.now(UTC)
        for round_no in range(12):
            (timer,) = [t for t in rt.timers() if t.element_id == "Timer_Remind"]
            assert timer.due_at == began + timedelta(days=3)  # each round's own reminder
            if round_no == 2:
                clock.shift(timedelta(days=3, seconds=1))
                rt.fire_timers()
            humans = {h.element_id: h for h in rt.human_tasks(datetime.now(UTC))}
            assert sorted(humans) == (["Task_Call", "Task_Review"] if 2 <= round_no <= 5 else ["Task_Review"])
            if round_no == 5:
                rt.complete_human(humans["Task_Call"].task_id, {})
                (review,) = rt.human_tasks(datetime.now(UTC))
                assert review.key == humans["Task_Review"].key  # the open review was not re-created
            rt.complete_human(humans["Task_Review"].task_id, {"approved": round_no == 11})
            rt, began = CaseRuntime.load(model, rt.dumps()), datetime.now(UTC)
            sizes.append(tree_size(rt))
            clock.shift(timedelta(hours=1))
        assert sizes[0] == sizes[1] == sizes[7] == sizes[10] < sizes[4]
    assert rt.completed and rt.outcome() == "Loppu"


def test_an_escalation_loop_through_an_interrupting_timer_stays_flat_and_rearms_each_round():
    """Late reviews escalate (the timer interrupts Review) and the coordinator sends them back."""
    (model,) = deploy(loop_shapes.escalation_loop(), loop_shapes.REVIEW_FORMS)
    with time_machine.travel(datetime(2027, 1, 4, 8, tzinfo=UTC), tick=False) as clock:
        rt, _ = CaseRuntime.start(model, {"approved": False})
        sizes = []
        for round_no in range(ROUNDS):
            if round_no % 2 == 0:
                clock.shift(timedelta(days=2, seconds=1))
                rt.fire_timers()
                (late,) = rt.human_tasks(datetime.now(UTC))
                assert late.element_id == "Task_Escalate"
                rt.complete_human(late.task_id, {"approved": False})
            (review,) = rt.human_tasks(datetime.now(UTC))
            (timer,) = rt.timers()
            assert review.element_id == "Task_Review" and timer.due_at == datetime.now(UTC) + timedelta(days=2)
            rt.complete_human(review.task_id, {"approved": round_no == LAST})
            rt = CaseRuntime.load(model, rt.dumps())
            sizes.append(tree_size(rt))
    assert max(sizes[:-1]) == min(sizes[:-1])  # (the last round ends the case)
    assert rt.completed and rt.outcome() == "Loppu"


def test_a_loop_on_one_branch_leaves_the_other_branchs_open_task_alone():
    (model,) = deploy(loop_shapes.loop_beside_a_waiting_branch(), loop_shapes.REVIEW_FORMS)
    rt, _ = CaseRuntime.start(model, {"approved": False})
    check, sizes = None, []
    for round_no in range(ROUNDS):
        humans = {h.element_id: h for h in rt.human_tasks(datetime.now(UTC))}
        assert sorted(humans) == ["Task_Check", "Task_Review"]
        check = check or humans["Task_Check"].key
        assert humans["Task_Check"].key == check  # the same inbox row all along
        rt.complete_human(humans["Task_Review"].task_id, {"approved": round_no == LAST})
        rt = CaseRuntime.load(model, rt.dumps())
        sizes.append(tree_size(rt))
    assert max(sizes) == min(sizes)
    (last,) = rt.human_tasks(datetime.now(UTC))
    rt.complete_human(last.task_id, {"approved": True})
    assert rt.completed and rt.outcome() == "Loppu"
