"""Manager dashboard on a big database: the diagram counts and every measure.

    python bench/dashboard.py [--open-cases 100000] [--closed-tasks 1000000] [--database-url URL]
                              [--repeat 10] [--explain] [--keep]

Cases, tasks and observations are bulk-inserted straight into the tables (Core executemany;
a generator for the benchmark only, no services); the real processes are deployed so the
milestone measure reads the real diagrams. The measure counts that the services keep on
write are then filled by ``measure_counts.rebuild`` (timed, and printed). The timed calls are
the real services the dashboard uses: ``measures.step_overview`` per pathway and
``measures.measure`` per measure, for a manager of all six regions and for one region, over
the default period. Target: 50 ms. Last, the baseline: milestones and open work computed by
scanning cases and tasks, as before the counts, timed against the measures, with a check that
both give the same numbers.

Default database: a fresh SQLite file in a temp dir. A PostgreSQL URL is used through its own
schema ``polku_bench`` (dropped and recreated at the start, dropped at the end unless
``--keep``); nothing outside that schema is touched. ``--explain`` prints, for every call
over the target, each SQL statement it ran with its time and plan (EXPLAIN QUERY PLAN on
SQLite, EXPLAIN ANALYZE on PostgreSQL).
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event  # noqa: E402
from timing import timed  # noqa: E402

from orchestrator.services import deploy, measure_counts, measures  # noqa: E402
from orchestrator.services.env import Env, Settings, bootstrap  # noqa: E402
from orchestrator.services.handler_api import load_handlers  # noqa: E402
from orchestrator.services.principal import Principal  # noqa: E402
from orchestrator.store.models import Base, Case, Observation, ProcessVersion, Region, Task  # noqa: E402

TARGET_MS = 50.0
SCHEMA = "polku_bench"
BATCH = 20_000
CHUNK_CASES = 10_000  # cases generated (and their tasks held in memory) at a time
REGIONS = ["keski", "pohjoinen", "etela", "ita", "lansi", "rannikko"]
REGION_WEIGHTS = [30, 12, 20, 13, 15, 10]
HC, WAN, SR, IPS = "unemployed_health_check", "work_ability_network", "social_rehabilitation", "ips_job_coaching"
PATHWAYS = [HC, WAN, SR, IPS]
PATHWAY_WEIGHTS = [35, 25, 20, 20]
STEP_NAMES = {
    "Task_BookAppointment": "Varaa aika ja lähetä kutsu", "Task_PreQuestionnaire": "Kirjaa esitietolomake",
    "Task_HealthCheck": "Terveystarkastus", "Task_Rebook": "Varaa uusi aika",
    "Task_DoctorAssessment": "Lääkärin työkyvyn arvio",
    "Task_RecordConsent": "Kirjaa suostumus (Y100)", "Task_ContactRequest": "Laadi yhteydenottopyyntö",
    "Task_Consultation": "Konsultaatio", "Task_InviteNetwork": "Kutsu verkosto koolle",
    "Task_NetworkMeeting": "Verkostopalaveri ja yhteinen suunnitelma", "Task_FollowUp": "Seurantapalaveri",
    "Task_ServiceNeedAssessment": "Palvelutarpeen arviointi", "Task_SocialSituation": "Sosiaalisen tilanteen kuvaus",
    "Task_JointAppointment": "PaKaste-yhteisvastaanotto", "Task_ActivationPlan": "Aktivointisuunnitelma",
    "Task_PeriodReview": "Jakson arviointi", "Task_WorkTrialFeedback": "Työkokeilu ja järjestäjän palaute",
    "Task_Outcome": "Jatkosuunnitelma",
    "Task_FirstMeeting": "Ensitapaaminen ja sopimus", "Task_VocationalProfile": "Työuraprofiili",
    "Task_EmployerContact": "Ensimmäinen työnantajakontakti", "Task_JobSearch": "Työnhaku",
    "Task_BenefitsCounselling": "Etuusneuvonta", "Task_JobStart": "Työn aloitus",
    "Task_FollowAlong": "Työssä tukeminen",
}
ROLE = {
    "Task_BookAppointment": "nurse", "Task_PreQuestionnaire": "nurse", "Task_HealthCheck": "nurse",
    "Task_Rebook": "nurse", "Task_DoctorAssessment": "doctor", "Task_RecordConsent": "referrer",
    "Task_ContactRequest": "referrer", "Task_Consultation": "coordinator", "Task_InviteNetwork": "coordinator",
    "Task_NetworkMeeting": "coordinator", "Task_FollowUp": "client_lead", "Task_JointAppointment": "nurse",
}  # every other step: social_worker (social_rehabilitation) or job_coach (IPS)
SCORED = {"Task_HealthCheck", "Task_DoctorAssessment", "Task_NetworkMeeting", "Task_FollowUp",
          "Task_ServiceNeedAssessment", "Task_PeriodReview", "Task_Outcome", "Task_FirstMeeting",
          "Task_FollowAlong"}
REPEATED = {"Task_FollowUp", "Task_PeriodReview", "Task_JobSearch", "Task_FollowAlong"}  # weeks apart
CLOSURE_REASONS = ["employed", "studying", "ips", "social_rehabilitation", "pension_investigation",
                   "need_ended", "client_withdrew"]
SR_OUTCOMES = ["ips", "education", "employment_services", "pension_investigation"]
EMPLOYMENT_TYPES = ["paid_work", "fee_paid_work", "studies"]


# -- generator ---------------------------------------------------------------------------------
def path_for(rng: random.Random, pathway: str) -> tuple[list[str], str, str | None]:
    """One case's human steps in order, how it ended, and (IPS) the kind of job it got."""
    if pathway == HC:
        steps = ["Task_BookAppointment", "Task_PreQuestionnaire"]
        if rng.random() < 0.08:
            steps.append("Task_Rebook")
            if rng.random() < 0.5:
                return steps, "returned_to_referrer", None
        steps.append("Task_HealthCheck")
        if rng.random() < 0.4:
            steps.append("Task_DoctorAssessment")
            return steps, rng.choice(["done", "handed_over", "handed_over"]), None
        return steps, "done", None
    if pathway == WAN:
        steps = ["Task_RecordConsent"]
        if rng.random() < 0.05:
            return steps, "no_consent", None
        steps += ["Task_ContactRequest", "Task_Consultation"]
        if rng.random() < 0.3:
            return steps, "consultation_only", None
        steps += ["Task_InviteNetwork", "Task_NetworkMeeting"] + ["Task_FollowUp"] * rng.randint(1, 4)
        return steps, "handed_over" if rng.random() < 0.25 else rng.choice(CLOSURE_REASONS), None
    if pathway == SR:
        steps = ["Task_ServiceNeedAssessment"]
        if rng.random() < 0.05:
            return steps, "no_consent", None
        steps += ["Task_SocialSituation", "Task_JointAppointment", "Task_ActivationPlan"]
        steps += ["Task_PeriodReview"] * rng.randint(1, 3)
        if rng.random() < 0.4:
            steps.append("Task_WorkTrialFeedback")
        steps.append("Task_Outcome")
        return steps, "handed_over" if rng.random() < 0.2 else rng.choice(SR_OUTCOMES), None
    steps = ["Task_FirstMeeting"]
    if rng.random() < 0.05:
        return steps, "no_consent", None
    steps += ["Task_VocationalProfile", "Task_EmployerContact"] + ["Task_JobSearch"] * rng.randint(1, 3)
    if rng.random() < 0.5:
        steps.append("Task_BenefitsCounselling")
    if rng.random() < 0.25:
        return steps, "withdrew", None
    kind = rng.choices(EMPLOYMENT_TYPES, [60, 25, 15])[0]
    steps += ["Task_JobStart"] + ["Task_FollowAlong"] * rng.randint(1, 4)
    return steps, kind, kind


