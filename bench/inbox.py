"""Inbox queries with many open tasks: the role list, deep pages, filters, counts.

    python bench/inbox.py [--tasks 50000] [--database-url URL]

Rows are bulk-inserted straight into the task index (a generator for the benchmark only);
the timed calls are the real ``tasks.list_tasks`` service the inbox page uses.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from timing import timed  # noqa: E402

from orchestrator.services import tasks  # noqa: E402
from orchestrator.services.env import Settings, bootstrap  # noqa: E402
from orchestrator.services.principal import Principal  # noqa: E402
from orchestrator.store.models import Base, Task  # noqa: E402

REGIONS = ["keski", "pohjoinen", "etela", "ita", "lansi", "rannikko"]
STEPS = [("unemployed_health_check", "Task_BookAppointment", "nurse"),
         ("unemployed_health_check", "Task_HealthCheck", "nurse"),
         ("unemployed_health_check", "Task_DoctorAssessment", "doctor"),
         ("social_rehabilitation", "Task_PeriodReview", "social_worker"),
         ("ips_job_coaching", "Task_FollowAlong", "job_coach")]


def fill(env, count: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        pathway, element, role = rng.choice(STEPS)
        created = now - timedelta(minutes=rng.randint(0, 60 * 24 * 90))
        rows.append({"id": str(uuid.uuid4()), "engine_task_id": str(uuid.uuid4()), "case_id": i + 1,
                     "pathway": pathway, "element_id": element, "name": element, "role": role,
                     "region": rng.choice(REGIONS), "client_ref": f"B-{i}",
                     "assignee": rng.choice([None, None, None, f"{role}-{i % 40}"]),
                     "candidate_groups": [], "candidate_users": [], "form_id": None, "status": "open",
                     "created_at": created, "due_at": created + timedelta(days=rng.choice([2, 7, 14])),
                     "follow_up_at": None, "claimed_at": None, "completed_at": None, "completed_by": None,
                     "delegated_by": None, "listed": {"urgency": rng.choice(["normal", "urgent"])},
                     "draft": None, "draft_by": None, "draft_at": None})
    with env.engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF") if env.engine.dialect.name == "sqlite" else None
        for start in range(0, len(rows), 5000):
            conn.execute(Task.__table__.insert(), rows[start:start + 5000])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--tasks", type=int, default=50_000)
    ap.add_argument("--database-url")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/inbox.sqlite"
        env = bootstrap(url, Settings(outbox_log_path=f"{tmp}/o.log"))
        Base.metadata.drop_all(env.engine) if args.database_url else None
        Base.metadata.create_all(env.engine)
        fill(env, args.tasks)
        nurse = Principal("nurse-7", frozenset({"nurse"}), frozenset({"keski", "pohjoinen"}))
        cases = {
            "role list, page 1 (by due date)": tasks.TaskQuery(scope="role"),
            "role list, page 100": tasks.TaskQuery(scope="role", offset=99 * 25, limit=25),
            "unassigned, overdue only": tasks.TaskQuery(scope="unassigned", due="overdue"),
            "role list, urgency = urgent": tasks.TaskQuery(scope="role", fields=(("urgency", "urgent"),)),
            "my tasks": tasks.TaskQuery(scope="mine"),
        }
        print(f"{args.tasks:,} open tasks, {env.engine.dialect.name}; a nurse of 2 of 6 regions")
        print(f"{'query (page of 25, with total count)':42}{'p50 ms':>9}{'p95 ms':>9}{'total':>9}")
        for label, query in cases.items():
            p50, p95, _ = timed(lambda q=query: tasks.list_tasks(env, nurse, q))
            total = tasks.list_tasks(env, nurse, query)["total"]
            print(f"{label:42}{p50:9.1f}{p95:9.1f}{total:9,}")
        env.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
