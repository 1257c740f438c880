"""A case that loops for years stays alive and fast: SpiffWorkflow alone stalls silently after
≈ 250 loops (task-tree depth 1000). Polku rewinds loops, so the live state stays small while
the events table keeps every step."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from orchestrator.services import cases, deploy, tasks, users
from orchestrator.services.timers import fire_due_timers
from orchestrator.store.models import Case, Document, Event, Task, TimerRow

from ..conftest import PASSWORD, principal
from ..engine import loop_shapes
from ..engine.helpers import form_json

ASSESSMENT = {"assessment": "x", "consent_given": "yes", "consent_organisations": ["social_services", "health_centre"]}
LOOPS = 1000


def _only_task(env, actor, case_id: int, element_id: str) -> str:
    items = tasks.list_tasks(env, actor, tasks.TaskQuery(limit=500))["items"]
    (task,) = [t for t in items if t["case_id"] == case_id and t["element_id"] == element_id]
    return task["id"]


def test_one_case_runs_a_thousand_review_loops_to_completion(deployed):
    rita, sofia = principal(deployed, "rita"), principal(deployed, "sofia")
    t0 = datetime(2027, 1, 4, 8, 0, tzinfo=timezone.utc)
    sizes = []
    with time_machine.travel(t0, tick=False) as traveller:
        c = cases.start_case(deployed, rita, "social_rehabilitation", "north",
                             {"client_ref": "LONG-1", "referral_source": "social_work", "need_description": "x"})
        cid = c["id"]
        tasks.complete(deployed, sofia, _only_task(deployed, sofia, cid, "Task_ServiceNeedAssessment"), ASSESSMENT)
        tasks.complete(deployed, sofia, _only_task(deployed, sofia, cid, "Task_SocialSituation"),
                       {"situation_description": "x", "pakaste_needed": "no"})
        tasks.complete(deployed, sofia, _only_task(deployed, sofia, cid, "Task_ActivationPlan"),
                       {"plan_goals": "x", "activity_type": "group_activity"})
        for loop in range(LOOPS):
            traveller.shift(timedelta(days=93))
            assert fire_due_timers(deployed) == 1, f"the review timer did not fire on loop {loop}"
            last = loop == LOOPS - 1
            tasks.complete(deployed, sofia, _only_task(deployed, sofia, cid, "Task_PeriodReview"), {
                "attendance": "good", "provider_feedback": f"jakso {loop}", "workability_score": loop % 11,
                "next_step": "conclude" if last else "continue"})
            if loop in (0, 99, LOOPS - 2):
                with deployed.uow() as uow:
                    sizes.append(len(uow.session.get(Case, cid).state))
        result = tasks.complete(deployed, sofia, _only_task(deployed, sofia, cid, "Task_Outcome"),
                                {"outcome": "employment_services"})
    assert result["status"] == "completed" and result["outcome"] == "employment_services"
    # the live state does not grow with the history …
    assert max(sizes) < 1.2 * sizes[0], sizes
    # … while the audit trail and the task index keep all of it
    with deployed.uow() as uow:
        s = uow.session
        reviews = s.scalar(sa.select(sa.func.count()).select_from(Event).where(
            Event.case_id == cid, Event.kind == "task_completed", Event.element_id == "Task_PeriodReview"))
        fired = s.scalar(sa.select(sa.func.count()).select_from(Event).where(
            Event.case_id == cid, Event.kind == "timer_fired"))
        review_rows = s.scalar(sa.select(sa.func.count()).select_from(Task).where(
            Task.case_id == cid, Task.element_id == "Task_PeriodReview", Task.status == "completed"))
    assert reviews == fired == review_rows == LOOPS


# -- every loop shape through the services: the inbox has the round's task, and only it ------
SHAPE_ROUNDS = 102  # ≥ 100, and the nested shape's last round is a follow-up that ends it
SHAPE_LAST = SHAPE_ROUNDS - 1


def _decide(round_no: int, element_id: str) -> dict:
    if element_id == "Task_FollowUp":
        return {"need_continues": round_no != SHAPE_LAST}
    return {"approved": round_no == SHAPE_LAST, "note": f"round {round_no}"}


def _nested_decide(round_no: int, element_id: str) -> dict:
    if element_id == "Task_FollowUp":
        return {"need_continues": round_no != SHAPE_LAST}
    return {"approved": round_no % 3 == 1, "note": f"round {round_no}"}


@pytest.fixture
def loop_env(env):
    users.add_region(env, "north", "Pohjoinen")
    users.add_user(env, "sofia", PASSWORD, [loop_shapes.ROLE], ["north"], organisation="social_services")
    return env


def _deploy_shape(env, xml: str) -> None:
    forms = {f"{fid}.form": form_json(*components).encode() for fid, components in loop_shapes.FORMS.items()}
    deploy.deploy(env, None, {"loops.bpmn": xml.encode()}, forms)


def _rows(env, case_id: int) -> list:
    """The case's rows in the task index: (id, element_id, status), oldest first."""
    with env.uow() as uow:
        return list(uow.session.execute(sa.select(Task.id, Task.element_id, Task.status)
                                        .where(Task.case_id == case_id).order_by(Task.created_at)))


SERVICE_SHAPES = loop_shapes.params(_decide, _nested_decide)


