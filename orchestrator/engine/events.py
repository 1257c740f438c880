"""Messages a case waits for, delivering one, and BPMN errors a handler throws.

Pure engine code on a ``BpmnWorkflow``: no database, no web. Messages are matched by the
``name`` of their ``bpmn:message`` (as Camunda 7 correlates); which *case* gets a message is
the service layer's decision (case id, or client reference + pathway), so no correlation
expression of the diagram is ever evaluated (deploy refuses them, see ``message_checks``).
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass

from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, EventBasedGateway, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as AnyMessage
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

# The parser flavour's own class: SpiffWorkflow matches events by class *and* name.
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from .event_subprocesses import interrupted
from .parser import label

# SpiffWorkflow's Camunda flavour writes a caught message's payload into one case-data field;
# Polku merges the sent data into the case itself and leaves only this hidden marker there
# (names starting with "_" are never shown or accepted from outside).
MESSAGE_MARKER = "_message"


@dataclass(frozen=True)
class MessageWait:
    """One place where the case would move on if a message of this name arrived."""

    element_id: str   # the catch event, receive task, boundary event or event-subprocess start
    name: str         # the element's name (its id if unnamed)
    message: str      # the bpmn:message name a sender uses
    kind: str         # "catch" (intermediate event / receive task), "boundary", "gateway", "event_subprocess"
    task_id: str | None = None  # the waiting engine task (None for an event subprocess not yet started)

    @property
    def shown_as_step(self) -> bool:
        """A boundary or event subprocess only listens beside the real step; it is not one itself."""
        return self.kind in ("catch", "gateway")


def message_waits(workflow: BpmnWorkflow) -> list[MessageWait]:
    """Every message the case accepts now, in tree order, without duplicates."""
    found: dict[tuple[str, str], MessageWait] = {}
    for wait, _definition in _waits(workflow):
        found.setdefault((wait.element_id, wait.message), wait)
    return list(found.values())


def _waits(workflow: BpmnWorkflow) -> Iterator[tuple[MessageWait, AnyMessage]]:
    for task in workflow.get_tasks(state=TaskState.WAITING):
        spec = task.task_spec
        event = getattr(spec, "event_definition", None)
        if isinstance(spec, EventBasedGateway) and isinstance(event, MultipleEventDefinition):
            for branch, definition in zip(spec.outputs, event.event_definitions, strict=False):
                if isinstance(definition, AnyMessage):
                    yield MessageWait(branch.bpmn_id, label(branch), definition.name, "gateway", str(task.id)), definition
        elif isinstance(event, AnyMessage) and event.name:
            # an event subprocess's message start that is already listening is still that, not a catch
            kind = ("boundary" if isinstance(spec, BoundaryEvent) else
                    "event_subprocess" if isinstance(spec, StartEvent) else "catch")
            yield MessageWait(spec.bpmn_id, label(spec), event.name, kind, str(task.id)), event
    if not workflow.completed and not interrupted(workflow):
        # An event subprocess with a message start has no task until the message comes: the
        # library starts it from the process's trigger list (top level only, see message_checks).
        for spec_name in getattr(workflow.spec.start, "trigger_specs", []):
            sub = workflow.subprocess_specs.get(spec_name)
            for start in getattr(sub, "bpmn_start_events", []) if sub is not None else []:
                event = start.event_definition
                if isinstance(event, AnyMessage) and event.name:
                    yield MessageWait(start.bpmn_id, label(start), event.name, "event_subprocess"), event


def deliver_message(workflow: BpmnWorkflow, name: str, data: dict) -> list[MessageWait]:
    """Let every wait for ``name`` catch the message and give ``data`` to the paths it opens.

    Returns the waits that caught it (empty: nothing waited, and nothing changed). The caller
    runs the engine on afterwards; an interrupting event subprocess the message started
    cancels the rest of the case there (``event_subprocesses.interrupt``), as a timer's does.
    """
    matched = [(w, d) for w, d in _waits(workflow) if w.message == name]
    if not matched:
        return []
    ready_before = {t.id for t in workflow.get_tasks(state=TaskState.READY)}
    # The library matches events by class and name, and its Camunda parser gives receive tasks
    # the plain class but events the Camunda one: send once per class that waits.
    for cls in dict.fromkeys(type(d) for _w, d in matched):
        payload = {"payload": name, "result_var": MESSAGE_MARKER} if issubclass(cls, MessageEventDefinition) else {}
        workflow.send_event(BpmnEvent(cls(name), payload=payload))
    for wait, _d in matched:
        if wait.kind == "boundary":
            _rearm(workflow, wait.task_id)
    # The data goes onto the tasks the message made ready, *after* the catch: the library
    # merges a task's parent data over its own while it catches, which would undo it earlier.
    for task in workflow.get_tasks(state=TaskState.READY):
        if task.id not in ready_before and isinstance(task.task_spec, CatchingEvent):
            task.data.update(copy.deepcopy(data))
    return list(dict.fromkeys(w for w, _d in matched))


def _rearm(workflow: BpmnWorkflow, task_id: str | None) -> None:
    """A non-interrupting boundary listens again while its task is open, as in Camunda 7
    (SpiffWorkflow 3.2.0 catches it once per activation of the task)."""
    caught = next((t for t in workflow.get_tasks(state=TaskState.READY) if str(t.id) == task_id), None)
    if caught is None or caught.task_spec.cancel_activity or caught.parent is None:
        return
    split = caught.parent
    main = [t for t in split.children if not isinstance(t.task_spec, BoundaryEvent)]
    if not main or main[0].has_state(TaskState.FINISHED_MASK):
        return
    again = split._add_child(caught.task_spec, TaskState.WAITING)
    # predicted as the split predicts the first one: its path exists, as "maybe"
    again._sync_children(again.task_spec.outputs, TaskState.MAYBE)
    for child in again.children:
        child.task_spec._predict(child)
    again.task_spec._update(again)


def gateway_timer_branch(spec) -> object | None:
    """The timer branch of an event-based gateway (its catch event's spec), if it has one.

    The library moves the branches' event definitions onto the gateway, so the gateway task
    is what waits, and its deadline is the gateway task's ``event_value``.
    """
    event = getattr(spec, "event_definition", None)
    if not isinstance(spec, EventBasedGateway) or not isinstance(event, MultipleEventDefinition):
        return None
    for branch, definition in zip(spec.outputs, event.event_definitions, strict=False):
        if isinstance(definition, TimerEventDefinition):
            return branch
    return None


def error_boundary_for(task, code: str):
    """The waiting error boundary event on ``task`` that catches ``code``: one naming the
    code wins over a catch-all (an errorEventDefinition without errorRef)."""
    parent = task.parent
    if parent is None:
        return None
    catch_all = None
    for sibling in parent.children:
        spec = sibling.task_spec
        if (sibling is task or not isinstance(spec, BoundaryEvent) or sibling.state != TaskState.WAITING
                or not isinstance(spec.event_definition, ErrorEventDefinition)):
            continue
        if spec.event_definition.code == code:
            return sibling
        if spec.event_definition.code is None and catch_all is None:
            catch_all = sibling
    return catch_all


def throw_error(task, code: str, data: dict | None) -> bool:
    """Throw BPMN error ``code`` at a running service task; False if no boundary on it catches it."""
    boundary = error_boundary_for(task, code)
    if boundary is None:
        return False
    event = BpmnEvent(ErrorEventDefinition(code, code), payload=copy.deepcopy(data or {}))
    boundary.task_spec.catch(boundary, event)
    boundary.task_spec._update(boundary)
    return True


def message_names(spec, subprocess_specs: dict) -> dict[str, str]:
    """Element id → the message name it waits for, over the process and its subprocesses."""
    names: dict[str, str] = {}
    for wf_spec in [spec, *subprocess_specs.values()]:
        for ts in wf_spec.task_specs.values():
            event = getattr(ts, "event_definition", None)
            if isinstance(ts, EventBasedGateway) and isinstance(event, MultipleEventDefinition):
                for branch, definition in zip(ts.outputs, event.event_definitions, strict=False):
                    if isinstance(definition, AnyMessage) and definition.name:
                        names[branch.bpmn_id] = definition.name
            elif isinstance(event, AnyMessage) and event.name and getattr(ts, "bpmn_id", None):
                names.setdefault(ts.bpmn_id, event.name)
    return names
