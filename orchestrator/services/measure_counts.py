"""The counts behind the managers' measures, kept up to date on every write.

Each case contributes a handful of counts — keys ``(metric, pathway, region, month, label,
bucket)`` — that follow from its row and its ``facts`` alone (:func:`contributions`).
``save_progress`` takes the case's contributions before and after a move and adds the
difference (:func:`apply`) in the same transaction as the move, under the same optimistic
lock, so the counts are exactly as current as the case rows. A measure then sums a few
hundred rows of ``measure_counts`` instead of scanning cases and tasks (bench/dashboard.py).
:func:`rebuild` recomputes everything from the task index and the observations: after a
migration, a bulk load, or to check the counts.

Months are Helsinki calendar months. The metrics:

=============== ================================ ============= ==========================
metric          counts each case                 month         label / bucket
=============== ================================ ============= ==========================
started         once                             of its start  '' / 0
ended           once it has ended                of its end    outcome / 0
ended_started   once it has ended                of its start  outcome / 0
reached         per milestone step completed     of its start  step id / whole days from
                                                               start to first completion
first_contact   IPS: first meeting and first     of its start  '' / whole days between
                employer contact both done                     the two
employment      IPS, unless ended for no consent of its start  employment type ('' none)
score_first,    per measured key, once two or    of its start  key / first (latest)
score_latest    more values were recorded                      value in tenths
caseload        IPS, while active                '' (now)      job coach / 0
=============== ================================ ============= ==========================

and what waits now, counted per open task (month '', label = step id):

=============== ================================ ==========================================
open            each open task                   0
open_since      each open task                   the Helsinki day it opened (day ordinal)
open_due        each open task with a due date   the Helsinki day it is due (day ordinal)
unowned         each open task nobody has        0
=============== ================================ ==========================================

The task services report every change of an open task (opened, claimed, given, closed …)
through :func:`track_task`.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from functools import cache
from types import SimpleNamespace
from typing import NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..engine.expressions import HELSINKI
from ..store.models import Case, MeasureCount, Observation, Task
from ..store.uow import UnitOfWork
from .env import Env
from .models_cache import model_for_version

IPS = "ips_job_coaching"
FIRST_MEETING, EMPLOYER_CONTACT = "Task_FirstMeeting", "Task_EmployerContact"
JOB_COACH_TAG, EMPLOYMENT_TAG = "job_coach", "employment_type"
NO_CONSENT = "no_consent"
NOW = ""  # the month of counts that describe the present, not a period


class Key(NamedTuple):
    metric: str
    pathway: str
    region: str
    month: str
    label: str = ""
    bucket: int = 0


class CaseLike(Protocol):
    pathway: str
    region: str
    status: str
    outcome: str | None
    started_at: datetime
    ended_at: datetime | None
    tags: dict | None
    facts: dict | None


def month_of(at: datetime) -> str:
    return at.astimezone(HELSINKI).strftime("%Y-%m")


def day_of(at: datetime) -> int:
    return at.astimezone(HELSINKI).date().toordinal()


def whole_days(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() // 86400))


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat()


# -- facts: what the counts need of a case's history ------------------------------------------
def record_step(facts: Mapping | None, element_id: str, at: datetime, observed: Mapping[str, float]) -> dict:
    """The case's facts after a completion of ``element_id`` at ``at`` that recorded ``observed``."""
    reached = dict((facts or {}).get("reached", {}))
    reached.setdefault(element_id, _iso(at))
    values = {k: list(v) for k, v in (facts or {}).get("observed", {}).items()}
    for key, value in observed.items():
        first, _latest, n = values.get(key, (value, value, 0))
        values[key] = [first, value, n + 1]
    return {"reached": reached, "observed": values}


