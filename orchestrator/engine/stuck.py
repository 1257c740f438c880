"""When a case can never move again: nothing in it waits for anyone or anything that can come.

A case moves only when a person completes a task, a timer fires, a message arrives or a
handler finishes. If none of those is pending and the workflow has not ended, the case is
*stuck*: SpiffWorkflow reports nothing (a parallel join waiting for a branch the exclusive
split never took just stays WAITING, a path that ends in a link throw leaves no task at all).

The decision is made from the task tree alone, so any wait a later version of Polku can
deliver from outside (messages via ``POST /api/messages``, timers via the worker …) counts
as soon as it is an event definition not listed in ``INTERNAL_EVENTS``.
"""
from __future__ import annotations

from dataclasses import dataclass

from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import CancelEventDefinition, NoneEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .loops import ALIVE
from .parser import label

# Events only the case itself can raise (a throw event, a data change inside a step, a
# failing subprocess). When nothing else in the case is alive, nothing will ever raise them.
# Polku has no outside way to deliver these; a kind that gains one must leave this list.
INTERNAL_EVENTS: tuple[type, ...] = (SignalEventDefinition, ConditionalEventDefinition, EscalationEventDefinition,
                                     ErrorEventDefinition, CancelEventDefinition, NoneEventDefinition)


@dataclass(frozen=True)
class Where:
    """A flow node named as staff and designers see it."""

    element_id: str
    name: str
    type: str


@dataclass(frozen=True)
class Stuck:
    """A case that can never move again: ``after`` completed last; ``blocked_at`` are the
    elements that wait for something that cannot come (a join, a signal nobody throws)."""

    after: Where
    blocked_at: tuple[Where, ...]

    def describe(self) -> str:
        text = (f"stuck after {self.after.name!r} ({self.after.element_id}): nothing waits for a person, "
                "a timer, a message or a handler")
        if self.blocked_at:
            text += "; " + ", ".join(f"{w.name!r} ({w.element_id})" for w in self.blocked_at) + \
                " waits for something that cannot come"
        return text


def find_stuck(workflow: BpmnWorkflow) -> Stuck | None:
    """The workflow's stuck point, or None while it has ended or still waits for something."""
    if workflow.completed:
        return None
    blocked = []
    for task in workflow.get_tasks_iterator(state=ALIVE):  # lazy: the first live task ends the walk
        if is_alive(task):
            return None
        if task.has_state(TaskState.WAITING) and not isinstance(task.task_spec, _EndJoin):
            where = _where(task)
            if where is not None and where not in blocked:
                blocked.append(where)
    return Stuck(_last_completed(workflow), tuple(blocked))


def is_alive(task) -> bool:
    """Whether something outside the engine will move this task on (see the module docstring)."""
    if task.has_state(TaskState.READY):
        return bool(task.task_spec.manual)  # a person's task; engine tasks were already run
    if task.has_state(TaskState.STARTED):
        return not _delegates(task)  # a handler is (or should be) working on it, incidents included
    if task.has_state(TaskState.WAITING):
        event = getattr(task.task_spec, "event_definition", None)
        return event is not None and _deliverable(event)
    return False


def _delegates(task) -> bool:
    """A STARTED task whose work is done by other tasks — a subprocess, or its loop/multi-instance
    instances — is alive only through them; a handler's task has only predicted children."""
    if task.workflow.top_workflow.subprocesses.get(task.id) is not None:
        return True
    return any(child.has_state(ALIVE | TaskState.COMPLETED) for child in task.children)


def _deliverable(event) -> bool:
    if isinstance(event, MultipleEventDefinition):
        return any(_deliverable(e) for e in event.event_definitions)
    return not isinstance(event, INTERNAL_EVENTS)


def _where(task) -> Where | None:
    spec = task.task_spec
    bpmn_id = getattr(spec, "bpmn_id", None)
    if not bpmn_id:
        return None
    return Where(bpmn_id, label(spec), type(spec).__name__)


def _last_completed(workflow: BpmnWorkflow) -> Where:
    # Not get_tasks(state=COMPLETED): that iterator does not descend below a task that is not
    # itself completed, so it misses what completed inside a running multi-instance.
    done = [t for t in workflow.get_tasks() if t.has_state(TaskState.COMPLETED) and _where(t) is not None]
    if not done:  # cannot happen once a start event ran; name the process rather than nothing
        spec = workflow.spec
        return Where(spec.name, getattr(spec, "description", None) or spec.name, "Process")
    last = max(done, key=lambda t: t.last_state_change)
    return _where(last)
