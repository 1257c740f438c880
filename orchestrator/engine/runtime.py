"""One case's workflow: start it, move it on, say what it waits for and how it ended.

Pure: no database, no web, no wall-clock reads of its own (``now`` is passed in; the one
exception is SpiffWorkflow's timer check, which reads the clock itself — tests move time
with time-machine).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from ..errors import ExecutionError
from . import endings, serializer, waits
from .deployment import ProcessModel
from .event_subprocesses import interrupt, settle_event_subprocesses
from .events import MessageWait, deliver_message, message_waits, throw_error
from .expressions import ExpressionError, compile_expression, simple_reference
from .loops import ALIVE, compact_loops, occurrence
from .parser import attrs
from .script_engine import SCRIPT_ENGINE
from .stuck import Stuck, find_stuck
from .waits import HumanTask, ServiceCall, Step, Timer

# service task → handler → next service task … a loop beyond this is a model bug
MAX_SERVICE_ROUNDS = 200


class CaseRuntime:
    def __init__(self, model: ProcessModel, workflow: BpmnWorkflow):
        self.model = model
        self.workflow = workflow
        # What the caller last persisted of this case (open human task ids, timers), so a
        # saver can write only what changed; ``mark_persisted`` updates it.
        # Keyed by (engine task id, occurrence): a loop rewinds a task without changing its id.
        self.persisted_tasks: frozenset[tuple[str, int]] = frozenset()
        self.persisted_timers: frozenset[tuple[str, datetime, int]] = frozenset()

    def open_task_ids(self) -> frozenset[str]:
        return frozenset(str(t.id) for t in self.workflow.get_tasks(state=TaskState.READY, manual=True))

    def open_task_keys(self) -> frozenset[tuple[str, int]]:
        return frozenset((str(t.id), occurrence(t)) for t in self.workflow.get_tasks(state=TaskState.READY, manual=True))

    def timer_keys(self) -> frozenset[tuple[str, datetime, int]]:
        return frozenset(t.key for t in self.timers())

    def mark_persisted(self, humans: list[HumanTask] | None = None, timers: list[Timer] | None = None) -> None:
        self.persisted_tasks = (frozenset(h.key for h in humans) if humans is not None
                                else self.open_task_keys())
        self.persisted_timers = (frozenset(t.key for t in timers) if timers is not None
                                 else self.timer_keys())

    # -- life cycle ------------------------------------------------------------------
    @classmethod
    def start(cls, model: ProcessModel, data: dict) -> tuple[CaseRuntime, list[Step]]:
        wf = BpmnWorkflow(model.spec, model.subprocess_specs, script_engine=SCRIPT_ENGINE)
        data = _with_initiator(model, data)
        for task in wf.get_tasks(state=TaskState.READY):
            task.data.update(data)
        rt = cls(model, wf)
        return rt, rt.run()

    @classmethod
    def load(cls, model: ProcessModel, state: str) -> CaseRuntime:
        """Restore a saved case; what it holds now is, by definition, what was persisted."""
        rt = cls(model, serializer.loads(state, model.spec, model.subprocess_specs))
        rt.mark_persisted()
        return rt

    def dumps(self) -> str:
        return serializer.dumps(self.workflow)

    def _alive(self) -> frozenset:
        return frozenset(t.id for t in self.workflow.get_tasks(state=ALIVE))

    def run(self, seen: frozenset | None = None) -> list[Step]:
        """Run the engine to its next waits; ``seen`` are the tasks alive before this move
        (what people may already see: loop compaction re-creates none of them)."""
        seen = self._alive() if seen is None else seen
        steps: list[Step] = []

        def did_complete(task) -> None:
            if getattr(task.task_spec, "bpmn_id", None) and task.has_state(TaskState.COMPLETED):
                steps.append(Step.of(task.task_spec))

        if self.model.event_subprocesses:
            # a trigger caught just now (a message delivered, a timer fired) interrupts before
            # the rest of the scope takes another step
            interrupt(self.workflow, self.model.event_subprocesses)
        self._guard(lambda: self.workflow.do_engine_steps(did_complete_task=did_complete))
        rerun = compact_loops(self.workflow, self._guard, seen)
        if rerun is not None:
            first = len(steps)
            self._guard(lambda: self.workflow.do_engine_steps(did_complete_task=did_complete))
            rerun_ids = {getattr(spec, "bpmn_id", None) for spec in rerun}
            # the routing a rewind re-ran was reported once already
            steps[first:] = [s for s in steps[first:] if s.element_id not in rerun_ids]
        if settle_event_subprocesses(self.workflow, self.model.event_subprocesses):
            self._guard(lambda: self.workflow.do_engine_steps(did_complete_task=did_complete))
        return steps

    def _guard(self, action: Callable[[], object]) -> object:
        try:
            return action()
        except SpiffWorkflowException as exc:
            task = getattr(exc, "task", None)
            spec = getattr(task, "task_spec", None) if task is not None else getattr(exc, "task_spec", None)
            where = getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)
            trace = list(getattr(exc, "task_trace", []) or ([where] if where else []))
            message = str(exc).rstrip(". ")
            if "No conditions satisfied" in message or "no outgoing" in message.lower():
                message = _no_way_on(spec, task)
            raise ExecutionError(f"{where + ': ' if where else ''}{message}", trace) from None
        except ExpressionError as exc:
            raise ExecutionError(str(exc)) from None

    # -- what is waiting -------------------------------------------------------------
    def human_tasks(self, now: datetime) -> list[HumanTask]:
        return waits.human_tasks(self.workflow, self.model, now)

    def service_calls(self) -> list[ServiceCall]:
        return waits.service_calls(self.workflow)

    def timers(self) -> list[Timer]:
        return waits.timers(self.workflow, self.model)

    def message_waits(self) -> list[MessageWait]:
        return message_waits(self.workflow)

    def send_message(self, name: str, data: dict) -> tuple[list[MessageWait], list[Step]]:
        """Deliver message ``name`` with ``data``; no waits caught it ⇒ ([], []) and nothing changed."""
        caught = self._guard(lambda: deliver_message(self.workflow, name, data))
        if not caught:
            return [], []
        return caught, self.run()

    def throw_error(self, task_id: str, code: str, data: dict | None) -> list[Step] | None:
        """A handler's BPMN error at its service task: the error boundary's path, or None if none catches it."""
        task = self._task(task_id)
        if task is None or task.state != TaskState.STARTED:
            raise ExecutionError(f"service task {task_id} is not running")
        if not self._guard(lambda: throw_error(task, code, data)):
            return None
        return self.run()

    # -- moving on -------------------------------------------------------------------
    def _task(self, task_id: str):
        try:
            return self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, TypeError, TaskNotFoundException):
            return None

    def complete_human(self, task_id: str, data: dict) -> list[Step]:
        task = self._task(task_id)
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise ExecutionError(f"task {task_id} is not waiting for input")
        task.data.update(data)
        outputs = attrs(task.task_spec).get("outputs", {})
        for name, text in outputs.items():
            task.data[name] = _output_value(text, task.data)
        spec, seen = task.task_spec, self._alive()
        self._guard(task.run)
        return [Step.of(spec), *self.run(seen)]

    def complete_service(self, task_id: str, result: dict | None) -> list[Step]:
        task = self._task(task_id)
        if task is None or task.state != TaskState.STARTED:
            raise ExecutionError(f"service task {task_id} is not running")
        if result:
            task.data.update(result)
        spec, seen = task.task_spec, self._alive()
        self._guard(task.complete)
        return [Step.of(spec), *self.run(seen)]

    def fire_timers(self) -> list[Step]:
        seen, before = self._alive(), self.timers()
        self._guard(self.workflow.refresh_timers)
        steps = self.run(seen)
        # A cycle timer that fires stays waiting for its next cycle and completes nothing, so
        # the engine reports no step: name the firing itself, or the case would not be saved.
        after = self.timer_keys()
        fired = [Step(t.element_id, t.name, "TimerEvent") for t in before
                 if t.key not in after and t.due_at <= datetime.now(UTC)]
        reported = {s.element_id for s in steps}
        return [s for s in fired if s.element_id not in reported] + steps

    def set_data(self, values: dict) -> None:
        """Change case data where the case now waits (what later steps inherit)."""
        for task in self.workflow.get_tasks(state=ALIVE):
            task.data.update(values)

    # -- state -----------------------------------------------------------------------
    @property
    def completed(self) -> bool:
        return bool(self.workflow.completed)

    def stuck(self) -> Stuck | None:
        """Where the case stopped for good, if nothing in it can ever move again (engine/stuck.py)."""
        return find_stuck(self.workflow)

    def data(self) -> dict:
        """The case data as people see it: the last completed step's data merged with the open ones'."""
        merged: dict = {}
        if self.workflow.last_task is not None:
            merged.update(self.workflow.last_task.data)
        for task in self.workflow.get_tasks(state=ALIVE):
            merged.update(task.data)
        return merged

    def outcome(self) -> str | None:
        """The ``outcome`` property of the final end event, else its name (engine/endings.py)."""
        return endings.outcome(self.workflow)

    def handover_to(self) -> str | None:
        """The pathway the final end event hands the client over to, if any (engine/endings.py)."""
        return endings.handover_to(self.workflow)

    def current_steps(self, humans: list[HumanTask] | None = None, calls: list[ServiceCall] | None = None,
                      timers: list[Timer] | None = None, messages: list[MessageWait] | None = None) -> list[str]:
        """Where the case waits: human tasks, service tasks, intermediate timers and messages (ids, in order).

        Callers that already listed the waits pass them in, to walk the task tree only once.
        """
        humans = self.human_tasks(datetime.now(UTC)) if humans is None else humans
        calls = self.service_calls() if calls is None else calls
        timers = self.timers() if timers is None else timers
        steps = [t.element_id for t in humans] + [c.element_id for c in calls]
        steps += [t.element_id for t in timers if not t.boundary]
        steps += [m.element_id for m in (self.message_waits() if messages is None else messages) if m.shown_as_step]
        return list(dict.fromkeys(steps))


def _with_initiator(model: ProcessModel, data: dict) -> dict:
    """``${initiator}`` and a start event's ``camunda:initiator="x"`` name the user who started
    the case (Camunda 7 sets the variable only when the start event declares it)."""
    started_by = data.get("started_by")
    if started_by is None:
        return data
    result = {"initiator": started_by, **data}
    for ts in model.spec.task_specs.values():
        name = (attrs(ts).get("initiator") or "").strip() if isinstance(ts, StartEvent) else ""
        if name:
            result.setdefault(name, started_by)
    return result


def _no_way_on(spec, task) -> str:
    """Why a gateway found no way on, in words a user can act on: which fields it reads."""
    name = getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", "a gateway")
    names: set[str] = set()
    for condition, _target in getattr(spec, "cond_task_specs", []) or []:
        source = condition.args[0] if getattr(condition, "args", None) else condition
        try:
            names |= compile_expression(str(source)).names
        except ExpressionError:
            continue
    data = dict(task.data) if task is not None else {}
    empty = sorted(n for n in names if data.get(n) in (None, "", []))
    if empty:
        return f"'{name}' cannot decide how to continue: {', '.join(empty)} is empty — fill it in"
    values = ", ".join(f"{n} = {data.get(n)!r}" for n in sorted(names))
    return f"'{name}' cannot decide how to continue: none of its conditions holds ({values})"


def _output_value(text: str, data: dict) -> object:
    ref = simple_reference(text)
    if ref:
        return data.get(ref)
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        return text
