"""``python run.py …`` as an operator uses it: exit 0 on success, 1 with messages on a
rejection (never a traceback), 2 with usage on bad arguments."""
from __future__ import annotations

import pytest

from .conftest import ROOT, cli_invoker


@pytest.fixture
def run(tmp_path):
    return cli_invoker(tmp_path)


def test_help_lists_every_command(run):
    out = run("--help").output
    for command in ("serve", "worker", "deploy", "region", "user", "token", "cases", "db"):
        assert command in out


def test_operator_sets_up_a_database_from_the_command_line(run):
    assert run("db", "upgrade").exit_code == 0
    r = run("deploy", str(ROOT / "processes"), str(ROOT / "forms"))
    assert r.exit_code == 0 and "deployed: unemployed_health_check version 1" in r.output
    assert "unchanged: unemployed_health_check version 1" in run("deploy", str(ROOT / "processes"),
                                                                  str(ROOT / "forms")).output
    assert run("region", "add", "north", "Pohjoinen").exit_code == 0
    r = run("user", "add", "nina", "--roles", "nurse", "--regions", "north", "--password", "long-enough")
    assert r.exit_code == 0
    token = run("token", "nina")
    assert token.exit_code == 0 and token.output.strip().startswith("pk_")
    assert run("cases").output.strip() == "no cases"


def test_rejected_deploy_exits_1_with_the_element_and_line_and_no_traceback(run, tmp_path):
    bad = tmp_path / "bad.bpmn"
    source = (ROOT / "processes" / "unemployed_health_check.bpmn").read_text(encoding="utf-8")
    bad.write_text(source.replace("decision == 'fit_for_work'", "${approved}"), encoding="utf-8")
    r = run("deploy", str(bad), str(ROOT / "forms"))
    assert r.exit_code == 1
    assert "`${approved}` is a JUEL expression; write `approved == True`" in r.output
    assert "bad.bpmn:" in r.output and "Traceback" not in r.output


def test_missing_file_and_bad_arguments(run):
    r = run("deploy", "no/such/file.bpmn")
    assert r.exit_code == 1 and "no such file or folder" in r.output
    r = run("user", "add", "x", "--password", "long-enough")
    assert r.exit_code == 2 and "--roles" in r.output
    assert run("frobnicate").exit_code == 2


def test_unknown_role_or_region_is_refused_with_the_valid_choices(run):
    run("db", "upgrade")
    run("region", "add", "north", "Pohjoinen")
    r = run("user", "add", "x", "--roles", "nurze", "--regions", "north", "--password", "long-enough")
    assert r.exit_code == 1 and "nurse" in r.output
    r = run("user", "add", "x", "--roles", "nurse", "--regions", "mars", "--password", "long-enough")
    assert r.exit_code == 1 and "mars" in r.output


def test_demo_creates_cases_over_pathways_and_regions_through_the_services(run, tmp_path):
    r = run("demo", "--cases", "12")
    assert r.exit_code == 0, r.output
    assert "demo cases" in r.output
    import sqlalchemy as sa

    from orchestrator.store.db import make_engine
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.sqlite'}")
    with engine.connect() as conn:
        per_pathway = dict(conn.execute(sa.text("SELECT pathway, count(*) FROM cases GROUP BY pathway")).all())
        regions = conn.execute(sa.text("SELECT count(DISTINCT region) FROM cases")).scalar()
        started = conn.execute(sa.text("SELECT count(*) FROM events WHERE kind = 'case_started'")).scalar()
        handovers = conn.execute(sa.text("SELECT count(*) FROM case_links")).scalar()
    engine.dispose()
    assert sum(per_pathway.values()) == 12 + handovers  # handed-over clients get a new case
    assert len(per_pathway) >= 3 and regions >= 2
    assert started == sum(per_pathway.values())  # every case went through the real start service


def test_operator_changes_roles_disables_and_prints_the_access_report(run, tmp_path):
    run("db", "upgrade")
    run("deploy", str(ROOT / "processes"), str(ROOT / "forms"))
    run("region", "add", "north", "Pohjoinen")
    run("user", "add", "rita", "--roles", "referrer", "--regions", "north", "--password", "long-enough",
        "--organisation", "te_office")
    run("user", "add", "nina", "--roles", "nurse", "--regions", "north", "--password", "long-enough")
    assert run("user", "set-roles", "nina", "--roles", "nurse,doctor").exit_code == 0
    assert run("user", "set-roles", "nina").exit_code == 2
    assert run("user", "disable", "nobody").exit_code == 1
    from orchestrator.services import cases, tasks, users
    from orchestrator.services.env import Settings, bootstrap
    env = bootstrap(f"sqlite:///{tmp_path / 'cli.sqlite'}", Settings(outbox_log_path=str(tmp_path / "o.log")))
    nina = users.principal_for(env, "nina")
    assert nina.roles == {"nurse", "doctor"}
    case = cases.start_case(env, users.principal_for(env, "rita"), "unemployed_health_check", "north", {
        "client_ref": "AS-77", "referral_source": "te_office", "urgency": "normal", "reason": "x"})
    task = tasks.list_tasks(env, nina, tasks.TaskQuery())["items"][0]
    tasks.get_task(env, nina, task["id"])
    cases.get_case(env, nina, case["id"], "terveystarkastus")
    report = run("access-report", "AS-77")
    assert report.exit_code == 0
    lines = report.output.strip().splitlines()
    assert lines[0] == "Access to the data of client AS-77: 2 event(s)"
    assert "nina" in lines[1] and "open_task" in lines[1] and "nina" in lines[2] and "terveystarkastus" in lines[2]
    assert run("user", "disable", "nina").exit_code == 0
    assert users.principal_for(env, "nina") is None  # a disabled account cannot act
    env.engine.dispose()


def test_upgrading_a_database_from_0001_fills_the_measure_counts_from_its_tasks(run, tmp_path):
    from orchestrator.services import measure_counts
    from orchestrator.services.env import Settings, bootstrap
    from orchestrator.store.migrate import downgrade

    assert run("demo", "--cases", "12").exit_code == 0
    env = bootstrap(f"sqlite:///{tmp_path / 'cli.sqlite'}", Settings(outbox_log_path=str(tmp_path / "o.log")))
    kept = measure_counts.snapshot(env)
    assert sum(n for key, n in kept.items() if key.metric == "started") >= 12
    downgrade(env.engine, "0001")  # back to the schema before the counts existed
    r = run("db", "upgrade")
    assert r.exit_code == 0 and f"measure counts rebuilt from the task index: {len(kept)} rows" in r.output
    assert measure_counts.snapshot(env) == kept
    assert "measure counts rebuilt" not in run("db", "upgrade").output  # only when coming from 0001
    r = run("db", "rebuild-measures")
    assert r.exit_code == 0 and f"measure counts rebuilt: {len(kept)} rows" in r.output
    assert measure_counts.snapshot(env) == kept
    env.engine.dispose()
