"""Event subprocesses as BPMN runs them, where SpiffWorkflow 3.2.0 does not.

* An interrupting event subprocess whose start event has caught its trigger (a message, a
  timer, an escalation …) cancels the rest of its scope (Spiff runs it beside the main path).
* When the rest of a scope has ended, its event subprocesses that are only listening stop
  (Spiff keeps them listening, so a case with a daily reminder subprocess never completes).
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .loops import ALIVE
from .parser import attrs


def settle_event_subprocesses(workflow: BpmnWorkflow, event_subprocesses: frozenset[str]) -> int:
    """Apply both rules; returns how many tasks changed (then run engine steps again)."""
    if not event_subprocesses:
        return 0
    return interrupt(workflow, event_subprocesses) + _close_idle(workflow, event_subprocesses)


_CAUGHT = TaskState.READY | TaskState.STARTED | TaskState.COMPLETED


def _idle_listener(task) -> bool:
    """Inside an event subprocess: its start event still waiting, or the join of fired rounds."""
    return isinstance(task.task_spec, StartEvent | _EndJoin) and task.has_state(TaskState.WAITING)


def _interrupting_and_caught(workflow: BpmnWorkflow, task) -> bool:
    """``task`` runs an event subprocess whose interrupting start event has caught its trigger."""
    sub = workflow.subprocesses.get(task.id)
    return sub is not None and any(
        isinstance(t.task_spec, StartEvent) and attrs(t.task_spec).get("interrupting", True)
        for t in sub.get_tasks(state=_CAUGHT, skip_subprocesses=True))


def interrupt(workflow: BpmnWorkflow, event_subprocesses: frozenset[str]) -> int:
    """An interrupting event subprocess that has caught its trigger cancels the rest of its
    scope, whatever the trigger was (BPMN, Camunda 7; SpiffWorkflow 3.2.0 runs it beside the
    main path instead). Returns how many tasks it cancelled."""
    interrupted = 0
    for task in workflow.get_tasks(state=TaskState.STARTED):
        if getattr(task.task_spec, "bpmn_id", None) not in event_subprocesses \
                or not _interrupting_and_caught(workflow, task):
            continue
        _own_end_join(task)
        for other in task.workflow.get_tasks(state=ALIVE, skip_subprocesses=True):
            if other is not task and other.has_state(ALIVE) and not isinstance(other.task_spec, _EndJoin) \
                    and not other.is_descendant_of(task):
                other.cancel()
                interrupted += 1
    return interrupted


def _own_end_join(task) -> None:
    """An event subprocess the library started from its trigger list (a message start) is a
    task nobody predicted: it has no way on to the scope's end join, which lived on the path
    the interruption cancels, so without its own one the case would never end."""
    if task.children:
        return
    task._sync_children(task.task_spec.outputs, TaskState.FUTURE)
    for end in task.children:
        end.task_spec._predict(end, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)


def interrupted(workflow: BpmnWorkflow) -> bool:
    """An interrupting event subprocess of the process itself has caught its trigger: the
    process listens for nothing else."""
    return any(_interrupting_and_caught(workflow, child) for child in workflow.task_tree.children)


def _close_idle(workflow: BpmnWorkflow, event_subprocesses: frozenset[str]) -> int:
    """BPMN ends a scope's event subprocesses when the rest of the scope has ended; Spiff keeps
    them listening, so a case with a daily reminder subprocess would never complete."""
    closed = 0
    for task in workflow.get_tasks(state=TaskState.STARTED):
        if getattr(task.task_spec, "bpmn_id", None) not in event_subprocesses:
            continue
        scope = task.workflow
        sub = workflow.subprocesses.get(task.id)
        if sub is None or any(not _idle_listener(t) for t in sub.get_tasks(state=ALIVE)):
            continue
        others = [t for t in scope.get_tasks(state=ALIVE, skip_subprocesses=True)
                  if t is not task and not isinstance(t.task_spec, _EndJoin)]
        if any(getattr(t.task_spec, "bpmn_id", None) not in event_subprocesses
               or workflow.subprocesses.get(t.id) is None for t in others):
            continue
        task.cancel()
        for join in scope.get_tasks(state=TaskState.WAITING, skip_subprocesses=True):
            if isinstance(join.task_spec, _EndJoin):
                join.task_spec._update(join)
        closed += 1
    return closed
