"""Milliseconds per completed human task: raw SpiffWorkflow vs Polku (service layer, HTTP API).

    .venv/bin/python bench/complete_tasks.py [--cases N] [--database-url URL] [--warmup W]
                                             [--profile service|api]

Every case walks the same path through ``unemployed_health_check``: the referrer starts it,
the nurse books (hc_booking), records the pre-questionnaire (hc_prequestionnaire) and does
the check (hc_nurse_check: attended, doctor needed), the doctor assesses (hc_doctor), and
the case completes. Only the four human-task completions are timed.

* raw     — what a plain SpiffWorkflow user does per step: SELECT the case's state row,
            deserialize with the library's full serializer (spec inside the blob), complete
            the task, ``task.complete()`` the service tasks it reaches, serialize, UPDATE,
            commit. One stateless unit, one commit per step.
* service — ``tasks.complete(...)`` (task id looked up with ``list_tasks`` outside the timer).
* api     — ``POST /api/tasks/<id>/complete`` through the Flask test client with a session
            cookie (task found with ``GET /api/tasks`` outside the timer).

Each mode gets its own fresh database. SQLite (the default: fresh files in a temp dir, WAL)
runs the modes interleaved case by case; any other URL (e.g. PostgreSQL) runs them one
after the other and drops + recreates Polku's tables before each mode, so it refuses a
database that holds Polku data unless ``--wipe`` is given. Any failed step exits non-zero.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from orchestrator.engine.deployment import build_models, read_forms  # noqa: E402
from orchestrator.engine.script_engine import SCRIPT_ENGINE  # noqa: E402
from orchestrator.engine.serializer import FULL_SERIALIZER  # noqa: E402
from orchestrator.services import cases, deploy, tasks, users  # noqa: E402
from orchestrator.services.env import Env, Settings, bootstrap  # noqa: E402
from orchestrator.services.handler_api import load_handlers  # noqa: E402
from orchestrator.store.db import make_engine  # noqa: E402
from orchestrator.store.models import Base, ProcessVersion  # noqa: E402
from orchestrator.web import create_app  # noqa: E402

PATHWAY = "unemployed_health_check"
REGION = "north"
PASSWORD = "bench-password-1"
USERS = [("rita", ["referrer"], "te_office"), ("nina", ["nurse"], "health_centre"),
         ("noora", ["nurse"], "health_centre"), ("dan", ["doctor"], "health_centre")]
MODES = ("raw", "service", "api")
LABELS = {"raw": "raw SpiffWorkflow", "service": "Polku service", "api": "Polku HTTP API"}


class BenchError(Exception):
    pass


def check(ok: bool, message: str) -> None:
    if not ok:
        raise BenchError(message)


# -- the walk: same data for every mode --------------------------------------------------
def referral(i: int) -> dict:
    return {"client_ref": f"BENCH-{i:05d}",
            "referral_source": ("te_office", "municipal_employment", "social_work")[i % 3],
            "urgency": "urgent" if i % 4 == 0 else "normal",
            "reason": "Pitkittynyt työttömyys (yli 12 kk); asiakas kertoo selkäkivusta ja "
                      "univaikeuksista, työkyky epäselvä.",
            "consent_to_summary": i % 2 == 0}


def human_steps(i: int) -> list[tuple[str, str, dict]]:
    """(user, element id, form data) of the four human tasks of case ``i``."""
    at = (datetime.now(UTC) + timedelta(days=14 + i % 10)).replace(hour=9 + i % 6, minute=15 * (i % 4),
                                                                   second=0, microsecond=0)
    return [
        ("nina", "Task_BookAppointment", {
            "appointment_at": at.isoformat(), "location": f"Terveysasema Pohjoinen, huone {10 + i % 5}",
            "invitation_channel": "sms" if i % 2 else "letter"}),
        ("nina", "Task_PreQuestionnaire", {
            "workability_score": 3 + i % 6, "health_concerns": ["musculoskeletal", "sleep"],
            "self_assessment_notes": "Selkä kipeytyy pitkässä istumisessa, nukun huonosti. "
                                     "Haluaisin kokeilla osa-aikatyötä."}),
        ("nina", "Task_HealthCheck", {
            "attendance": "attended", "decision": "doctor_needed",
            "findings": "RR 132/84, BMI 28. Alaselän liikerajoitus, uniongelmat n. 6 kk. "
                        "Työkyky arvioitava lääkärin vastaanotolla."}),
        ("dan", "Task_DoctorAssessment", {
            "doctor_outcome": "network",
            "statement": "Osatyökykyinen. Ohjaus työikäisten verkostoon; fysioterapia ja "
                         "uniryhmä. Kontrolli 3 kk."}),
    ]


def start_data(i: int) -> dict:
    """What Polku's start_case puts into a new case (so raw blobs hold the same data)."""
    return {**referral(i), "region": REGION, "pathway": PATHWAY, "started_by": "rita"}


