"""Designer expressions: what evaluates, what is refused, and what the designer is told."""
from __future__ import annotations

import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from orchestrator.engine.expressions import (
    HELSINKI,
    MAX_SEQUENCE,
    ExpressionError,
    compile_expression,
    is_iso_timer_literal,
    juel_hint,
    simple_reference,
)
from orchestrator.engine.script_engine import SCRIPT_ENGINE, ScriptRefusedError


def ev(source: str, **data):
    return compile_expression(source).evaluate(data)


# -- what designers write evaluates the way they expect --------------------------------------

@pytest.mark.parametrize(("source", "data", "expected"), [
    ("score < 5", {"score": 3}, True),
    ("score < 5", {"score": 7}, False),
    ("1 < score <= 10", {"score": 10}, True),
    ("decision == 'doctor_needed'", {"decision": "doctor_needed"}, True),
    ("decision != 'doctor_needed'", {"decision": "fit_for_work"}, True),
    ("urgent == True and score < 5", {"urgent": True, "score": 4}, True),
    ("urgent == True and score < 5", {"urgent": False, "score": 4}, False),
    ("urgent or score < 5", {"urgent": False, "score": 9}, False),
    ("not approved", {"approved": False}, True),
    ("'P2D' if urgency == 'urgent' else 'P7D'", {"urgency": "urgent"}, "P2D"),
    ("'P2D' if urgency == 'urgent' else 'P7D'", {"urgency": "normal"}, "P7D"),
    ("'sleep' in health_concerns", {"health_concerns": ["sleep", "other"]}, True),
    ("'sleep' not in health_concerns", {"health_concerns": ["other"]}, True),
    ("decision in ['fit_for_work', 'refer_network']", {"decision": "refer_network"}, True),
    ("len(health_concerns) >= 2", {"health_concerns": ["a", "b"]}, True),
    ("max(score, 3) + abs(-2)", {"score": 1}, 5),
    ("true and not false", {}, True),
])
def test_allowed_expressions_evaluate_like_python(source, data, expected):
    assert ev(source, **data) == expected


def test_a_name_the_case_data_does_not_hold_is_none():
    # So a condition like `rebooked != True` works before anyone has set `rebooked`.
    assert ev("rebooked") is None
    assert ev("rebooked != True") is True
    assert ev("rebooked == None") is True


def test_compiled_expression_lists_the_case_data_names_it_reads():
    assert compile_expression("urgency == 'urgent' and add_days(appointment_at, -3) < now()").names == {
        "urgency", "appointment_at"}


def test_add_days_gives_utc_iso_and_reads_naive_times_as_helsinki_time():
    # 10:00 in Helsinki in December (EET, UTC+2) is 08:00 UTC; three days earlier.
    assert ev("add_days('2026-12-10T10:00', -3)") == "2026-12-07T08:00:00+00:00"
    # In summer Helsinki is UTC+3.
    assert ev("add_days('2026-06-10T10:00', 1)") == "2026-06-11T07:00:00+00:00"
    # An explicit offset is kept as written.
    assert ev("add_days(t, 2)", t="2026-12-10T10:00:00+00:00") == "2026-12-12T10:00:00+00:00"


def test_add_days_across_the_clock_change_keeps_the_finnish_wall_clock_time():
    # Summer time ends on 25 Oct 2026. Three days before 10:00 on 26 Oct is 10:00 on 23 Oct
    # Helsinki time (then UTC+3) -- a reminder does not shift by an hour.
    result = datetime.fromisoformat(ev("add_days('2026-10-26T10:00', -3)"))
    assert result == datetime(2026, 10, 23, 7, 0, tzinfo=UTC)
    assert result.astimezone(HELSINKI).hour == 10


def test_add_days_refuses_a_non_number_and_a_non_date_with_a_readable_reason():
    with pytest.raises(ExpressionError, match="n must be a number"):
        ev("add_days('2026-12-10', 'three')")
    with pytest.raises(ExpressionError, match="not an ISO date"):
        ev("add_days('ensi tiistaina', 1)")


def test_evaluation_errors_become_expression_errors_naming_the_expression():
    with pytest.raises(ExpressionError, match=r"cannot evaluate 'score < 5'"):
        ev("score < 5", score="kolme")
    with pytest.raises(ExpressionError, match="cannot evaluate"):
        ev("1 / score", score=0)


# -- refused: escapes, code, blow-ups -------------------------------------------------------

@pytest.mark.parametrize(("source", "reason"), [
    ("().__class__.__base__.__subclasses__()", "not allowed"),
    ("__import__('os')", "'__import__' is not allowed"),
    ("open('x')", "calling 'open' is not allowed"),
    ("eval('1')", "calling 'eval' is not allowed"),
    ("decision.upper()", "not allowed"),
    ("client.__dict__", r"attribute access \(client.__dict__\) is not allowed"),
    ("(lambda: 1)()", "not allowed"),
    ("lambda: 1", "Lambda is not allowed"),
    ("[x for x in items]", "ListComp is not allowed"),
    ("{k: 1 for k in items}", "DictComp is not allowed"),
    ("2 ** 10", "operator Pow is not allowed"),
    ("_secret == 1", "names may not start with '_'"),
    ("__builtins__", "names may not start with '_'"),
    ("len", r"len is a function; call it as len\(…\)"),
    ("round(x, ndigits=2)", "keyword arguments are not allowed"),
    ("items[1:3]", "slices are not allowed"),
    ("f'{x}'", "JoinedStr is not allowed"),
    ("(y := 1)", "NamedExpr is not allowed"),
    ("b'bytes' == x", "constant b'bytes' is not allowed"),
    ("1 << 100", "operator LShift is not allowed"),
    ("", "the expression is empty"),
    ("score <", "syntax error"),
])
def test_refused_expressions_say_why(source, reason):
    with pytest.raises(ExpressionError, match=reason):
        compile_expression(source)