@pytest.mark.parametrize(("shape", "decide", "per_round"), SERVICE_SHAPES)
def test_every_loop_shape_puts_exactly_the_rounds_task_in_the_inbox_until_it_ends(loop_env, shape, decide,
                                                                                   per_round):
    env = loop_env
    _deploy_shape(env, shape())
    sofia = principal(env, "sofia")
    sizes = []
    with time_machine.travel(datetime(2027, 1, 4, 8, tzinfo=timezone.utc), tick=False) as traveller:
        cid = cases.start_case(env, sofia, "test_process", "north", {"approved": False}, client_ref="LOOP-1")["id"]
        done: set[str] = set()
        for round_no in range(SHAPE_ROUNDS):
            rows = _rows(env, cid)
            open_rows = [r for r in rows if r.status == "open"]
            assert len(open_rows) == per_round, f"round {round_no}: {[(r.element_id, r.status) for r in rows]}"
            # … and it is the one in the inbox; every earlier round's row is completed
            inbox = [t["id"] for t in tasks.list_tasks(env, sofia, tasks.TaskQuery(limit=500))["items"]]
            assert sorted(inbox) == sorted(r.id for r in open_rows)
            assert {r.id for r in rows if r.status == "completed"} == done
            for row in open_rows:
                tasks.complete(env, sofia, row.id, decide(round_no, row.element_id))
                done.add(row.id)
            traveller.shift(timedelta(hours=1))
            if round_no in (1, SHAPE_LAST - 1):
                with env.uow() as uow:
                    sizes.append(len(uow.session.get(Case, cid).state))
    with env.uow() as uow:
        case = uow.session.get(Case, cid)
        assert (case.status, case.outcome, list(case.current_steps)) == ("completed", "Loppu", [])
    rows = _rows(env, cid)
    assert len(rows) == SHAPE_ROUNDS * per_round and {r.status for r in rows} == {"completed"}
    assert sizes[1] < 1.2 * sizes[0], sizes  # the live state stays flat


def test_a_service_task_in_a_rework_loop_runs_its_handler_every_round(loop_env):
    env = loop_env
    _deploy_shape(env, loop_shapes.back_to_service())
    sofia = principal(env, "sofia")
    with time_machine.travel(datetime(2027, 1, 4, 8, tzinfo=timezone.utc), tick=False):  # no clock tick
        cid = cases.start_case(env, sofia, "test_process", "north", {"approved": False}, client_ref="LOOP-2")["id"]
        for round_no in range(5):
            (row,) = [r for r in _rows(env, cid) if r.status == "open"]
            tasks.complete(env, sofia, row.id, {"approved": round_no == 4, "note": f"round {round_no}"})
    with env.uow() as uow:
        docs = list(uow.session.execute(sa.select(Document.version, Document.content)
                                        .where(Document.case_id == cid).order_by(Document.version)))
    # one record a round: at the start, then after each rejected review
    assert [d.version for d in docs] == [1, 2, 3, 4, 5]
    assert [d.content.get("note") for d in docs] == [None, "round 0", "round 1", "round 2", "round 3"]


def _timer_dues(env, case_id: int) -> list[datetime]:
    with env.uow() as uow:
        return [r.due_at.replace(tzinfo=timezone.utc) if r.due_at.tzinfo is None else r.due_at
                for r in uow.session.execute(sa.select(TimerRow.due_at).where(TimerRow.case_id == case_id))]


def test_a_reminder_on_the_reviewed_task_fires_once_per_round_and_a_claimed_review_stays_claimed(loop_env):
    """Each round arms its own 3-day reminder; the phone call it opens stays open over the next
    round; finishing the call leaves the claimed review as it was (same row, same claim)."""
    env = loop_env
    _deploy_shape(env, loop_shapes.straight_back_with_reminder())
    sofia = principal(env, "sofia")
    t0 = datetime(2027, 1, 4, 8, tzinfo=timezone.utc)
    with time_machine.travel(t0, tick=False) as traveller:
        cid = cases.start_case(env, sofia, "test_process", "north", {"approved": False}, client_ref="LOOP-3")["id"]
        began = t0
        for round_no in range(6):
            assert _timer_dues(env, cid) == [began + timedelta(days=3)]
            if round_no == 1:
                traveller.shift(timedelta(days=3, seconds=1))
                assert fire_due_timers(env) == 1
            rows = {r.element_id: r for r in _rows(env, cid) if r.status == "open"}
            assert sorted(rows) == (["Task_Call", "Task_Review"] if round_no in (1, 2) else ["Task_Review"])
            if round_no == 2:
                tasks.claim(env, sofia, rows["Task_Review"].id)
                tasks.complete(env, sofia, rows["Task_Call"].id, {"note": "soitettu"})
                (review,) = [r for r in _rows(env, cid) if r.status == "open"]
                assert review.id == rows["Task_Review"].id
                assert tasks.get_task(env, sofia, review.id)["assignee"] == "sofia"
            tasks.complete(env, sofia, rows["Task_Review"].id, {"approved": round_no == 5, "note": str(round_no)})
            began = datetime.now(timezone.utc)  # the next round, and its reminder, begin now
            traveller.shift(timedelta(hours=1))
    with env.uow() as uow:
        case = uow.session.get(Case, cid)
        assert (case.status, case.outcome) == ("completed", "Loppu")
        fired = uow.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
            Event.case_id == cid, Event.kind == "timer_fired"))
    assert fired == 1 and _timer_dues(env, cid) == []
    statuses = [(r.element_id, r.status) for r in _rows(env, cid)]
    assert statuses.count(("Task_Review", "completed")) == 6 and ("Task_Call", "completed") in statuses