# -- databases ---------------------------------------------------------------------------
def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def reset_schema(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS bench_raw_case"))
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


def holds_polku_data(url: str) -> bool:
    engine = make_engine(url)
    try:
        if not sa.inspect(engine).has_table(ProcessVersion.__tablename__):
            return False
        with engine.connect() as conn:
            return bool(conn.scalar(sa.select(sa.func.count()).select_from(ProcessVersion)))
    finally:
        engine.dispose()


# -- the three modes -----------------------------------------------------------------------
Timer = Callable[[Callable[[], object]], object]


class RawMode:
    """Plain SpiffWorkflow: one state row per case, full serializer, one commit per step."""

    def __init__(self, url: str, bpmn: dict, forms: dict):
        self.engine = make_engine(url)  # same pragmas as Polku: WAL, synchronous=NORMAL
        self.conn = self.engine.raw_connection()
        self.ph = "?" if is_sqlite(url) else "%s"
        cur = self.conn.cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS bench_raw_case (id INTEGER PRIMARY KEY, state TEXT NOT NULL)")
        self.conn.commit()
        parsed, _ = read_forms(forms)
        models = build_models(bpmn, parsed, load_handlers().topics)
        self.model = next(m for m in models if m.process_id == PATHWAY)

    @staticmethod
    def _engine_loop(wf: BpmnWorkflow) -> None:
        while True:
            wf.do_engine_steps()
            waiting = [t for t in wf.get_tasks(state=TaskState.STARTED) if isinstance(t.task_spec, ServiceTask)]
            if not waiting:
                return
            for t in waiting:
                t.complete()

    def _step(self, case_id: int, element: str, data: dict) -> BpmnWorkflow:
        cur = self.conn.cursor()
        cur.execute(f"SELECT state FROM bench_raw_case WHERE id = {self.ph}", (case_id,))
        (state,) = cur.fetchone()
        wf = FULL_SERIALIZER.deserialize_json(state)
        wf.script_engine = SCRIPT_ENGINE
        task = next((t for t in wf.get_tasks(state=TaskState.READY, manual=True)
                     if t.task_spec.bpmn_id == element), None)
        check(task is not None, f"raw case {case_id}: {element} is not ready")
        task.data.update(data)
        task.run()
        self._engine_loop(wf)
        cur.execute(f"UPDATE bench_raw_case SET state = {self.ph} WHERE id = {self.ph}",
                    (FULL_SERIALIZER.serialize_json(wf), case_id))
        self.conn.commit()
        return wf

    def run_case(self, i: int, timed: Timer) -> None:
        wf = BpmnWorkflow(self.model.spec, self.model.subprocess_specs, script_engine=SCRIPT_ENGINE)
        for t in wf.get_tasks(state=TaskState.READY):
            t.data.update(start_data(i))
        self._engine_loop(wf)
        cur = self.conn.cursor()
        cur.execute(f"INSERT INTO bench_raw_case (id, state) VALUES ({self.ph}, {self.ph})",
                    (i, FULL_SERIALIZER.serialize_json(wf)))
        self.conn.commit()
        for _user, element, data in human_steps(i):
            wf = timed(lambda e=element, d=data: self._step(i, e, d))
        check(bool(wf.completed), f"raw case {i} did not complete")

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


def _polku_env(url: str, workdir: Path, mode: str) -> Env:
    env = bootstrap(url, Settings(outbox_log_path=str(workdir / f"outbox-{mode}.log")))
    Base.metadata.create_all(env.engine)
    bpmn, forms = deploy.collect_files([str(ROOT / "processes"), str(ROOT / "forms")])
    deploy.deploy(env, None, bpmn, forms)
    users.add_region(env, REGION, "Pohjoinen")
    for name, roles, organisation in USERS:
        users.add_user(env, name, PASSWORD, roles, [REGION], organisation=organisation)
    return env


class ServiceMode:
    def __init__(self, url: str, workdir: Path):
        self.env = _polku_env(url, workdir, "service")
        self.who = {name: users.principal_for(self.env, name) for name, *_ in USERS}

    def run_case(self, i: int, timed: Timer) -> None:
        case = cases.start_case(self.env, self.who["rita"], PATHWAY, REGION, referral(i))
        result = case
        for user, element, data in human_steps(i):
            actor = self.who[user]
            found = tasks.list_tasks(self.env, actor, tasks.TaskQuery(element_id=element, limit=500))
            task_id = next((t["id"] for t in found["items"] if t["case_id"] == case["id"]), None)
            check(task_id is not None, f"service case {case['id']}: no open {element} for {user}")
            result = timed(lambda a=actor, t=task_id, d=data: tasks.complete(self.env, a, t, d))
        check(result["status"] == "completed", f"service case {case['id']} ended {result['status']!r}")

    def close(self) -> None:
        self.env.engine.dispose()


class ApiMode:
    def __init__(self, url: str, workdir: Path):
        self.env = _polku_env(url, workdir, "api")
        app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": "unused",
                          "OUTBOX_LOG_PATH": str(workdir / "outbox-api.log")}, env=self.env)
        self.clients = {}
        for name, *_ in USERS:
            client = app.test_client()
            r = client.post("/api/login", json={"username": name, "password": PASSWORD})
            check(r.status_code == 200, f"login {name}: HTTP {r.status_code} {r.get_data(as_text=True)[:200]}")
            self.clients[name] = client

    def run_case(self, i: int, timed: Timer) -> None:
        r = self.clients["rita"].post("/api/cases", json={"pathway": PATHWAY, "region": REGION,
                                                          "data": referral(i)})
        check(r.status_code == 201, f"start case: HTTP {r.status_code} {r.get_data(as_text=True)[:300]}")
        case_id = r.get_json()["id"]
        body = r.get_json()
        for user, element, data in human_steps(i):
            client = self.clients[user]
            r = client.get("/api/tasks", query_string={"step": element, "limit": 500})
            check(r.status_code == 200, f"GET /api/tasks: HTTP {r.status_code} {r.get_data(as_text=True)[:300]}")
            task_id = next((t["id"] for t in r.get_json()["items"] if t["case_id"] == case_id), None)
            check(task_id is not None, f"api case {case_id}: no open {element} for {user}")
            r = timed(lambda c=client, t=task_id, d=data: c.post(f"/api/tasks/{t}/complete", json={"data": d}))
            check(r.status_code == 200, f"complete {element}: HTTP {r.status_code} {r.get_data(as_text=True)[:300]}")
            body = r.get_json()
        check(body["status"] == "completed", f"api case {case_id} ended {body['status']!r}")

    def close(self) -> None:
        self.env.engine.dispose()


