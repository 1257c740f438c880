"""The uniform measures managers need (PATHWAYS.md "What managers need to see"), by region
and period, and what waits now (the diagram overlays, open work). They sum the counts kept on
write (``measure_counts``), so they cost the same at a hundred cases as at a million; never a
workflow, and of the task index only the tasks that fell due earlier today.

Periods are whole Helsinki calendar months: the counts are kept per month, and a period
given in days is widened to the months it touches (the scope says which).

Every table is counts and durations; no client references. A cell counting fewer than
``SMALL_CELL`` cases is marked (shown, but flagged in the CSV) because small counts can
identify people.
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from ..engine.expressions import HELSINKI
from ..errors import PermissionDeniedError, RequestError
from ..store.models import MeasureCount, ProcessVersion, Task
from . import measure_counts as counts
from .env import Env
from .models_cache import model_for_version
from .principal import Principal

SMALL_CELL = 5
MEASURE_ROLES = ("manager", "coordinator", "admin")
IPS = counts.IPS
HEALTH_CHECK, NETWORK = "unemployed_health_check", "work_ability_network"
SCORE = "workability_score"
IPS_CASELOAD_LIMIT = 20
FIRST_CONTACT_DAYS = 30


@dataclass(frozen=True)
class Scope:
    """Regions and whole months: from the first day of ``start``'s month (Helsinki) up to, not
    including, the first day of the month after the last."""

    regions: frozenset[str]
    start: datetime
    end: datetime
    pathway: str | None = None

    @property
    def first_month(self) -> str:
        return counts.month_of(self.start)

    @property
    def last_month(self) -> str:
        return counts.month_of(self.end - timedelta(microseconds=1))


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    count_column: int | None = None  # which column holds the case count (for small cells)

    def as_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "columns": self.columns, "rows": self.rows,
                "small_cells": [i for i, r in enumerate(self.rows) if self._small(r)]}

    def _small(self, row: list) -> bool:
        return self.count_column is not None and isinstance(row[self.count_column], int) \
            and 0 < row[self.count_column] < SMALL_CELL

    def csv(self) -> bytes:
        """Semicolon-separated, decimal comma, UTF-8 with BOM: opens right in a Finnish Excel."""
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow([*self.columns, f"pieni solu (<{SMALL_CELL})"])
        for row in self.rows:
            writer.writerow([_cell(v) for v in row] + ["x" if self._small(row) else ""])
        return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(value: object) -> object:
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    return "" if value is None else value


def scope_for(actor: Principal, region: str | None, start: date | None, end: date | None,
              pathway: str | None = None, now: datetime | None = None) -> Scope:
    if not actor.has(*MEASURE_ROLES):
        raise PermissionDeniedError("the measures are for managers, coordinators and administrators")
    regions = set(actor.regions) if not region else {region} & set(actor.regions)
    if region and not regions:
        raise PermissionDeniedError(f"you have no access to region {region!r}")
    today = (now or datetime.now(HELSINKI)).astimezone(HELSINKI).date()
    end = end or today
    start = start or date(end.year - 1, end.month, 1)
    if start > end:
        raise RequestError("the period starts after it ends")
    after = date(end.year + end.month // 12, end.month % 12 + 1, 1)
    return Scope(frozenset(regions), datetime.combine(start.replace(day=1), time.min, HELSINKI),
                 datetime.combine(after, time.min, HELSINKI), pathway)


def _pathway_filter(scope: Scope, column) -> list:
    return [column == scope.pathway] if scope.pathway else []


# -- reading the counts ------------------------------------------------------------------------
def _sums(session, scope: Scope, metric: str, by: tuple[str, ...], pathway: str | None = None,
          labels: tuple[str, ...] | None = None, month: str | None = None) -> list[tuple]:
    """``sum(n)`` of one metric's counts in the scope's regions and months, grouped ``by``
    columns of ``measure_counts``; ``month`` picks one month instead (e.g. ``NOW``)."""
    mc = MeasureCount
    columns = [getattr(mc, c) for c in by]
    q = sa.select(*columns, sa.func.sum(mc.n)).where(mc.metric == metric, mc.region.in_(scope.regions))
    q = q.where(mc.month == month) if month is not None else q.where(
        mc.month.between(scope.first_month, scope.last_month))
    if pathway or scope.pathway:
        q = q.where(mc.pathway == (pathway or scope.pathway))
    if labels is not None:
        q = q.where(mc.label.in_(labels))
    # sorted here, not in SQL: an ORDER BY makes PostgreSQL sort every count row before grouping
    q = q.group_by(*columns).having(sa.func.sum(mc.n) != 0)
    return sorted((*row[:-1], int(row[-1])) for row in session.execute(q))


def _quantile(histogram: list[tuple[int, int]], q: float) -> float | None:
    """The q-quantile of the values a sorted (value, count) histogram holds, interpolated as
    ``statistics.quantiles(method='inclusive')`` would on the values written out."""
    total = sum(n for _, n in histogram)
    if not total:
        return None
    position = q * (total - 1)
    low = int(position)
    a, b = _nth(histogram, low), _nth(histogram, min(low + 1, total - 1))
    return float(a + (b - a) * (position - low))


def _nth(histogram: list[tuple[int, int]], index: int) -> int:
    seen = 0
    for value, n in histogram:
        seen += n
        if index < seen:
            return value
    raise IndexError(index)


# -- flow ------------------------------------------------------------------------------------
def flow_by_month(env: Env, scope: Scope) -> Table:
    table = Table("flow", "Cases started and closed per month", ["pathway", "month", "started", "closed"],
                  count_column=2)
    per_month: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    with env.uow() as uow:
        for i, metric in enumerate(("started", "ended")):
            for pathway, month, n in _sums(uow.session, scope, metric, ("pathway", "month")):
                per_month[(pathway, month)][i] = n
    table.rows = [[p, m, c[0], c[1]] for (p, m), c in sorted(per_month.items())]
    return table


def milestones(env: Env, scope: Scope) -> Table:
    """Days from the case's start to the first completion of each milestone step, of the
    cases started in the period (whole days: a step done on the day the case started is 0)."""
    table = Table("milestones", "Time from start to milestone (days)",
                  ["pathway", "milestone", "cases", "median", "p90"], count_column=2)
    with env.uow() as uow:
        s = uow.session
        for pathway, version_id in _latest_versions(s, scope.pathway):
            model = model_for_version(env, s, version_id)
            reached: dict[str, list[tuple[int, int]]] = defaultdict(list)
            for element_id, day, n in _sums(s, scope, "reached", ("label", "bucket"), pathway, tuple(model.milestones)):
                reached[element_id].append((day, n))
            for element_id, name in model.milestones.items():
                days = reached[element_id]
                table.rows.append([pathway, name, sum(n for _, n in days), _quantile(days, 0.5), _quantile(days, 0.9)])
    return table


def _latest_versions(session, pathway: str | None) -> list[tuple[str, int]]:
    q = sa.select(ProcessVersion.process_id, sa.func.max(ProcessVersion.id)).group_by(ProcessVersion.process_id)
    if pathway:
        q = q.where(ProcessVersion.process_id == pathway)
    return sorted(session.execute(q).all())


# -- outcomes --------------------------------------------------------------------------------
def outcomes(env: Env, scope: Scope) -> Table:
    """Closure reasons and outcomes of the cases closed in the period."""
    table = Table("outcomes", "Cases closed by outcome", ["pathway", "outcome", "cases"], count_column=2)
    with env.uow() as uow:
        rows = _sums(uow.session, scope, "ended", ("pathway", "label"))
    table.rows = [[p, o, n] for p, o, n in sorted(rows, key=lambda r: (r[0], -r[2], r[1]))]
    return table


def health_checks_per_month(env: Env, scope: Scope) -> Table:
    """The welfare indicator: unemployed health checks done, counted in the month the pathway
    was done (PATHWAYS.md step 6). A no-show returned to the referrer is not a check done."""
    table = Table("health_checks", "Unemployed health checks done per month", ["month", "done"], count_column=1)
    with env.uow() as uow:
        table.rows = [list(r) for r in _sums(uow.session, scope, "ended", ("month",), HEALTH_CHECK,
                                             ("done", "handed_over"))]
    return table


def ips_outcomes(env: Env, scope: Scope) -> Table:
    """IPS clients by what their (latest) job start was: paid work, fee-paid work, studies, other."""
    table = Table("ips_outcomes", "IPS clients by outcome", ["outcome", "clients"], count_column=1)
    with env.uow() as uow:
        by_kind = dict(_sums(uow.session, scope, "employment", ("label",), IPS))
    for key in ("paid_work", "fee_paid_work", "studies"):
        table.rows.append([key, by_kind.pop(key, 0)])
    table.rows.append(["other", sum(by_kind.values())])
    return table


def consultations_vs_networks(env: Env, scope: Scope) -> Table:
    """Of the network-model cases started in the period: consulted, consultation enough, met."""
    table = Table("consultations", "Consultations and network assessments", ["kind", "cases"], count_column=1)
    with env.uow() as uow:
        s = uow.session
        reached = dict(_sums(s, scope, "reached", ("label",), NETWORK, ("Task_Consultation", "Task_NetworkMeeting")))
        enough = dict(_sums(s, scope, "ended_started", ("label",), NETWORK, ("consultation_only",)))
    table.rows = [["consultations", reached.get("Task_Consultation", 0)],
                  ["consultation was enough", enough.get("consultation_only", 0)],
                  ["network assessments (meeting held)", reached.get("Task_NetworkMeeting", 0)]]
    return table


# -- work ability and IPS fidelity -------------------------------------------------------------
def score_change(env: Env, scope: Scope) -> Table:
    """Work-ability self-assessment: first versus latest score of each case with two or more."""
    table = Table("score_change", "Work-ability score, first vs latest",
                  ["pathway", "cases", "mean first", "mean latest", "mean change"], count_column=1)
    sums: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    with env.uow() as uow:
        for metric in ("score_first", "score_latest"):
            for pathway, tenths, n in _sums(uow.session, scope, metric, ("pathway", "bucket"), labels=(SCORE,)):
                sums[pathway][metric][0] += n
                sums[pathway][metric][1] += tenths * n
    for pathway, by_metric in sorted(sums.items()):
        (cases, first), (_, latest) = by_metric["score_first"], by_metric["score_latest"]
        mean_first, mean_latest = first / cases / 10, latest / cases / 10
        table.rows.append([pathway, cases, mean_first, mean_latest, mean_latest - mean_first])
    return table


def ips_caseloads(env: Env, scope: Scope) -> Table:
    table = Table("caseloads", f"IPS caseload per job coach (limit {IPS_CASELOAD_LIMIT})",
                  ["job coach", "active clients", "over the limit"])
    with env.uow() as uow:
        rows = _sums(uow.session, scope, "caseload", ("label",), IPS, month=counts.NOW)
    table.rows = [[c, n, n > IPS_CASELOAD_LIMIT] for c, n in sorted(rows, key=lambda r: (-r[1], r[0]))]
    return table


def ips_first_contact(env: Env, scope: Scope) -> Table:
    table = Table("first_contact", f"IPS: days from first meeting to first employer contact (target {FIRST_CONTACT_DAYS})",
                  ["clients", "median", "p90", f"within {FIRST_CONTACT_DAYS} days"], count_column=0)
    with env.uow() as uow:
        days = _sums(uow.session, scope, "first_contact", ("bucket",), IPS)
    within = sum(n for d, n in days if d <= FIRST_CONTACT_DAYS)
    table.rows = [[sum(n for _, n in days), _quantile(days, 0.5), _quantile(days, 0.9), within]]
    return table


# -- where the work waits --------------------------------------------------------------------
def open_work(env: Env, scope: Scope, now: datetime) -> Table:
    table = Table("open_work", "Open tasks with no owner, and overdue, by step and region",
                  ["pathway", "step", "region", "open", "no owner", "overdue"], count_column=3)
    with env.uow() as uow:
        s = uow.session
        cells: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for i, metric in enumerate(("open", "unowned")):
            for pathway, element, region, n in _sums(s, scope, metric, ("pathway", "label", "region"), month=counts.NOW):
                cells[(pathway, element, region)][i] = n
        for (pathway, element, region), n in _overdue(s, scope, ("pathway", "label", "region"), now).items():
            cells[(pathway, element, region)][2] = n
        names = _step_names(env, s, {p for p, _e, _r in cells})
    rows = [[p, names.get((p, e), e), r, *c] for (p, e, r), c in cells.items() if c[0]]
    table.rows = sorted(rows, key=lambda row: row[:3])
    return table


def _overdue(s, scope: Scope, by: tuple[str, ...], now: datetime) -> dict[tuple, int]:
    """Open tasks due before ``now``: whole days from the counts, today's from the task index."""
    today = now.astimezone(HELSINKI).date()
    mc = MeasureCount
    columns = [getattr(mc, c) for c in by]
    q = (sa.select(*columns, sa.func.sum(mc.n)).where(
        mc.metric == "open_due", mc.month == counts.NOW, mc.region.in_(scope.regions),
        mc.bucket < today.toordinal(), *_pathway_filter(scope, mc.pathway)).group_by(*columns))
    overdue: dict[tuple, int] = defaultdict(int)
    for *key, n in s.execute(q):
        overdue[tuple(key)] += int(n)
    task_columns = [{"label": Task.element_id}.get(c, getattr(Task, c, None)) for c in by]
    start_of_today = datetime.combine(today, time.min, HELSINKI)
    for *key, n in s.execute(sa.select(*task_columns, sa.func.count()).where(
            Task.status == "open", Task.due_at >= start_of_today, Task.due_at < now,
            Task.region.in_(scope.regions), *_pathway_filter(scope, Task.pathway)).group_by(*task_columns)):
        overdue[tuple(key)] += int(n)
    return overdue


