"""A case that loops for years stays alive and fast: SpiffWorkflow alone stalls silently after
≈ 250 loops (task-tree depth 1000). Polku rewinds loops, so the live state stays small while
the events table keeps every step."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from orchestrator.services import cases, tasks
from orchestrator.services.timers import fire_due_timers
from orchestrator.store.models import Case, Event, Task

from ..conftest import principal

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
