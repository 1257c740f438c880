"""The uniform measures managers need (PATHWAYS.md "What managers need to see"), by region
and period, from the task index, cases, tags and observations — never from workflows.

Every table is counts and durations; no client references. A cell counting fewer than
``SMALL_CELL`` cases is marked (shown, but flagged in the CSV) because small counts can
identify people.
"""
from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from ..engine.expressions import HELSINKI
from ..errors import PermissionDeniedError, RequestError
from ..store.models import Case, Observation, Task
from .env import Env
from .models_cache import model_for_version
from .principal import Principal

SMALL_CELL = 5
MEASURE_ROLES = ("manager", "coordinator", "admin")
IPS = "ips_job_coaching"
IPS_CASELOAD_LIMIT = 20
FIRST_CONTACT_DAYS = 30


@dataclass(frozen=True)
class Scope:
    regions: frozenset[str]
    start: datetime
    end: datetime
    pathway: str | None = None


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
    return Scope(frozenset(regions), datetime.combine(start, time.min, HELSINKI),
                 datetime.combine(end + timedelta(days=1), time.min, HELSINKI), pathway)


def _month(env: Env, column):
    if env.engine.dialect.name == "sqlite":
        return sa.func.strftime("%Y-%m", column)
    return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM")


def _pathway_filter(scope: Scope, column) -> list:
    return [column == scope.pathway] if scope.pathway else []


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


# -- flow ------------------------------------------------------------------------------------
def flow_by_month(env: Env, scope: Scope) -> Table:
    table = Table("flow", "Cases started and closed per month", ["pathway", "month", "started", "closed"],
                  count_column=2)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    with env.uow() as uow:
        s = uow.session
        for i, column in enumerate((Case.started_at, Case.ended_at)):
            month = _month(env, column)
            q = (sa.select(Case.pathway, month, sa.func.count()).where(
                Case.region.in_(scope.regions), column >= scope.start, column < scope.end,
                *_pathway_filter(scope, Case.pathway)).group_by(Case.pathway, month))
            for pathway, m, n in s.execute(q):
                counts[(pathway, m)][i] = n
    table.rows = [[p, m, c[0], c[1]] for (p, m), c in sorted(counts.items())]
    return table


def milestones(env: Env, scope: Scope) -> Table:
    """Days from the case's start to the first completion of each milestone step."""
    table = Table("milestones", "Time from start to milestone (days)",
                  ["pathway", "milestone", "cases", "median", "p90"], count_column=2)
    with env.uow() as uow:
        s = uow.session
        for pathway, version_id in _latest_versions(s, scope):
            model = model_for_version(env, s, version_id)
            for element_id, name in model.milestones.items():
                first = (sa.select(Task.case_id, sa.func.min(Task.completed_at).label("reached"))
                         .where(Task.pathway == pathway, Task.element_id == element_id, Task.status == "completed")
                         .group_by(Task.case_id).subquery())
                rows = s.execute(sa.select(Case.started_at, first.c.reached).join(first, first.c.case_id == Case.id)
                                 .where(Case.pathway == pathway, Case.region.in_(scope.regions),
                                        Case.started_at >= scope.start, Case.started_at < scope.end)).all()
                days = sorted(_days(_aware(r) - _aware(st)) for st, r in rows)
                table.rows.append([pathway, name, len(days), _p(days, 0.5), _p(days, 0.9)])
    return table


def _latest_versions(session, scope: Scope) -> list[tuple[str, int]]:
    from ..store.models import ProcessVersion
    q = sa.select(ProcessVersion.process_id, sa.func.max(ProcessVersion.id)).group_by(ProcessVersion.process_id)
    if scope.pathway:
        q = q.where(ProcessVersion.process_id == scope.pathway)
    return sorted(session.execute(q).all())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=HELSINKI)


# -- outcomes --------------------------------------------------------------------------------
def outcomes(env: Env, scope: Scope) -> Table:
    """Closure reasons and outcomes of the cases closed in the period."""
    table = Table("outcomes", "Cases closed by outcome", ["pathway", "outcome", "cases"], count_column=2)
    with env.uow() as uow:
        rows = uow.session.execute(
            sa.select(Case.pathway, Case.outcome, sa.func.count()).where(
                Case.status == "completed", Case.region.in_(scope.regions), Case.ended_at >= scope.start,
                Case.ended_at < scope.end, *_pathway_filter(scope, Case.pathway))
            .group_by(Case.pathway, Case.outcome).order_by(Case.pathway, sa.func.count().desc()))
        table.rows = [[p, o or "", n] for p, o, n in rows]
    return table