def _step_names(env: Env, s, pathways: set[str]) -> dict[tuple[str, str], str]:
    names = {}
    for pathway, version_id in _latest_versions(s, None):
        if pathway in pathways:
            model = model_for_version(env, s, version_id)
            names.update({(pathway, e): element.name for e, element in model.elements.items()})
    return names


def step_overview(env: Env, actor: Principal, pathway: str, region: str | None, now: datetime) -> dict:
    """Per step of the diagram: open tasks, overdue, unassigned, median days waiting (the overlays)."""
    scope = scope_for(actor, region, None, None, pathway, now)
    with env.uow() as uow:
        steps = open_steps(uow.session, scope.regions, pathway, now)
    return {"pathway": pathway, "regions": sorted(scope.regions), "steps": list(steps.values())}


def open_steps(session, regions: frozenset[str], pathway: str, now: datetime) -> dict[str, dict]:
    """What waits now at each step of ``pathway`` in ``regions``, from the counts (no scope
    check: the caller decides who may see it)."""
    scope = Scope(regions, now, now, pathway)
    today = now.astimezone(HELSINKI).date().toordinal()
    waiting: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for element, day, n in _sums(session, scope, "open_since", ("label", "bucket"), month=counts.NOW):
        waiting[element].append((today - day, n))
    unowned = dict(_sums(session, scope, "unowned", ("label",), month=counts.NOW))
    overdue = _overdue(session, scope, ("label",), now)
    return {e: {"element_id": e, "open": sum(n for _d, n in days), "overdue": overdue.get((e,), 0),
                "unassigned": unowned.get(e, 0), "median_days_waiting": _quantile(sorted(days), 0.5)}
            for e, days in sorted(waiting.items())}


