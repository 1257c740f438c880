"""Per-step cost of one case as its loop runs on: at loop 1, 100 and 1,000.

Two loop shapes are driven through the service layer, 1,000 times each:
- follow-up: a social-rehabilitation case (the 3-month review timer fired by moving the
  clock, then the review completed); a loop = firing the timer + completing the review;
- rework: a review sent straight back to itself by a gateway (start → Review → gateway →
  back to Review), the commonest loop in real diagrams; a loop = completing the review.
Each step is load → step → save → commit. The follow-up loop is also run on raw
SpiffWorkflow (load → step → save with the full serializer, no loop compaction) until it
breaks, to show what Polku's compaction prevents.

    python bench/long_case.py [--loops 1000]
Target: loop 1,000 ≤ 1.5 × loop 1, for each shape.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import time_machine  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from orchestrator.engine.deployment import build_models, read_forms  # noqa: E402
from orchestrator.engine.script_engine import SCRIPT_ENGINE  # noqa: E402
from orchestrator.engine.serializer import FULL_SERIALIZER  # noqa: E402
from orchestrator.services import cases, deploy, tasks, users  # noqa: E402
from orchestrator.services.env import Settings, bootstrap  # noqa: E402
from orchestrator.services.timers import fire_due_timers  # noqa: E402
from orchestrator.store.models import Base  # noqa: E402

PASSWORD = "bench-password"
REVIEW = {"attendance": "good", "provider_feedback": "ok", "next_step": "continue"}
WINDOWS = {"loop 1": (0, 10), "loop 100": (95, 105), "loop 1,000": (990, 1000)}
REWORK_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  id="Definitions_Rework" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler">
  <bpmn:process id="bench_rework" name="Korjauskierros" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1"><bpmn:lane id="Lane_1" name="social_worker">
      <bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_Review</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Gateway_Approved</bpmn:flowNodeRef><bpmn:flowNodeRef>EndEvent_Approved</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1" name="Alku" />
    <bpmn:userTask id="Task_Review" name="Tarkastus" camunda:formRef="bench_review" />
    <bpmn:exclusiveGateway id="Gateway_Approved" name="Hyväksytty?" />
    <bpmn:endEvent id="EndEvent_Approved" name="Hyväksytty" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_Review" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Review" targetRef="Gateway_Approved" />
    <bpmn:sequenceFlow id="Flow_Yes" name="kyllä" sourceRef="Gateway_Approved" targetRef="EndEvent_Approved">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">approved == True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_No" name="ei" sourceRef="Gateway_Approved" targetRef="Task_Review">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">approved == False</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""
REWORK_FORM = json.dumps({"type": "default", "schemaVersion": 16, "components": [
    {"id": "Field_approved", "key": "approved", "label": "Hyväksytty", "type": "checkbox"},
    {"id": "Field_note", "key": "note", "label": "Huomio", "type": "textfield"}]})


def polku_loops(n: int, workdir: Path) -> list[float]:
    env = bootstrap(f"sqlite:///{workdir / 'long.sqlite'}", Settings(outbox_log_path=str(workdir / "o.log")))
    Base.metadata.create_all(env.engine)
    bpmn, forms = deploy.collect_files([str(ROOT / "processes"), str(ROOT / "forms")])
    deploy.deploy(env, None, bpmn, forms)
    users.add_region(env, "north", "Pohjoinen")
    users.add_user(env, "rita", PASSWORD, ["referrer"], ["north"], organisation="te_office")
    users.add_user(env, "sofia", PASSWORD, ["social_worker"], ["north"], organisation="social_services")
    users.add_user(env, "nina", PASSWORD, ["nurse"], ["north"], organisation="health_centre")
    users.add_user(env, "dan", PASSWORD, ["doctor"], ["north"], organisation="health_centre")
    rita, sofia = users.principal_for(env, "rita"), users.principal_for(env, "sofia")

    def task(cid: int, element: str) -> str:
        (t,) = [t for t in tasks.list_tasks(env, sofia, tasks.TaskQuery(limit=500))["items"]
                if t["case_id"] == cid and t["element_id"] == element]
        return t["id"]

    costs = []
    with time_machine.travel(datetime(2027, 1, 4, 8, tzinfo=UTC), tick=False) as clock:
        cid = cases.start_case(env, rita, "social_rehabilitation", "north", {
            "client_ref": "B-1", "referral_source": "social_work", "need_description": "x"})["id"]
        tasks.complete(env, sofia, task(cid, "Task_ServiceNeedAssessment"), {
            "assessment": "x", "consent_given": "yes", "consent_organisations": ["social_services", "health_centre"]})
        tasks.complete(env, sofia, task(cid, "Task_SocialSituation"), {"situation_description": "x", "pakaste_needed": "no"})
        tasks.complete(env, sofia, task(cid, "Task_ActivationPlan"), {"plan_goals": "x", "activity_type": "group_activity"})
        for loop in range(n):
            clock.shift(timedelta(days=93))
            started = time.perf_counter()
            moved = fire_due_timers(env)
            lap = time.perf_counter() - started
            review = task(cid, "Task_PeriodReview")  # (finding the task is not timed)
            started = time.perf_counter()
            tasks.complete(env, sofia, review, REVIEW)
            costs.append((lap + time.perf_counter() - started) * 1000)
            if moved != 1:
                raise SystemExit(f"FAILED: the timer did not fire on loop {loop}")
    return costs


def rework_loops(n: int, workdir: Path) -> list[float]:
    """A review sent straight back to itself n times, then approved: ms per round."""
    env = bootstrap(f"sqlite:///{workdir / 'rework.sqlite'}", Settings(outbox_log_path=str(workdir / "r.log")))
    Base.metadata.create_all(env.engine)
    deploy.deploy(env, None, {"rework.bpmn": REWORK_BPMN.encode()}, {"bench_review.form": REWORK_FORM.encode()})
    users.add_region(env, "north", "Pohjoinen")
    users.add_user(env, "sofia", PASSWORD, ["social_worker"], ["north"], organisation="social_services")
    sofia = users.principal_for(env, "sofia")
    costs = []
    with time_machine.travel(datetime(2027, 1, 4, 8, tzinfo=UTC), tick=False) as clock:
        cid = cases.start_case(env, sofia, "bench_rework", "north", {}, client_ref="B-2")["id"]
        for loop in range(n + 1):
            (review,) = [t for t in tasks.list_tasks(env, sofia, tasks.TaskQuery(limit=500))["items"]
                         if t["case_id"] == cid]  # exactly one open review a round (not timed)
            clock.shift(timedelta(hours=1))
            started = time.perf_counter()
            done = tasks.complete(env, sofia, review["id"], {"approved": loop == n, "note": f"kierros {loop}"})
            if loop < n:
                costs.append((time.perf_counter() - started) * 1000)
        if done["status"] != "completed":
            raise SystemExit("FAILED: the rework case did not end when the review was approved")
    return costs


def raw_loops(n: int) -> tuple[list[float], str]:
    forms, _ = read_forms({str(p): p.read_bytes() for p in (ROOT / "forms").glob("sr_*.form")})
    (model,) = build_models({"sr.bpmn": (ROOT / "processes" / "social_rehabilitation.bpmn").read_bytes()}, forms,
                            ["notify", "record", "consent", "invite"])
    costs: list[float] = []

    def settle(wf: BpmnWorkflow) -> None:
        wf.do_engine_steps()
        while started := wf.get_tasks(state=TaskState.STARTED):
            for t in started:
                t.complete()
            wf.do_engine_steps()

    def human(wf: BpmnWorkflow, element: str, data: dict) -> None:
        (t,) = [t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == element]
        t.data.update(data)
        t.run()
        settle(wf)

    with time_machine.travel(datetime(2027, 1, 4, 8, tzinfo=UTC), tick=False) as clock:
        wf = BpmnWorkflow(model.spec, model.subprocess_specs, script_engine=SCRIPT_ENGINE)
        wf.get_tasks(state=TaskState.READY)[0].data.update({"client_ref": "R", "referral_source": "social_work",
                                                            "need_description": "x"})
        settle(wf)
        human(wf, "Task_ServiceNeedAssessment", {"assessment": "x", "consent_given": "yes"})
        human(wf, "Task_SocialSituation", {"situation_description": "x", "pakaste_needed": "no"})
        human(wf, "Task_ActivationPlan", {"plan_goals": "x", "activity_type": "group_activity"})
        state = FULL_SERIALIZER.serialize_json(wf)
        for loop in range(n):
            clock.shift(timedelta(days=93))
            started = time.perf_counter()
            try:
                wf = FULL_SERIALIZER.deserialize_json(state)
                wf.script_engine = SCRIPT_ENGINE
                wf.refresh_timers()
                settle(wf)
                ready = [t for t in wf.get_tasks(state=TaskState.READY, manual=True)]
                if not ready:
                    return costs, f"stalled silently at loop {loop}: no task ready, workflow not completed"
                human(wf, "Task_PeriodReview", REVIEW)
                state = FULL_SERIALIZER.serialize_json(wf)
            except RecursionError:
                return costs, f"RecursionError at loop {loop}"
            costs.append((time.perf_counter() - started) * 1000)
    return costs, f"ran {n} loops"


def window(costs: list[float], lo: int, hi: int) -> str:
    part = costs[lo:hi]
    return f"{statistics.median(part):8.2f}" if len(part) >= max(1, (hi - lo) // 2) else "       —"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--loops", type=int, default=1000)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        polku = polku_loops(args.loops, Path(tmp))
        rework = rework_loops(args.loops, Path(tmp))
    raw, raw_end = raw_loops(args.loops)
    print(f"one case per shape, {args.loops} loops each, through the service layer, SQLite")
    print("  follow-up: social rehabilitation, fire the 3-month timer + complete the review")
    print("  rework:    start → Review → gateway → straight back to Review (complete the review)")
    print(f"{'ms per loop (median of window)':38}" + "".join(f"{k:>12}" for k in WINDOWS))
    for label, costs in (("Polku, follow-up loop", polku), ("Polku, rework loop", rework)):
        print(f"{label:38}" + "".join(f"{window(costs, *w):>12}" for w in WINDOWS.values()))
        first = statistics.median(costs[0:10])
        print(f"{'  ratio to loop 1 (same run)':38}" + "".join(
            f"{statistics.median(costs[lo:hi]) / first:>12.2f}" if len(costs[lo:hi]) >= max(1, (hi - lo) // 2)
            else f"{'—':>12}" for lo, hi in WINDOWS.values()))
    print(f"{'raw SpiffWorkflow, no compaction':38}" + "".join(f"{window(raw, *w):>12}" for w in WINDOWS.values())
          + f"   ({raw_end})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