class Generator:
    def __init__(self, env: Env, versions: dict[str, int], now: datetime, open_cases: int, closed_tasks: int):
        self.env, self.versions, self.now = env, versions, now
        self.open_cases, self.budget = open_cases, closed_tasks
        self.rng = random.Random(2024)
        self.case_id = self.task_no = self.obs_id = 0
        self.counts = {"cases open": 0, "cases closed": 0, "tasks open": 0, "tasks completed": 0, "observations": 0}
        # about 18 open IPS clients per coach, so some coaches are over the limit of 20
        self.coaches = max(1, round(open_cases * 0.2 / 6 / 18))

    def run(self) -> dict[str, int]:
        cases, tasks, obs = [], [], []
        with self.env.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            while self.counts["cases open"] < self.open_cases or self.budget > 0:
                is_open = self.counts["cases open"] < self.open_cases
                self._case(is_open, cases, tasks, obs)
                if len(cases) >= CHUNK_CASES:
                    self._flush(conn, cases, tasks, obs)
            self._flush(conn, cases, tasks, obs)
        return self.counts

    def _flush(self, conn, cases: list, tasks: list, obs: list) -> None:
        for table, rows in ((Case.__table__, cases), (Task.__table__, tasks), (Observation.__table__, obs)):
            for start in range(0, len(rows), BATCH):
                conn.execute(table.insert(), rows[start:start + BATCH])
            rows.clear()
        conn.commit()

    def _case(self, is_open: bool, cases: list, tasks: list, obs: list) -> None:
        rng, now = self.rng, self.now
        self.case_id += 1
        cid = self.case_id
        pathway = rng.choices(PATHWAYS, PATHWAY_WEIGHTS)[0]
        region = rng.choices(REGIONS, REGION_WEIGHTS)[0]
        steps, outcome, kind = path_for(rng, pathway)
        done = steps[:rng.randrange(len(steps))] if is_open else steps  # open: waits at one step
        done = done[:max(0, self.budget)]
        self.budget -= len(done)
        if not is_open and not done:
            self.case_id -= 1
            return
        gaps = [rng.uniform(14, 60) if e in REPEATED else rng.uniform(0.2, 10 if pathway == HC else 25)
                for e in done]
        if is_open:  # the open task has waited a few days or weeks since the step before it
            started = now - timedelta(days=sum(gaps) + min(rng.expovariate(1 / 12), 150) + rng.uniform(0, 1))
        else:
            started = now - timedelta(days=730 * rng.random(), minutes=rng.randint(60, 600))
        room = (now - started).total_seconds() / 86400 * 0.98
        if started < now - timedelta(days=730):
            started, room = now - timedelta(days=730 * rng.uniform(0.9, 1)), room * 0.9
        if sum(gaps) > room:
            gaps = [g * room / sum(gaps) for g in gaps]
        at, score = started, rng.randint(2, 7)
        for element, gap in zip(done, gaps, strict=False):
            created, at = at, at + timedelta(days=gap)
            who = f"{self._role(pathway, element)}-{region}-{rng.randrange(15)}"
            tasks.append(self._task(cid, pathway, element, region, "completed", created, at, who))
            if element in SCORED and rng.random() < 0.8:
                score = min(10, max(0, score + rng.choice([-1, 0, 1, 1, 2])))
                self.obs_id += 1
                obs.append({"id": self.obs_id, "case_id": cid, "pathway": pathway, "region": region,
                            "key": "workability_score", "value": float(score), "at": at})
        self.counts["tasks completed"] += len(done)
        if is_open:
            element = steps[len(done)] if len(done) < len(steps) else steps[-1]
            tasks.append(self._task(cid, pathway, element, region, "open", at, None,
                                    rng.choice([None, None, f"{self._role(pathway, element)}-{region}-{rng.randrange(15)}"])))
            self.counts["tasks open"] += 1
            self.counts["cases open"] += 1
            ended, current, outcome = None, [element], None
            reached_job = "Task_JobStart" in done
        else:
            self.counts["cases closed"] += 1
            ended = at + timedelta(hours=rng.uniform(0, 2))
            current, reached_job = [], kind is not None
        tags = {}
        if pathway == IPS:
            tags = {"job_coach": f"coach-{region}-{rng.randrange(self.coaches)}"}
            if reached_job:
                tags["employment_type"] = kind
        cases.append({
            "id": cid, "pathway": pathway, "process_version_id": self.versions[pathway], "region": region,
            "client_ref": f"BENCH-{cid}", "status": "active" if is_open else "completed",
            "current_steps": current, "has_incident": False, "outcome": outcome, "started_by": f"referrer-{region}",
            "started_at": started, "updated_at": ended or at, "ended_at": ended, "library_version": "bench",
            "serializer_version": "1", "state": "{}", "tags": tags, "version_no": 1})
        self.counts["observations"] = self.obs_id

    @staticmethod
    def _role(pathway: str, element: str) -> str:
        return ROLE.get(element) or ("social_worker" if pathway == SR else "job_coach")

    def _task(self, cid: int, pathway: str, element: str, region: str, status: str, created: datetime,
              completed: datetime | None, assignee: str | None) -> dict:
        self.task_no += 1
        role = self._role(pathway, element)
        tid = f"00000000-0000-4000-8000-{self.task_no:012x}"
        return {"id": tid, "engine_task_id": tid, "case_id": cid, "pathway": pathway, "element_id": element,
                "name": STEP_NAMES[element], "role": role, "region": region, "client_ref": f"BENCH-{cid}",
                "assignee": assignee, "candidate_groups": [role], "candidate_users": [], "form_id": None,
                "status": status, "created_at": created,
                "due_at": created + timedelta(days=self.rng.choice([3, 7, 14, 30])), "follow_up_at": None,
                "claimed_at": created if assignee else None, "completed_at": completed,
                "completed_by": assignee if completed else None, "delegated_by": None, "listed": {},
                "draft": None, "draft_by": None, "draft_at": None}


