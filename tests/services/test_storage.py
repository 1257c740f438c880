"""Storage guarantees: migrations match the models, concurrent changes are detected, the
outbox retries with back-off, and list queries never need a workflow."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from orchestrator.errors import ConflictError
from orchestrator.services import cases, tasks
from orchestrator.services.outbox import Envelope, deliver_outbox
from orchestrator.store.db import make_engine
from orchestrator.store.migrate import upgrade
from orchestrator.store.models import Base, Case, OutboxMessage

from ..api.walk import BOOKING, REFERRAL
from ..conftest import PG_URL, principal


def _start(env, ref="AS-1"):
    return cases.start_case(env, principal(env, "rita"), "unemployed_health_check", "north",
                            {**REFERRAL, "client_ref": ref})


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_alembic_migrations_build_exactly_the_models_schema(backend, tmp_path):
    if backend == "postgresql":
        if not PG_URL:
            pytest.skip("POLKU_TEST_DATABASE_URL is not set: PostgreSQL migration check not run")
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS migration_check CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA migration_check"))
        admin.dispose()
        engine = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
                                  if PG_URL.startswith("postgresql://") else PG_URL,
                                  connect_args={"options": "-csearch_path=migration_check"})
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_two_writers_of_one_case_the_second_is_refused(deployed):
    c = _start(deployed)
    with deployed.uow() as first, deployed.uow() as second:
        a = first.session.get(Case, c["id"])
        b = second.session.get(Case, c["id"])
        a.current_steps = ["changed by first"]
        first.commit()
        b.current_steps = ["changed by second"]
        with pytest.raises(ConflictError):
            second.commit()


def test_two_people_completing_the_same_task_at_once_exactly_one_wins(deployed):
    c = _start(deployed)
    task = tasks.list_tasks(deployed, principal(deployed, "nina"), tasks.TaskQuery())["items"][0]
    assert task["case_id"] == c["id"]
    barrier = threading.Barrier(2)
    results: list[str] = []

    def attempt(username: str) -> None:
        actor = principal(deployed, username)
        barrier.wait()
        try:
            tasks.complete(deployed, actor, task["id"], BOOKING)
            results.append("ok")
        except ConflictError:
            results.append("conflict")

    threads = [threading.Thread(target=attempt, args=(u,)) for u in ("nina", "noora")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "ok"]
    view = cases.get_case(deployed, principal(deployed, "nina"), c["id"])
    assert view["current_steps"] == ["Task_PreQuestionnaire"]
    assert [h["element_id"] for h in view["history"] if h["kind"] == "task_completed"] == ["Task_BookAppointment"]


class FlakyBackend:
    def __init__(self, failures: int):
        self.failures = failures
        self.sent: list[Envelope] = []

    def send(self, message: Envelope) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("SMTP server unreachable")
        self.sent.append(message)


def test_outbox_retries_with_backoff_and_gives_up_visibly(deployed):
    import time_machine
    c = _start(deployed)
    backend = FlakyBackend(failures=2)  # both messages fail on the first attempt
    now = deployed.now()
    with time_machine.travel(now, tick=False):
        assert deliver_outbox(deployed, backend) == (0, 2)
        assert deliver_outbox(deployed, backend) == (0, 0)  # backing off
    with time_machine.travel(now + timedelta(seconds=31), tick=False):
        assert deliver_outbox(deployed, backend) == (2, 0)
    assert len({m.idempotency_key for m in backend.sent}) == 2
    with deployed.uow() as uow:
        rows = uow.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.case_id == c["id"])).all()
        assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}
        assert "unreachable" in rows[0].last_error


def test_outbox_marks_a_message_failed_after_the_last_attempt(deployed):
    import time_machine
    deployed.settings.outbox_max_attempts = 2
    _start(deployed)
    backend = FlakyBackend(failures=99)
    now = deployed.now()
    for minutes in (0, 10, 60):
        with time_machine.travel(now + timedelta(minutes=minutes), tick=False):
            deliver_outbox(deployed, backend)
    with deployed.uow() as uow:
        assert set(uow.session.scalars(sa.select(OutboxMessage.status))) == {"failed"}


def test_inbox_and_stats_do_not_deserialize_workflows(deployed, monkeypatch):
    for i in range(3):
        _start(deployed, f"AS-{i}")
    from orchestrator.engine import runtime
    from orchestrator.services import stats

    def forbidden(*_a, **_k):
        raise AssertionError("a list query loaded a workflow")
    monkeypatch.setattr(runtime.CaseRuntime, "load", forbidden)
    deployed.workflows.clear()
    nina = principal(deployed, "nina")
    assert tasks.list_tasks(deployed, nina, tasks.TaskQuery())["total"] == 3
    counts = stats.step_counts(deployed, principal(deployed, "mia"), "unemployed_health_check")
    assert counts["steps"][0]["open"] == 3
