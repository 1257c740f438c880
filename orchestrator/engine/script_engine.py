"""The script engine SpiffWorkflow calls for every expression: allow-listed, no scripts."""
from __future__ import annotations

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from .expressions import ExpressionError, compile_expression, is_iso_timer_literal, simple_reference
from .timers_mi import localize_timer_text


class ScriptRefusedError(WorkflowTaskException):
    pass


class PolkuScriptEngine(PythonScriptEngine):
    """Evaluates designer expressions with ``expressions.compile_expression``.

    * A plain ISO-8601 timer text (``P3D``, ``R/P6W``, a date) is returned as written, so
      designers write timers the way Camunda Modeler does, without Python quoting.
    * ``execute`` (script tasks, pre/post scripts) always refuses: deploy rejects them, and
      this is the second lock on the same door.
    * ``call_service`` refuses too: service tasks are external tasks run by the service
      layer through the handler registry, not by the library's masked ``call_service``.
    """

    def __init__(self) -> None:
        super().__init__(environment=None)
        self._cache: dict[str, object] = {}

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
        compiled = self._cache.get(text)
        try:
            if compiled is None:
                compiled = self._cache[text] = compile_expression(text)
            data = dict(task.data)
            if external_context:
                data.update(external_context)
            return compiled.evaluate(data)
        except ExpressionError as exc:
            raise WorkflowTaskException(str(exc), task=task, exception=exc) from None

    def execute(self, task, script, external_context=None):
        raise ScriptRefusedError("Polku does not run scripts written in a diagram", task=task)

    def call_service(self, task, **kwargs):
        raise ScriptRefusedError("service tasks are run by Polku's handler registry", task=task)


SCRIPT_ENGINE = PolkuScriptEngine()