# -- database ----------------------------------------------------------------------------------
def make_env(url: str | None, tmp: str) -> Env:
    settings = Settings(outbox_log_path=f"{tmp}/outbox.log")
    if url is None:
        env = bootstrap(f"sqlite:///{tmp}/dashboard.sqlite", settings)
    elif url.startswith("sqlite"):
        env = bootstrap(url, settings)
        Base.metadata.drop_all(env.engine)
    else:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        with sa.create_engine(url).begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
        engine = sa.create_engine(url, pool_pre_ping=True, connect_args={"options": f"-csearch_path={SCHEMA}"})
        env = Env(engine=engine, handlers=load_handlers(), settings=settings)
    Base.metadata.create_all(env.engine)
    return env


def drop_schema(env: Env) -> None:
    with env.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def analyze(env: Env) -> None:
    """Statistics, as after autovacuum: on PostgreSQL also VACUUM, which sets the visibility
    map that index-only scans need (PostgreSQL 13+ autovacuums a table after bulk inserts too)."""
    if env.engine.dialect.name == "sqlite":
        with env.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        return
    with env.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in Base.metadata.sorted_tables:  # only ours: the database is shared
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {table.name}")


def prepare(env: Env) -> dict[str, int]:
    bpmn, forms = deploy.collect_files([str(ROOT / "processes"), str(ROOT / "forms")])
    deploy.deploy(env, None, bpmn, forms)
    with env.engine.begin() as conn:
        conn.execute(Region.__table__.insert(), [{"key": r, "name": r.capitalize()} for r in REGIONS])
        return dict(conn.execute(sa.select(ProcessVersion.process_id, sa.func.max(ProcessVersion.id))
                                 .group_by(ProcessVersion.process_id)).all())