def contributions(case: CaseLike, milestones: Iterable[str]) -> Counter[Key]:
    """Every count this case adds, from its row and facts alone (a pure function)."""
    out: Counter[Key] = Counter()
    p, r, started = case.pathway, case.region, month_of(case.started_at)
    facts, tags = case.facts or {}, case.tags or {}
    out[Key("started", p, r, started)] += 1
    if case.ended_at is not None:
        out[Key("ended", p, r, month_of(case.ended_at), case.outcome or "")] += 1
        out[Key("ended_started", p, r, started, case.outcome or "")] += 1
    reached = {e: datetime.fromisoformat(at) for e, at in facts.get("reached", {}).items()}
    for element in milestones:
        if element in reached:
            out[Key("reached", p, r, started, element, whole_days(case.started_at, reached[element]))] += 1
    for key, (first, latest, n) in facts.get("observed", {}).items():
        if n >= 2:
            out[Key("score_first", p, r, started, key, round(first * 10))] += 1
            out[Key("score_latest", p, r, started, key, round(latest * 10))] += 1
    if p == IPS:
        if FIRST_MEETING in reached and EMPLOYER_CONTACT in reached:
            days = whole_days(reached[FIRST_MEETING], reached[EMPLOYER_CONTACT])
            out[Key("first_contact", p, r, started, "", days)] += 1
        if case.outcome != NO_CONSENT:
            out[Key("employment", p, r, started, str(tags.get(EMPLOYMENT_TAG) or ""))] += 1
        if case.status == "active" and tags.get(JOB_COACH_TAG):
            out[Key("caseload", p, r, NOW, str(tags[JOB_COACH_TAG]))] += 1
    return out


TASK_FIELDS = ("pathway", "region", "element_id", "created_at", "due_at", "assignee")


def task_columns() -> list:
    """The task index columns an open task's counts follow from (``TASK_FIELDS``)."""
    return [getattr(Task, name) for name in TASK_FIELDS]


class TaskLike(Protocol):
    pathway: str
    region: str
    element_id: str
    created_at: datetime
    due_at: datetime | None
    assignee: str | None


def open_task_contributions(task: TaskLike | None) -> Counter[Key]:
    out: Counter[Key] = Counter()
    if task is None:
        return out
    p, r, e = task.pathway, task.region, task.element_id
    out[Key("open", p, r, NOW, e)] += 1
    out[Key("open_since", p, r, NOW, e, day_of(task.created_at))] += 1
    if task.due_at is not None:
        out[Key("open_due", p, r, NOW, e, day_of(task.due_at))] += 1
    if not task.assignee:
        out[Key("unowned", p, r, NOW, e)] += 1
    return out


def open_task(task: TaskLike, **changes) -> SimpleNamespace:
    """A copy of the open task's counted fields with ``changes``: what it is after an update."""
    fields = {k: getattr(task, k) for k in TASK_FIELDS}
    return SimpleNamespace(**{**fields, **changes})


def track_task(uow: UnitOfWork, before: TaskLike | None, after: TaskLike | None) -> None:
    """An open task changed: ``before`` is it as it was (None: it just opened), ``after`` as it
    is now (None: it closed, by completion or cancellation)."""
    add_on_commit(uow, change(open_task_contributions(before), open_task_contributions(after)))


# -- writing ---------------------------------------------------------------------------------
def add_on_commit(uow: UnitOfWork, delta: Counter[Key]) -> None:
    """Add ``delta`` to the counts when ``uow`` commits: all of a use case's changes (a step
    and a hand-over's new case) go out together, at the end, so the hot rows (this month's
    'started', say) stay locked for the commit only, not the whole step."""
    pending: Counter[Key] = uow.pending.setdefault("measure_counts", Counter())
    pending.update(delta)
    uow.before_commit("measure_counts", lambda: apply(uow.session, uow.pending.pop("measure_counts")))


def apply(session: Session, delta: Counter[Key]) -> None:
    """Add ``delta`` to the stored counts: one upsert per key, in key order so that two
    transactions touching the same counts lock them in the same order (no deadlock)."""
    rows = [{**key._asdict(), "n": n} for key, n in sorted(delta.items()) if n]
    if rows:
        session.connection().execute(_upsert(session.get_bind().dialect.name), rows)