def health_checks_per_month(env: Env, scope: Scope) -> Table:
    """The welfare indicator: unemployed health checks done, counted in the month the pathway
    was done (PATHWAYS.md step 6). A no-show returned to the referrer is not a check done."""
    table = Table("health_checks", "Unemployed health checks done per month", ["month", "done"], count_column=1)
    month = _month(env, Case.ended_at)
    with env.uow() as uow:
        table.rows = [[m, n] for m, n in uow.session.execute(
            sa.select(month, sa.func.count()).where(
                Case.pathway == "unemployed_health_check", Case.status == "completed",
                Case.outcome.in_(("done", "handed_over")), Case.region.in_(scope.regions),
                Case.ended_at >= scope.start, Case.ended_at < scope.end).group_by(month).order_by(month))]
    return table


def ips_outcomes(env: Env, scope: Scope) -> Table:
    """IPS clients by what their (latest) job start was: paid work, fee-paid work, studies, other."""
    table = Table("ips_outcomes", "IPS clients by outcome", ["outcome", "clients"], count_column=1)
    kind = Case.tags["employment_type"].as_string()
    with env.uow() as uow:
        counts = dict(uow.session.execute(
            sa.select(kind, sa.func.count()).where(
                Case.pathway == IPS, Case.region.in_(scope.regions), Case.started_at >= scope.start,
                Case.started_at < scope.end, sa.or_(Case.outcome.is_(None), Case.outcome != "no_consent"))
            .group_by(kind)).all())
    for key in ("paid_work", "fee_paid_work", "studies"):
        table.rows.append([key, counts.pop(key, 0)])
    table.rows.append(["other", sum(counts.values())])
    return table


def consultations_vs_networks(env: Env, scope: Scope) -> Table:
    table = Table("consultations", "Consultations and network assessments", ["kind", "cases"], count_column=1)
    with env.uow() as uow:
        s = uow.session
        base = [Case.pathway == "work_ability_network", Case.region.in_(scope.regions),
                Case.started_at >= scope.start, Case.started_at < scope.end]
        consulted = s.scalar(sa.select(sa.func.count(sa.distinct(Task.case_id))).join(Case, Case.id == Task.case_id)
                             .where(*base, Task.element_id == "Task_Consultation", Task.status == "completed"))
        networks = s.scalar(sa.select(sa.func.count(sa.distinct(Task.case_id))).join(Case, Case.id == Task.case_id)
                            .where(*base, Task.element_id == "Task_NetworkMeeting", Task.status == "completed"))
        enough = s.scalar(sa.select(sa.func.count()).select_from(Case).where(*base, Case.outcome == "consultation_only"))
    table.rows = [["consultations", consulted or 0], ["consultation was enough", enough or 0],
                  ["network assessments (meeting held)", networks or 0]]
    return table


# -- work ability and IPS fidelity -------------------------------------------------------------
def score_change(env: Env, scope: Scope) -> Table:
    """Work-ability self-assessment: first versus latest score of each case with two or more."""
    table = Table("score_change", "Work-ability score, first vs latest",
                  ["pathway", "cases", "mean first", "mean latest", "mean change"], count_column=1)
    per_case: dict[int, list] = {}
    with env.uow() as uow:
        rows = uow.session.execute(
            sa.select(Observation.case_id, Observation.pathway, Observation.value).join(Case, Case.id == Observation.case_id)
            .where(Observation.key == "workability_score", Case.region.in_(scope.regions),
                   Case.started_at >= scope.start, Case.started_at < scope.end,
                   *_pathway_filter(scope, Observation.pathway))
            .order_by(Observation.case_id, Observation.at, Observation.id))
        for case_id, pathway, value in rows:
            entry = per_case.setdefault(case_id, [pathway, value, value, 0])
            entry[2] = value
            entry[3] += 1
    by_pathway: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for pathway, first, latest, n in per_case.values():
        if n >= 2:
            by_pathway[pathway].append((first, latest))
    for pathway, pairs in sorted(by_pathway.items()):
        firsts, latests = [a for a, _ in pairs], [b for _, b in pairs]
        table.rows.append([pathway, len(pairs), statistics.fmean(firsts), statistics.fmean(latests),
                           statistics.fmean(latests) - statistics.fmean(firsts)])
    return table