# -- timing ------------------------------------------------------------------------------------
def size(result) -> int:
    return len(result["steps"]) if isinstance(result, dict) else len(result.rows)


def calls(env: Env, manager: Principal, region: str | None, now: datetime) -> dict:
    scope = measures.scope_for(manager, region, None, None, now=now)
    out = {f"step_overview {p}": (lambda p=p: measures.step_overview(env, manager, p, region, now)) for p in PATHWAYS}
    for name in [*measures.MEASURES, "open_work"]:
        out[f"measure {name}"] = lambda name=name: measures.measure(env, scope, name, now)
    return out


def explain(env: Env, fn) -> None:
    """Run ``fn`` once recording its statements, then time each alone (fetching every row)
    and print its plan: EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL."""
    seen: list[tuple] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(env.engine, "before_cursor_execute", record)
    try:
        t = time.perf_counter()
        fn()
        total = (time.perf_counter() - t) * 1000
    finally:
        event.remove(env.engine, "before_cursor_execute", record)
    sqlite = env.engine.dialect.name == "sqlite"
    with env.engine.connect() as conn:
        timings = []
        for statement, parameters in seen:
            t = time.perf_counter()
            rows = len(conn.exec_driver_sql(statement, parameters).fetchall())
            timings.append(((time.perf_counter() - t) * 1000, rows))
        print(f"    total {total:.1f} ms; its {len(seen)} statements alone, rows fetched: "
              f"{sum(ms for ms, _ in timings):.1f} ms")
        for (statement, parameters), (ms, rows) in zip(seen, timings, strict=True):
            if ms < 5:
                continue
            print(f"    -- {ms:.1f} ms, {rows} rows: {' '.join(statement.split())}")
            print(f"       params {parameters}")
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
            for row in conn.exec_driver_sql(prefix + statement, parameters):
                print("       " + (" ".join(str(c) for c in row[1:]) if sqlite else row[0]))


# -- baseline: the same numbers by scanning the task index, as before the counts ----------------
def scan_milestones(env: Env, scope: measures.Scope) -> list[list]:
    """Days from start to each milestone's first completion, from the tasks of every case
    started in the period (the query the counts replaced); same rows as the measure."""
    rows = []
    with env.uow() as uow:
        s = uow.session
        for pathway, version_id in measures._latest_versions(s, scope.pathway):
            model = measures.model_for_version(env, s, version_id)
            for element_id, name in model.milestones.items():
                first = (sa.select(Task.case_id, sa.func.min(Task.completed_at).label("reached"))
                         .where(Task.pathway == pathway, Task.element_id == element_id, Task.status == "completed")
                         .group_by(Task.case_id).subquery())
                found = s.execute(sa.select(Case.started_at, first.c.reached).join(first, first.c.case_id == Case.id)
                                  .where(Case.pathway == pathway, Case.region.in_(scope.regions),
                                         Case.started_at >= scope.start, Case.started_at < scope.end)).all()
                days = Counter(measure_counts.whole_days(started, reached) for started, reached in found)
                histogram = sorted(days.items())
                rows.append([pathway, name, len(found), measures._quantile(histogram, 0.5),
                             measures._quantile(histogram, 0.9)])
    return rows


