"""A case saved by another SpiffWorkflow version is refused with a clear 409, never loaded as an
empty case: reading it, completing its task, its page, and the timer worker (which skips it)."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine

from orchestrator.engine import serializer
from orchestrator.services import timers
from orchestrator.services.timers import fire_due_timers
from orchestrator.store.models import Case, Task

from ..web.test_pages import sign_in
from .walk import BOOKING, do, open_task, start

OTHER = "SpiffWorkflow==3.1.1"
REMINDER_DUE = datetime(2027, 1, 17, 8, 0, tzinfo=timezone.utc)  # 3 days before 20 Jan 10:00 Helsinki


def rewrite(env, case_id: int, column: str | None = None, mark: str | None = None) -> None:
    """Make the stored case look written by another SpiffWorkflow: its row, or the mark in its state."""
    with env.uow() as uow:
        case = uow.session.get(Case, case_id)
        values = {}
        if column:
            values["library_version"] = column
        if mark:
            doc = json.loads(case.state)
            doc[serializer.LIBRARY_KEY] = mark
            values["state"] = json.dumps(doc)
        uow.session.execute(sa.update(Case).where(Case.id == case_id).values(**values))
        uow.commit()
    env.workflows.clear()  # as another server process would see it: no case held in memory


def assert_refused(r, written_with: str = OTHER) -> None:
    assert r.status_code == 409, r.get_data(as_text=True)[:300]
    body = r.get_json()
    assert body["error"] == "case_state_version" and body["details"] == []
    assert f"saved with {written_with}" in body["message"] and serializer.LIBRARY in body["message"]
    assert f"Run Polku with {written_with}" in body["message"]


@pytest.mark.parametrize("where", ["column", "mark"])
def test_reading_and_completing_a_case_of_another_version_is_refused_and_changes_nothing(
        where, client_for, deployed, app):
    rita, nina = client_for("rita"), client_for("nina")
    c = start(rita)
    task = open_task(nina, c["id"], "Task_BookAppointment")
    rewrite(deployed, c["id"], **({"column": OTHER} if where == "column" else {"mark": OTHER}))

    assert_refused(nina.get(f"/api/cases/{c['id']}"))
    assert nina.post(f"/api/tasks/{task['id']}/claim", json={}).status_code == 200  # no workflow needed
    assert_refused(nina.post(f"/api/tasks/{task['id']}/complete", json={"data": BOOKING}))
    with deployed.uow() as uow:
        row = uow.session.get(Task, task["id"])
        assert row.status == "open" and row.completed_at is None
        assert uow.session.get(Case, c["id"]).version_no == c["version_no"]

    page = sign_in(app, "nina").get(f"/cases/{c['id']}")
    assert page.status_code == 409 and f"saved with {OTHER}" in page.get_data(as_text=True)


def test_the_timer_worker_skips_a_case_of_another_version_with_an_error_and_fires_the_others(
        client_for, deployed, caplog, monkeypatch):
    rita, nina = client_for("rita"), client_for("nina")
    ids = []
    # reminders due on 16, 17 and 18 January: the foreign case's first
    for ref, day in (("AS-1", 19), ("AS-2", 20), ("AS-3", 21)):
        c = start(rita, client_ref=ref)
        do(nina, c["id"], "Task_BookAppointment", {**BOOKING, "appointment_at": f"2027-01-{day}T10:00"})
        ids.append(c["id"])
    foreign_row, fine, foreign_mark = ids
    rewrite(deployed, foreign_row, column=OTHER)
    rewrite(deployed, foreign_mark, mark=OTHER)
    monkeypatch.setattr(timers, "_next_check", 0.0)
    with caplog.at_level(logging.ERROR, logger="polku.timers"), \
            time_machine.travel(datetime(2027, 1, 18, 9, 0, tzinfo=timezone.utc), tick=False):
        # a batch of one: the foreign case, due first, does not take the place of the fine one
        assert fire_due_timers(deployed, limit=1) == 1
        assert fire_due_timers(deployed) == 0  # the others are skipped, round after round, no crash
        assert fire_due_timers(deployed) == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(f"case {foreign_row} ({OTHER})" in e and "run Polku with that version" in e for e in errors), errors
    assert sum(f"case {foreign_row} ({OTHER})" in e for e in errors) == 1  # said once, not every round
    assert any(f"timer of case {foreign_mark} skipped" in e and f"saved with {OTHER}" in e for e in errors), errors
    with deployed.uow() as uow:
        versions = {cid: uow.session.get(Case, cid).version_no for cid in ids}
    assert versions[fine] > versions[foreign_row] == versions[foreign_mark]
