"""Re-check every active case against what it really waits for: ``run.py db recheck``.

Cases written before issue 9 may sit in a state the engine no longer produces: a rework loop
whose second round never reached the inbox (the rewound task kept its id and the task index
skipped it), or a case stuck with nothing waiting and no incident. Every save now prevents
both, but a case nobody touches is never saved. This walks the active cases once and saves
each through ``save_progress`` as if nothing had been persisted of its open work, so missing
inbox rows and timer rows are written, and a stuck case gets its incident.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from ..errors import PolkuError
from ..store.models import Case, Task
from .case_state import load_runtime, save_progress
from .env import Env

# ``_sync_timers`` rewrites a case's timer rows when what it holds differs from what was
# persisted; a key no timer can have makes it rewrite them from the workflow.
_REWRITE_TIMERS = frozenset({("", datetime(1970, 1, 1, tzinfo=UTC), -1)})


@dataclass
class RecheckReport:
    checked: int = 0
    tasks_restored: int = 0
    stuck: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def recheck_active_cases(env: Env) -> RecheckReport:
    """Each active case in its own unit of work; a case that cannot be loaded is reported."""
    report = RecheckReport()
    with env.uow() as uow:
        ids = list(uow.session.scalars(sa.select(Case.id).where(Case.status == "active").order_by(Case.id)))
    for case_id in ids:
        try:
            restored, stuck = _recheck(env, case_id)
        except PolkuError as exc:
            report.refused[case_id] = exc.message
            continue
        report.checked += 1
        report.tasks_restored += restored
        if stuck:
            report.stuck.append(case_id)
    return report


def _recheck(env: Env, case_id: int) -> tuple[int, bool]:
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        case = s.get(Case, case_id)
        if case is None or case.status != "active":
            return 0, False
        runtime = load_runtime(env, s, case)
        indexed = set(s.scalars(sa.select(Task.engine_task_id).where(Task.case_id == case.id,
                                                                      Task.status == "open")))
        # what has an open inbox row stays as it is; an open task without one gets its row now
        runtime.persisted_tasks = frozenset(k for k in runtime.persisted_tasks if k[0] in indexed)
        runtime.persisted_timers = _REWRITE_TIMERS
        save_progress(env, uow, case, runtime, "system", [], now)
        restored = sum(1 for key in runtime.persisted_tasks if key[0] not in indexed)
        stuck = not runtime.completed and runtime.stuck() is not None
        uow.commit()
        return restored, stuck