def ips_caseloads(env: Env, scope: Scope) -> Table:
    table = Table("caseloads", f"IPS caseload per job coach (limit {IPS_CASELOAD_LIMIT})",
                  ["job coach", "active clients", "over the limit"])
    coach = Case.tags["job_coach"].as_string()
    with env.uow() as uow:
        rows = uow.session.execute(
            sa.select(coach, sa.func.count()).where(Case.pathway == IPS, Case.status == "active",
                                                    Case.region.in_(scope.regions), coach.is_not(None))
            .group_by(coach).order_by(sa.func.count().desc()))
        table.rows = [[c, n, n > IPS_CASELOAD_LIMIT] for c, n in rows]
    return table


def ips_first_contact(env: Env, scope: Scope) -> Table:
    table = Table("first_contact", f"IPS: days from first meeting to first employer contact (target {FIRST_CONTACT_DAYS})",
                  ["clients", "median", "p90", f"within {FIRST_CONTACT_DAYS} days"], count_column=0)
    with env.uow() as uow:
        s = uow.session
        first = {}
        for element in ("Task_FirstMeeting", "Task_EmployerContact"):
            first[element] = dict(s.execute(
                sa.select(Task.case_id, sa.func.min(Task.completed_at)).join(Case, Case.id == Task.case_id)
                .where(Task.pathway == IPS, Task.element_id == element, Task.status == "completed",
                       Case.region.in_(scope.regions), Case.started_at >= scope.start, Case.started_at < scope.end)
                .group_by(Task.case_id)).all())
    days = sorted(_days(_aware(first["Task_EmployerContact"][c]) - _aware(met))
                  for c, met in first["Task_FirstMeeting"].items() if c in first["Task_EmployerContact"])
    within = sum(1 for d in days if d <= FIRST_CONTACT_DAYS)
    table.rows = [[len(days), _p(days, 0.5), _p(days, 0.9), within]]
    return table


# -- where the work waits --------------------------------------------------------------------
def open_work(env: Env, scope: Scope, now: datetime) -> Table:
    table = Table("open_work", "Open tasks with no owner, and overdue, by step and region",
                  ["pathway", "step", "region", "open", "no owner", "overdue"], count_column=3)
    with env.uow() as uow:
        rows = uow.session.execute(
            sa.select(Task.pathway, Task.name, Task.region, sa.func.count(),
                      sa.func.sum(sa.case((Task.assignee.is_(None), 1), else_=0)),
                      sa.func.sum(sa.case((Task.due_at < now, 1), else_=0)))
            .where(Task.status == "open", Task.region.in_(scope.regions), *_pathway_filter(scope, Task.pathway))
            .group_by(Task.pathway, Task.name, Task.region).order_by(Task.pathway, Task.name, Task.region))
        table.rows = [[p, n, r, c, int(u or 0), int(o or 0)] for p, n, r, c, u, o in rows]
    return table


def step_overview(env: Env, actor: Principal, pathway: str, region: str | None, now: datetime) -> dict:
    """Per step of the diagram: open tasks, overdue, median days waiting (for the overlays)."""
    scope = scope_for(actor, region, None, None, pathway, now)
    where = (Task.pathway == pathway, Task.status == "open", Task.region.in_(scope.regions))
    with env.uow() as uow:
        s = uow.session
        rows = s.execute(sa.select(Task.element_id, sa.func.count(), sa.func.sum(sa.case((Task.due_at < now, 1), else_=0)))
                         .where(*where).group_by(Task.element_id)).all()
        # the median waiting task of each step: one index seek per step, no sort of all open tasks
        medians = {e: s.scalar(sa.select(Task.created_at).where(*where, Task.element_id == e)
                               .order_by(Task.created_at).limit(1).offset((n - 1) // 2)) for e, n, _o in rows}
    return {"pathway": pathway, "regions": sorted(scope.regions), "steps": [
        {"element_id": e, "open": n, "overdue": int(o or 0),
         "median_days_waiting": round(_days(now - _aware(medians[e])), 1) if e in medians else None}
        for e, n, o in rows]}


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