@cache
def _upsert(dialect: str) -> sa.Insert:
    """``INSERT … ON CONFLICT (key) DO UPDATE SET n = n + excluded.n``, built once per dialect."""
    table = MeasureCount.__table__
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return insert.on_conflict_do_update(index_elements=[c.name for c in table.primary_key.columns],
                                        set_={"n": table.c.n + insert.excluded.n})


def change(before: Counter[Key], after: Counter[Key]) -> Counter[Key]:
    delta = Counter(after)
    delta.subtract(before)
    return delta


# -- rebuilding from the task index and observations --------------------------------------------
def rebuild(env: Env, chunk: int = 20_000) -> int:
    """Recompute every case's facts and all counts from tasks and observations; return the
    number of count rows. Run it with the service stopped (``run.py measures rebuild``)."""
    totals: Counter[Key] = Counter()
    table = MeasureCount.__table__
    with env.uow() as uow:
        s = uow.session
        conn = s.connection()
        milestones: dict[int, list[str]] = {}
        last = 0
        while True:
            batch = s.execute(sa.select(Case.id, Case.process_version_id, Case.pathway, Case.region, Case.status,
                                        Case.outcome, Case.started_at, Case.ended_at, Case.tags)
                              .where(Case.id > last).order_by(Case.id).limit(chunk)).all()
            if not batch:
                break
            low, last = batch[0].id, batch[-1].id
            facts = _facts_between(s, low, last)
            updates = []
            for row in batch:
                if row.process_version_id not in milestones:
                    milestones[row.process_version_id] = list(
                        model_for_version(env, s, row.process_version_id).milestones)
                case_facts = facts.get(row.id, {"reached": {}, "observed": {}})
                updates.append({"case_id": row.id, "facts": case_facts})
                totals.update(contributions(_Row(row, case_facts), milestones[row.process_version_id]))
            conn.execute(sa.update(Case.__table__).where(Case.__table__.c.id == sa.bindparam("case_id"))
                         .values(facts=sa.bindparam("facts")), updates)
        for task in s.execute(sa.select(*task_columns()).where(Task.status == "open")):
            totals.update(open_task_contributions(task))
        conn.execute(table.delete())
        rows = [{**key._asdict(), "n": n} for key, n in sorted(totals.items()) if n]
        for start in range(0, len(rows), chunk):
            conn.execute(table.insert(), rows[start:start + chunk])
        uow.commit()
    return len(rows)


class _Row:
    """A case row of the rebuild with its recomputed facts, shaped like :class:`CaseLike`."""

    def __init__(self, row, facts: dict):
        self.pathway, self.region, self.status, self.outcome = row.pathway, row.region, row.status, row.outcome
        self.started_at, self.ended_at, self.tags, self.facts = row.started_at, row.ended_at, row.tags, facts


def _facts_between(s: Session, low: int, high: int) -> dict[int, dict]:
    facts: dict[int, dict] = {}
    for case_id, element, at in s.execute(
            sa.select(Task.case_id, Task.element_id, sa.func.min(Task.completed_at))
            .where(Task.case_id.between(low, high), Task.status == "completed")
            .group_by(Task.case_id, Task.element_id)):
        facts.setdefault(case_id, {"reached": {}, "observed": {}})["reached"][element] = _iso(at)
    for case_id, key, value in s.execute(
            sa.select(Observation.case_id, Observation.key, Observation.value)
            .where(Observation.case_id.between(low, high)).order_by(Observation.case_id, Observation.at, Observation.id)):
        observed = facts.setdefault(case_id, {"reached": {}, "observed": {}})["observed"]
        first, _latest, n = observed.get(key, (value, value, 0))
        observed[key] = [first, value, n + 1]
    return facts


def snapshot(env: Env) -> dict[Key, int]:
    """The stored counts, zeros left out: for checks that the kept counts equal a rebuild."""
    with env.uow() as uow:
        return {Key(*row[:6]): row[6] for row in uow.session.execute(
            sa.select(MeasureCount.metric, MeasureCount.pathway, MeasureCount.region, MeasureCount.month,
                      MeasureCount.label, MeasureCount.bucket, MeasureCount.n).where(MeasureCount.n != 0))}