def peak_bytes_while(action) -> int:
    """Peak Python memory allocated while ``action`` runs (it is expected to raise ExpressionError)."""
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionError, match="too long"):
            action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_string_blow_up_is_refused_before_the_string_is_built():
    expr = compile_expression("'a' * 100000000")  # compiles: it is only multiplication
    assert peak_bytes_while(lambda: expr.evaluate({})) < 1_000_000
    with pytest.raises(ExpressionError, match="too long"):
        ev("[0] * 100000000")
    with pytest.raises(ExpressionError, match="too long"):
        ev("100000000 * name", name="ab")


def test_repeated_growth_is_capped_at_max_sequence():
    assert len(ev("'a' * n", n=MAX_SEQUENCE)) == MAX_SEQUENCE
    with pytest.raises(ExpressionError, match="too long"):
        ev("'a' * n + 'a'", n=MAX_SEQUENCE)
    with pytest.raises(ExpressionError, match="too long"):
        ev("[1] * 10000 * 10000")


def test_printf_width_blow_up_is_refused_before_the_string_is_built():
    expr = compile_expression("'%50000000s' % 'x'")
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionError, match="numbers only"):
            expr.evaluate({})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_round_with_a_huge_negative_precision_is_refused_promptly():
    code = ("from orchestrator.engine.expressions import compile_expression, ExpressionError\n"
            "try:\n"
            "    compile_expression('round(1, -1000000000)').evaluate({})\n"
            "except ExpressionError:\n"
            "    print('refused')\n")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail("round(1, -1000000000) was still computing after 5 s")
    assert out.stdout.strip() == "refused", out.stderr


def test_a_long_but_flat_sum_is_refused_as_an_expression_error_not_a_crash():
    with pytest.raises(ExpressionError):
        compile_expression(" + ".join(["score"] * 2000) + " > 5")


# -- Camunda habits: JUEL --------------------------------------------------------------------

def test_juel_condition_is_refused_with_the_python_to_write_instead():
    with pytest.raises(ExpressionError) as info:
        compile_expression("${approved}")
    assert str(info.value) == "`${approved}` is a JUEL expression; write `approved == True`"


@pytest.mark.parametrize(("source", "suggestion"), [
    ("${approved}", "approved == True"),
    ("#{approved}", "approved == True"),
    ("${score < 5 && urgent}", "score < 5 and urgent"),
    ("${!approved || score > 3}", "not approved or score > 3"),
    ("${decision != 'x'}", "decision != 'x'"),
])
def test_juel_hint_translates_the_common_operators(source, suggestion):
    assert juel_hint(source) == f"`{source}` is a JUEL expression; write `{suggestion}`"


def test_plain_python_gets_no_juel_hint():
    assert juel_hint("approved == True") is None
    assert juel_hint("'$5 fee' == label") is None


def test_simple_reference_is_the_one_juel_form_accepted_for_assignee_and_due_date():
    assert simple_reference("${client_lead}") == "client_lead"
    assert simple_reference("  ${ client_lead }  ") == "client_lead"
    assert simple_reference("${a.b}") is None
    assert simple_reference("client_lead") is None


# -- ISO timer literals, written without quotes as the modeller writes them ------------------

@pytest.mark.parametrize("text", [
    "P3D", "PT1H", "PT1H30M", "P1Y2M", "P6W", "PT0.5S", " P7D ", "R/P6W", "R3/PT10M",
    "2026-12-10", "2026-12-10T10:00", "2026-12-10T10:00:00Z", "2026-12-10T10:00:00+02:00",
])
def test_iso_timer_literals_are_recognised(text):
    assert is_iso_timer_literal(text)


@pytest.mark.parametrize("text", ["P", "PT", "P1.5D", "PT1H30", "3 days", "add_days(appointment_at, -3)",
                                  "'P3D'", "10.12.2026", "2026-13"])
def test_non_iso_text_is_not_a_timer_literal(text):
    assert not is_iso_timer_literal(text)


# -- the script engine SpiffWorkflow calls is the same allow-list --------------------------

class _Task:
    """Just enough of a SpiffWorkflow task for the script engine."""

    def __init__(self, **data):
        self.data = data
        self.task_spec = SimpleNamespace(name="Task_X", bpmn_id="Task_X", bpmn_name="X")
        self.workflow = SimpleNamespace(spec=SimpleNamespace(file="test.bpmn"))
        self.workflow.top_workflow = self.workflow


def test_script_engine_evaluates_with_the_allow_list_and_refuses_scripts():
    task = _Task(score=3)
    assert SCRIPT_ENGINE.evaluate(task, "P3D") == "P3D"
    assert SCRIPT_ENGINE.evaluate(task, "score < 5") is True
    with pytest.raises(WorkflowTaskException, match="not allowed"):
        SCRIPT_ENGINE.evaluate(task, "().__class__.__base__.__subclasses__()")
    with pytest.raises(ExpressionError, match="not allowed"):
        SCRIPT_ENGINE.validate("__import__('os').system('true')")
    with pytest.raises(ScriptRefusedError, match="does not run scripts"):
        SCRIPT_ENGINE.execute(task, "import os")
    with pytest.raises(ScriptRefusedError, match="handler registry"):
        SCRIPT_ENGINE.call_service(task, operation_name="x")