def step_tasks(env: Env, actor: Principal, pathway: str, element_id: str, region: str | None,
               now: datetime, limit: int = 200) -> list[dict]:
    """The open tasks of one step, pseudonymous: no client reference, only the task itself."""
    scope = scope_for(actor, region, None, None, pathway, now)
    with env.uow() as uow:
        return [{"task": t.id[:8], "step": t.name, "region": t.region, "waiting_since": t.created_at,
                 "assignee": t.assignee, "overdue": bool(t.due_at and t.due_at < now)}
                for t in uow.session.scalars(sa.select(Task).where(
                    Task.pathway == pathway, Task.element_id == element_id, Task.status == "open",
                    Task.region.in_(scope.regions)).order_by(Task.created_at).limit(limit))]


MEASURES = {
    "flow": flow_by_month, "milestones": milestones, "outcomes": outcomes,
    "health_checks": health_checks_per_month, "ips_outcomes": ips_outcomes,
    "consultations": consultations_vs_networks, "score_change": score_change,
    "caseloads": ips_caseloads, "first_contact": ips_first_contact,
}


def measure(env: Env, scope: Scope, name: str, now: datetime) -> Table:
    if name == "open_work":
        return open_work(env, scope, now)
    if name not in MEASURES:
        raise RequestError(f"unknown measure {name!r}; known: {', '.join([*MEASURES, 'open_work'])}")
    return MEASURES[name](env, scope)


def all_measures(env: Env, scope: Scope, now: datetime) -> list[Table]:
    return [measure(env, scope, name, now) for name in [*MEASURES, "open_work"]]