# -- measuring -----------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def recorder(samples: list[float] | None) -> Timer:
    def timed(fn):
        t0 = time.perf_counter()
        out = fn()
        if samples is not None:
            samples.append((time.perf_counter() - t0) * 1000.0)
        return out
    return timed


def profiler_timer(prof: cProfile.Profile) -> Timer:
    def timed(fn):
        prof.enable()
        try:
            return fn()
        finally:
            prof.disable()
    return timed


def machine_facts(url: str) -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    backend = "SQLite file per mode, WAL, synchronous=NORMAL" if is_sqlite(url) else url.split("://")[0]
    return [f"python {platform.python_version()} ({platform.python_implementation()}), "
            f"SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}",
            f"cpu: {cpu}; cores: {os.cpu_count()} ({usable} usable)",
            f"database: {backend}"]


def mode_urls(url: str | None, workdir: Path) -> dict[str, str]:
    if url is None:
        return {m: f"sqlite:///{workdir / f'{m}.sqlite'}" for m in MODES}
    if not is_sqlite(url):
        return dict.fromkeys(MODES, url)
    path = url.split("///", 1)[-1] if "///" in url else ""
    if not path or path == ":memory:":
        raise BenchError("an in-memory SQLite database cannot be shared by connections; give a file")
    p = Path(path)
    urls = {}
    for m in MODES:
        target = p.with_name(f"{p.stem}-{m}{p.suffix or '.sqlite'}")
        if target.exists():
            raise BenchError(f"{target} exists; remove it so the benchmark starts from a fresh database")
        urls[m] = f"sqlite:///{target}"
    return urls


