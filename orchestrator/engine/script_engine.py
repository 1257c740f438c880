"""The script engine SpiffWorkflow calls for every expression: allow-listed, no scripts.

SpiffWorkflow evaluates expressions on two paths: the engine's ``evaluate(task, …)`` (gateway
conditions, timers, multi-instance cardinality …) and, for a few constructs, the engine's
``environment.evaluate(expression, context)`` directly — an ad-hoc subprocess's
``completionCondition``, ``check_condition`` of standard loops and multi-instance tasks, and
message correlation ``retrievalExpression``s. The library's own environment is plain ``eval``.
So the lock is put on the environment itself: ``AllowListEnvironment`` is the only thing
either path can reach, and it interprets with ``expressions.compile_expression``.
"""
from __future__ import annotations

from collections.abc import Mapping

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import WorkflowException

from .expressions import (
    Expression,
    ExpressionError,
    compile_expression,
    is_iso_timer_literal,
    simple_reference,
)
from .timer_checks import localize_timer_text


class ScriptRefusedError(WorkflowException):
    pass


class AllowListEnvironment(BasePythonScriptEngineEnvironment):
    """Every ``evaluate`` goes through the allow-listed interpreter; ``execute`` never runs.

    Raises ``ExpressionError`` for anything outside the allow-list, whichever library path
    asked, so no designer-written text reaches ``eval`` or ``exec``.
    """

    def __init__(self) -> None:
        super().__init__({})
        self._cache: dict[str, Expression] = {}

    def compiled(self, text: str) -> Expression:
        found = self._cache.get(text)
        if found is None:
            found = self._cache[text] = compile_expression(text)
        return found

    def evaluate(self, expression: str, context: Mapping, external_context: Mapping | None = None) -> object:
        data = dict(external_context or {})
        data.update(context or {})
        return self.compiled((expression or "").strip()).evaluate(data)

    def execute(self, script, context, external_context=None):
        raise ScriptRefusedError("Polku does not run scripts written in a diagram")

    def call_service(self, context, **kwargs):
        raise ScriptRefusedError("service tasks are run by Polku's handler registry")


class PolkuScriptEngine(PythonScriptEngine):
    """Evaluates designer expressions through ``AllowListEnvironment``.

    * A plain ISO-8601 timer text (``P3D``, ``R/P6W``, a date) is returned as written, so
      designers write timers the way Camunda Modeler does, without Python quoting.
    * ``execute`` (script tasks, pre/post scripts) always refuses: deploy rejects them, and
      this is the second lock on the same door.
    * ``call_service`` refuses too: service tasks are external tasks run by the service
      layer through the handler registry, not by the library's masked ``call_service``.
    """

    environment: AllowListEnvironment

    def __init__(self) -> None:
        super().__init__(environment=AllowListEnvironment())

    def validate(self, expression: str) -> None:
        if not is_iso_timer_literal(expression):
            compile_expression(expression)

    def evaluate(self, task, expression, external_context=None):
        text = (expression or "").strip()
        if is_iso_timer_literal(text):
            return localize_timer_text(text)  # a naive time in a timer is Finnish time
        ref = simple_reference(text)
        if ref:  # ${reminder_at} in a timer: the value of that case-data field
            return localize_timer_text(task.data.get(ref))
        try:
            return self.environment.evaluate(text, task.data, external_context)
        except ExpressionError as exc:
            raise WorkflowTaskException(str(exc), task=task, exception=exc) from None

    def execute(self, task, script, external_context=None):
        raise ScriptRefusedError("Polku does not run scripts written in a diagram")

    def call_service(self, task, **kwargs):
        raise ScriptRefusedError("service tasks are run by Polku's handler registry")


SCRIPT_ENGINE = PolkuScriptEngine()
