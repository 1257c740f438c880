"""``run.py message NAME --case ID --data JSON``: exit 0 and what moved; 1 when nothing or
several cases wait; 2 on bad arguments such as invalid JSON."""
from __future__ import annotations

import pytest

from orchestrator.services import cases, users
from orchestrator.services.env import bootstrap

from .conftest import cli_invoker
from .engine import message_diagrams as md


@pytest.fixture
def run(tmp_path):
    invoke = cli_invoker(tmp_path)
    assert invoke("db", "upgrade").exit_code == 0
    diagram = tmp_path / "message_catch.bpmn"
    diagram.write_text(md.catch_process(), encoding="utf-8")
    assert invoke("deploy", str(diagram)).exit_code == 0
    assert invoke("region", "add", "north", "Pohjoinen").exit_code == 0
    assert invoke("user", "add", "nina", "--roles", "nurse", "--regions", "north", "--password", "long-enough").exit_code == 0
    invoke.env = bootstrap(invoke.url)
    yield invoke
    invoke.env.engine.dispose()


def start(run, client_ref: str = "AS-5") -> int:
    nina = users.principal_for(run.env, "nina")
    return cases.start_case(run.env, nina, "message_catch", "north", {}, client_ref)["id"]


def test_the_operator_sends_a_message_and_sees_what_moved(run):
    case_id = start(run)
    r = run("message", "payment_received", "--case", str(case_id), "--data", '{"amount": 120}')
    assert r.exit_code == 0, r.output
    assert f"case {case_id}" in r.output and "Maksu saapui (Event_Payment)" in r.output
    assert "Task_Review" in r.output
    assert cases.list_cases(run.env, None)[0]["current_steps"] == ["Task_Review"]


def test_nothing_waiting_or_several_waiting_exit_1_with_a_clear_message(run):
    case_id = start(run)
    r = run("message", "refund_received", "--case", str(case_id))
    assert r.exit_code == 1 and f"case {case_id} is not waiting for message 'refund_received'" in r.output
    start(run)
    r = run("message", "payment_received", "--client-ref", "AS-5", "--pathway", "message_catch")
    assert r.exit_code == 1 and "send it with case_id" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("args", [
    ["--case", "1", "--data", "{not json"],
    ["--case", "1", "--data", "[1, 2]"],
    ["--case", "1", "--data", '{"two words": 1}'],
    ["--data", "{}"],
])
def test_bad_arguments_exit_2_and_change_nothing(run, args):
    assert start(run) == 1  # the case the arguments name
    r = run("message", "payment_received", *args)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert cases.list_cases(run.env, None)[0]["current_steps"] == ["Event_Payment"]