def scan_open_work(env: Env, scope: measures.Scope, now: datetime) -> list[list]:
    """Open, unowned and overdue tasks by step and region, aggregated live from the task index."""
    with env.uow() as uow:
        s = uow.session
        found = s.execute(
            sa.select(Task.pathway, Task.element_id, Task.region, sa.func.count(),
                      sa.func.sum(sa.case((Task.assignee.is_(None), 1), else_=0)),
                      sa.func.sum(sa.case((Task.due_at < now, 1), else_=0)))
            .where(Task.status == "open", Task.region.in_(scope.regions))
            .group_by(Task.pathway, Task.element_id, Task.region)).all()
        names = measures._step_names(env, s, {row[0] for row in found})
    return sorted([p, names.get((p, e), e), r, n, int(u), int(o)] for p, e, r, n, u, o in found)


def baseline(env: Env, now: datetime, repeat: int) -> None:
    """The two heaviest calls against their scans: time, ratio, and whether the numbers agree."""
    manager = Principal("manager", frozenset({"manager"}), frozenset(REGIONS))
    scope = measures.scope_for(manager, None, None, None, now=now)
    print(f"\nbaseline: the same numbers by scanning cases and tasks (all 6 regions), {repeat} runs")
    print(f"{'call':24}{'scan p50':>10}{'counts p50':>12}{'ratio':>8}  same numbers")
    for name, scan in (("milestones", lambda: scan_milestones(env, scope)),
                       ("open_work", lambda: scan_open_work(env, scope, now))):
        scanned_ms, _p95, scanned = timed(scan, repeat)
        counted_ms, _p95, table = timed(lambda name=name: measures.measure(env, scope, name, now), repeat)
        same = "yes" if scanned == table.rows else "NO"
        print(f"{name:24}{scanned_ms:10.1f}{counted_ms:12.1f}{scanned_ms / counted_ms:7.0f}x  {same}")


def report(env: Env, now: datetime, repeat: int, explain_slow: bool) -> None:
    """Time every call for a manager of all regions and of one region; print the tables."""
    manager = Principal("manager", frozenset({"manager"}), frozenset(REGIONS))
    slow = []
    for label, region in (("manager, all 6 regions", None), ("manager, region = keski", "keski")):
        scope = measures.scope_for(manager, region, None, None, now=now)
        print(f"\n{label}; period {scope.start.date()} .. {scope.end.date()} (default), {repeat} runs")
        print(f"{'call':42}{'p50 ms':>9}{'p95 ms':>9}{'rows':>7}  verdict")
        for name, fn in calls(env, manager, region, now).items():
            p50, p95, result = timed(fn, repeat)
            over = p95 > TARGET_MS
            print(f"{name:42}{p50:9.1f}{p95:9.1f}{size(result):7}  {'over 50 ms' if over else 'OK'}")
            if over:
                slow.append((f"{name} ({label})", fn))
    if explain_slow:
        for name, fn in slow:
            print(f"\n== {name}")
            explain(env, fn)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--open-cases", type=int, default=100_000)
    ap.add_argument("--closed-tasks", type=int, default=1_000_000)
    ap.add_argument("--database-url", help="default: a fresh SQLite file in a temp dir")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--explain", action="store_true", help="print the plans of the calls over the target")
    ap.add_argument("--keep", action="store_true", help="PostgreSQL: keep the polku_bench schema")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        env = make_env(args.database_url, tmp)
        postgres = env.engine.dialect.name == "postgresql"
        try:
            now = datetime.now(UTC)
            versions = prepare(env)
            t = time.perf_counter()
            counts = Generator(env, versions, now, args.open_cases, args.closed_tasks).run()
            generated = time.perf_counter() - t
            t = time.perf_counter()
            count_rows = measure_counts.rebuild(env)
            rebuilt = time.perf_counter() - t
            t = time.perf_counter()
            analyze(env)
            print(f"{env.engine.dialect.name}: generated in {generated:.0f} s, measure counts rebuilt in {rebuilt:.0f} s "
                  f"({count_rows:,} rows), ANALYZE/VACUUM {time.perf_counter() - t:.1f} s: "
                  + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
            report(env, now, args.repeat, args.explain)
            baseline(env, now, args.repeat)
        finally:
            if postgres and not args.keep:
                drop_schema(env)
            env.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
