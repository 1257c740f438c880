"""The counts behind the measures are kept on every write. They must always equal what a
rebuild from the task index and observations gives, whatever the services did: starts,
completions, loops, timers, hand-overs, cases ending."""
from __future__ import annotations

import random
import statistics
import threading
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from orchestrator import demo
from orchestrator.errors import PolkuError
from orchestrator.services import cases, deploy, measure_counts, measures, tasks
from orchestrator.services.timers import fire_due_timers

from ..api.walk import BOOKING, REFERRAL
from ..conftest import ROOT, principal
from .test_measures import ips_client

START = datetime(2026, 12, 20, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo_env(env):
    bpmn, forms = deploy.collect_files([str(ROOT / "processes"), str(ROOT / "forms")])
    deploy.deploy(env, None, bpmn, forms)
    demo.seed(env)
    return env


def test_counts_kept_on_every_write_equal_a_rebuild_from_the_task_index(demo_env):
    # the demo staff drive 48 cases through the real services, two days apart (over a month
    # boundary and a year boundary), with due timers fired as the days pass
    with time_machine.travel(START, tick=False) as clock:
        def next_day() -> None:
            clock.shift(timedelta(days=2, hours=3))
            fire_due_timers(demo_env)
        made = demo.create_cases(demo_env, 48, seed_value=7, progress=next_day)
    kept = measure_counts.snapshot(demo_env)
    assert sum(n for (_p, _s), n in made.items()) == 48
    metrics = {key.metric for key in kept}
    assert {"started", "ended", "ended_started", "reached", "employment", "caseload"} <= metrics
    assert len({key.month for key in kept if key.metric == "started"}) >= 3

    rows = measure_counts.rebuild(demo_env)
    assert rows == len(kept)
    assert measure_counts.snapshot(demo_env) == kept


def test_a_case_that_moves_on_moves_its_counts_rather_than_adding_to_them(deployed):
    with time_machine.travel(START, tick=False):
        ips_client(deployed, 1, None)  # met the coach; no job yet
        before = counted(deployed, "employment", "caseload", "started")
        ips_client(deployed, 2, "fee_paid_work")  # a second client who got a job
    after = counted(deployed, "employment", "caseload", "started")
    assert before == {("employment", ""): 1, ("caseload", "jori"): 1, ("started", ""): 1}
    assert after == {("employment", ""): 1, ("employment", "fee_paid_work"): 1, ("caseload", "jori"): 1,
                     ("caseload", "jenni"): 1, ("started", ""): 2}


def counted(env, *metrics: str) -> dict[tuple[str, str], int]:
    return {(k.metric, k.label): n for k, n in measure_counts.snapshot(env).items() if k.metric in metrics}


@pytest.mark.parametrize("seed", range(5))
def test_quantiles_of_a_histogram_are_those_of_the_values_written_out(seed):
    rng = random.Random(seed)
    values = sorted(rng.randint(0, 60) for _ in range(rng.randint(2, 300)))
    histogram = sorted((v, values.count(v)) for v in set(values))
    for q in (0.5, 0.9):
        expected = statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]
        assert measures._quantile(histogram, q) == pytest.approx(expected)
    assert measures._quantile([], 0.5) is None
    assert measures._quantile([(7, 1)], 0.9) == 7.0


def test_what_waits_now_follows_claims_hand_offs_drafts_and_the_clock(deployed):
    """Five bookings waiting: four opened 5 Jan (due 12 Jan 08:00 UTC), one 8 Jan (due 15 Jan).
    Claimed, given, delegated and taken back, drafted and unclaimed, so that in the end A is
    nina's, B and C noora's, and D (north) and E (south) nobody's."""
    jan5 = datetime(2027, 1, 5, 8, 0, tzinfo=timezone.utc)
    nina, noora = principal(deployed, "nina"), principal(deployed, "noora")
    with time_machine.travel(jan5, tick=False) as clock:
        a, b, c = (booking(deployed, "rita", "north", ref) for ref in "ABC")
        booking(deployed, "rolf", "south", "E")
        clock.shift(timedelta(days=3))
        d = booking(deployed, "rita", "north", "D")
        tasks.claim(deployed, nina, a)
        tasks.unclaim(deployed, nina, a)
        tasks.claim(deployed, noora, b)
        tasks.claim(deployed, nina, c)
        tasks.reassign(deployed, nina, c, "noora")
        tasks.claim(deployed, nina, a)
        tasks.reassign(deployed, nina, a, "noora", delegate=True)
        tasks.take_back(deployed, nina, a)
        tasks.save_draft(deployed, noora, d, {"location": "Keskusta"})
        tasks.unclaim(deployed, noora, d)
        with pytest.raises(PolkuError):  # refused: changes no count
            tasks.claim(deployed, nina, b)
    mia = principal(deployed, "mia")
    # 12 Jan 10:00 UTC: A, B, C and E fell due this very morning (the task index tells those)
    for now, waited in ((datetime(2027, 1, 12, 10, 0, tzinfo=timezone.utc), [4, 7, 7, 7, 7]),
                        (datetime(2027, 1, 13, 10, 0, tzinfo=timezone.utc), [5, 8, 8, 8, 8])):
        (step,) = measures.step_overview(deployed, mia, "unemployed_health_check", None, now)["steps"]
        assert step == {"element_id": "Task_BookAppointment", "open": 5, "overdue": 4, "unassigned": 2,
                        "median_days_waiting": statistics.median(waited)}
        scope = measures.scope_for(mia, None, None, None, now=now)
        assert measures.measure(deployed, scope, "open_work", now).rows == [
            ["unemployed_health_check", "Varaa aika ja lähetä kutsu", "north", 4, 1, 3],
            ["unemployed_health_check", "Varaa aika ja lähetä kutsu", "south", 1, 1, 1]]
    (north,) = measures.step_overview(deployed, mia, "unemployed_health_check", "north",
                                      datetime(2027, 1, 12, 7, 0, tzinfo=timezone.utc))["steps"]
    assert (north["open"], north["overdue"]) == (4, 0)  # an hour before they fell due
    kept = measure_counts.snapshot(deployed)
    measure_counts.rebuild(deployed)
    assert measure_counts.snapshot(deployed) == kept


def booking(env, referrer: str, region: str, ref: str) -> str:
    """Start a health check; return the id of its open booking task."""
    c = cases.start_case(env, principal(env, referrer), "unemployed_health_check", region,
                         {**REFERRAL, "client_ref": ref})
    (task,) = tasks.open_for_case(env, c["id"])
    return task["id"]


def test_counts_shared_by_concurrent_steps_lose_no_update(deployed):
    """Eight bookings completed by four nurses' threads at once all add to the same counts
    (this month's open tasks of the same steps); none of the additions is lost."""
    ids = [booking(deployed, "rita", "north", f"C{i}") for i in range(8)]
    barrier = threading.Barrier(4)
    errors: list[Exception] = []

    def work(username: str, mine: list[str]) -> None:
        actor = principal(deployed, username)
        barrier.wait()
        for task_id in mine:
            try:
                tasks.complete(deployed, actor, task_id, BOOKING)
            except Exception as exc:  # noqa: BLE001 - collected and shown by the assertion
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(user, ids[i::4]))
               for i, user in enumerate(("nina", "noora", "nina", "noora"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    kept = counted(deployed, "open")
    assert kept == {("open", "Task_PreQuestionnaire"): 8}  # every booking done, every questionnaire open
    before = measure_counts.snapshot(deployed)
    measure_counts.rebuild(deployed)
    assert measure_counts.snapshot(deployed) == before
