"""Shared fixtures: a fresh database per test (SQLite file; PostgreSQL when
POLKU_TEST_DATABASE_URL is set), the real processes deployed, users of every needed role."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator.services import deploy, users
from orchestrator.services.env import Env, Settings, bootstrap
from orchestrator.services.principal import Principal
from orchestrator.store.models import Base
from orchestrator.web import create_app

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("POLKU_TEST_DATABASE_URL")
PASSWORD = "correct-horse"


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(scope="session")
def pg_engine():
    if not PG_URL:
        yield None
        return
    from orchestrator.store.db import make_engine
    engine = make_engine(PG_URL)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    yield engine
    Base.metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture(params=_backends())
def db_url(request, tmp_path, pg_engine) -> str:
    if request.param == "postgresql":
        with pg_engine.begin() as conn:
            names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return PG_URL
    url = f"sqlite:///{tmp_path / 'polku.sqlite'}"
    from orchestrator.store.db import make_engine
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(outbox_log_path=str(tmp_path / "outbox.log"))


@pytest.fixture
def env(db_url, settings) -> Env:
    e = bootstrap(db_url, settings)
    yield e
    e.engine.dispose()


@pytest.fixture
def deployed(env) -> Env:
    """The real processes/ and forms/ deployed, regions north + south, one user per role."""
    bpmn, forms = deploy.collect_files([str(ROOT / "processes"), str(ROOT / "forms")])
    deploy.deploy(env, None, bpmn, forms)
    users.add_region(env, "north", "Pohjoinen")
    users.add_region(env, "south", "Etelä")
    for name, roles, regions, org in USERS:
        users.add_user(env, name, PASSWORD, roles, regions, organisation=org)
    return env


USERS = [
    ("rita", ["referrer"], ["north"], "te_office"), ("nina", ["nurse"], ["north"], "health_centre"),
    ("noora", ["nurse"], ["north"], "health_centre"), ("sami", ["nurse"], ["south"], "health_centre"),
    ("dan", ["doctor"], ["north"], "health_centre"), ("mia", ["manager"], ["north", "south"], None),
    ("dora", ["designer"], ["north"], None), ("rolf", ["referrer"], ["south"], "te_office"),
    ("cora", ["coordinator"], ["north"], "social_services"), ("sofia", ["social_worker"], ["north"], "social_services"),
    ("saku", ["social_worker"], ["north"], "social_services"), ("jori", ["job_coach"], ["north"], "ips_service"),
    ("jenni", ["job_coach"], ["north"], "ips_service"), ("kalle", ["network_member"], ["north"], "kela"),
    ("teija", ["network_member"], ["north"], "te_office"), ("ned", ["network_member"], ["north"], "ngo"),
    ("jaakko", ["job_coach"], ["south"], "ips_service"),
]


def principal(env: Env, username: str) -> Principal:
    p = users.principal_for(env, username)
    assert p is not None
    return p


@pytest.fixture
def app(deployed):
    application = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": "unused"}, env=deployed)
    return application


@pytest.fixture
def client_for(app):
    """client_for('nina') → a test client signed in as nina."""
    def make(username: str):
        client = app.test_client()
        r = client.post("/api/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.get_json()
        return client
    return make


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing():
    """Production argon2 costs ~60 ms a hash by design; the tests hash hundreds of times."""
    from argon2 import PasswordHasher

    from orchestrator.services import users as user_service
    original = user_service._hasher
    user_service._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    user_service._DUMMY_HASH = user_service._hasher.hash("not a password")
    yield
    user_service._hasher = original


@pytest.fixture
def token_client_for(app, deployed):
    """A client authenticated by bearer token (no session cookie, so the clock can jump months)."""
    def make(username: str):
        token = users.create_token(deployed, username)
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client
    return make


def cli_invoker(tmp_path: Path):
    """``invoke("deploy", …)`` runs ``run.py`` as an operator would, on a fresh SQLite file."""
    from click.testing import CliRunner

    from orchestrator.cli import cli

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), env={"DATABASE_URL": url, "POLKU_OUTBOX_LOG_PATH": str(tmp_path / "o.log")},
                             catch_exceptions=False)
    invoke.url = url
    return invoke
