"""Fire due timers: claim due rows, load each case, let the engine fire, save."""
from __future__ import annotations

import logging
import time

import sqlalchemy as sa

from ..engine import serializer
from ..errors import ConflictError, PolkuError, StateVersionError
from ..store.models import Case, Event, TimerRow
from .case_state import load_runtime, save_progress
from .env import Env

log = logging.getLogger("polku.timers")


def fire_due_timers(env: Env, limit: int = 100) -> int:
    """Fire every timer due now; returns how many cases moved. Safe to run in many workers."""
    now = env.now()
    with env.uow() as uow:
        _report_foreign_cases(uow.session, now)
        case_ids = list(dict.fromkeys(uow.session.scalars(
            sa.select(TimerRow.case_id).join(Case, Case.id == TimerRow.case_id)
            .where(TimerRow.due_at <= now, Case.library_version == serializer.LIBRARY)
            .order_by(TimerRow.due_at).limit(limit))))
    moved = 0
    for case_id in case_ids:
        try:
            if _fire_case(env, case_id):
                moved += 1
        except ConflictError:
            log.info("case %s changed while firing its timer; another worker got it", case_id)
        except StateVersionError as exc:  # its row said this version, its state says another
            log.error("timer of case %s skipped: %s", case_id, exc)
        except PolkuError as exc:
            log.warning("timer of case %s could not fire: %s", case_id, exc)
    return moved


# A case written by another SpiffWorkflow is not claimed above (services/case_state.py would
# refuse to load it, and its due timers must not fill every round's batch ahead of the cases that
# can fire); instead an error names such cases, checked once a minute and repeated hourly.
CHECK_EVERY, REPORT_EVERY = 60.0, 3600.0
_next_check = 0.0


def _report_foreign_cases(session, now) -> None:
    global _next_check
    if time.monotonic() < _next_check:
        return
    _next_check = time.monotonic() + CHECK_EVERY
    foreign = session.execute(
        sa.select(Case.id, Case.library_version).join(TimerRow, TimerRow.case_id == Case.id)
        .where(TimerRow.due_at <= now, Case.library_version != serializer.LIBRARY).distinct()
        .order_by(Case.id).limit(20)).all()
    if foreign:
        _next_check = time.monotonic() + REPORT_EVERY
        log.error("due timers skipped: these cases were saved with another SpiffWorkflow than this Polku's %s "
                  "(run Polku with that version for them, or migrate their state): %s", serializer.LIBRARY,
                  ", ".join(f"case {cid} ({written})" for cid, written in foreign))


def _fire_case(env: Env, case_id: int) -> bool:
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        # Row lock on PostgreSQL so two workers do not load the same case; the version_no
        # check is the backstop (and the only guard on SQLite, which has one writer anyway).
        due = s.scalars(sa.select(TimerRow).where(TimerRow.case_id == case_id, TimerRow.due_at <= now)
                        .with_for_update(skip_locked=True)).all()
        if not due:
            return False
        case = s.get(Case, case_id)
        if case is None or case.status != "active":
            return False
        runtime = load_runtime(env, s, case)
        steps = runtime.fire_timers()
        if not steps:
            # SpiffWorkflow fires strictly after the deadline: at the very instant, nothing moves
            # yet; the row stays and the next round fires it. The runtime is not put back.
            return False
        for row in due:
            s.add(Event(case_id=case.id, at=now, actor="system", kind="timer_fired",
                        element_id=row.element_id, task_id=row.task_id, details={"due_at": row.due_at.isoformat()}))
        save_progress(env, uow, case, runtime, "system", steps, now)
        uow.commit()
        return True