def make_mode(mode: str, url: str, workdir: Path, files: tuple[dict, dict]):
    if mode == "raw":
        return RawMode(url, *files)
    return ServiceMode(url, workdir) if mode == "service" else ApiMode(url, workdir)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--cases", type=int, default=50, help="timed cases per mode (default 50)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed cases per mode first (default 3)")
    ap.add_argument("--database-url", help="default: fresh SQLite files in a temp dir")
    ap.add_argument("--wipe", action="store_true", help="allow dropping Polku tables of a non-SQLite URL")
    ap.add_argument("--profile", choices=("service", "api"),
                    help="also cProfile one more case of this mode (top 25 by cumulative time)")
    args = ap.parse_args(argv)
    if args.cases < 1 or args.warmup < 0:
        ap.error("--cases must be ≥ 1 and --warmup ≥ 0")

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    samples: dict[str, list[float]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(prefix="polku-bench-") as tmp:
        workdir = Path(tmp)
        try:
            urls = mode_urls(args.database_url, workdir)
            shared = not is_sqlite(urls["raw"])
            if shared and holds_polku_data(urls["raw"]) and not args.wipe:
                raise BenchError(f"{args.database_url} holds Polku data; pass --wipe to let the "
                                 "benchmark drop and recreate its tables")
            for line in machine_facts(urls["raw"]):
                print(line)
            print(f"cases: {args.cases} timed + {args.warmup} warm-up per mode, 4 human tasks each; "
                  f"{'sequential' if shared else 'interleaved'}")
            files = deploy.collect_files([str(ROOT / "processes"), str(ROOT / "forms")])
            total = (args.cases + args.warmup) * len(MODES)
            progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            with progress:
                bar = progress.add_task("cases", total=total)

                def run(mode_obj, mode: str, i: int) -> None:
                    progress.update(bar, description=f"{mode:<7}")
                    try:
                        mode_obj.run_case(i, recorder(samples[mode] if i >= args.warmup else None))
                    except BenchError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - any failure fails the run, with its context
                        raise BenchError(f"{mode} case {i}: {type(exc).__name__}: {exc}") from exc
                    progress.advance(bar)

                n = args.cases + args.warmup
                if shared:  # one database: one mode at a time, fresh tables for each
                    for mode in MODES:
                        reset_schema(urls[mode])
                        obj = make_mode(mode, urls[mode], workdir, files)
                        try:
                            for i in range(n):
                                run(obj, mode, i)
                        finally:
                            obj.close()
                    reset_schema(urls["raw"])
                else:  # a database per mode, cases interleaved so drift hits all modes alike
                    objs = {m: make_mode(m, urls[m], workdir, files) for m in MODES}
                    try:
                        for i in range(n):
                            for mode in MODES:
                                run(objs[mode], mode, i)
                    finally:
                        for obj in objs.values():
                            obj.close()
        except BenchError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1

        raw_p50 = percentile(samples["raw"], 0.5)
        print(f"{'mode':<18}{'steps':>6}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'p50/raw':>9}")
        for mode in MODES:
            s = samples[mode]
            p50 = percentile(s, 0.5)
            print(f"{LABELS[mode]:<18}{len(s):>6}{p50:>9.2f}{percentile(s, 0.95):>9.2f}"
                  f"{sum(s) / len(s):>9.2f}{p50 / raw_p50:>9.2f}")
        print(f"ratio p50 (service/raw): {percentile(samples['service'], 0.5) / raw_p50:.2f}")

        if args.profile:
            url = f"sqlite:///{workdir / 'profile.sqlite'}" if not shared else urls["raw"]
            if shared:
                reset_schema(url)
            obj = make_mode(args.profile, url, workdir, files)
            prof = cProfile.Profile()
            try:
                for i in range(args.warmup):
                    obj.run_case(i, recorder(None))
                obj.run_case(args.warmup, profiler_timer(prof))
            finally:
                obj.close()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
            print(f"-- cProfile of the 4 timed steps of one {args.profile} case (cumulative) --")
            print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))
            if shared:
                reset_schema(url)

        print(f"ratio p50 (api/raw): {percentile(samples['api'], 0.5) / raw_p50:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
