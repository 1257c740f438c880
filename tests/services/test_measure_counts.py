"""The counts behind the measures are kept on every write. They must always equal what a
rebuild from the task index and observations gives, whatever the services did: starts,
completions, loops, timers, hand-overs, cases ending."""
from __future__ import annotations

import random
import statistics
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from orchestrator import demo
from orchestrator.services import deploy, measure_counts, measures
from orchestrator.services.timers import fire_due_timers

from ..conftest import ROOT
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
