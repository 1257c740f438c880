"""How a finished case ended: its final end event, the outcome it names, the handover it asks for."""
from __future__ import annotations

from string import Template

from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .parser import attrs, label


def final_end(workflow: BpmnWorkflow):
    """The end event that ended the case: the last one reached that declares an outcome
    (a side branch such as a sent reminder ends without one), else the last one reached."""
    ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if isinstance(t.task_spec, EndEvent) and t.workflow is workflow]
    if not ends and workflow.completed:  # an interrupting event subprocess ended the case
        ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if isinstance(t.task_spec, EndEvent)]
    ends.sort(key=lambda t: t.last_state_change)
    for task in reversed(ends):
        if attrs(task.task_spec).get("properties", {}).get("outcome"):
            return task
    return ends[-1] if ends else None


def outcome(workflow: BpmnWorkflow) -> str | None:
    """The ``outcome`` property of the final end event (``$field`` filled from the case
    data, e.g. ``$employment_type``), else its name."""
    end = final_end(workflow)
    if end is None:
        return None
    value = attrs(end.task_spec).get("properties", {}).get("outcome")
    if value:
        try:  # strict: an unfilled $field gives no outcome text, not the literal placeholder
            filled = Template(value).substitute({k: "" if v is None else v for k, v in end.data.items()})
        except (KeyError, ValueError):
            filled = ""
        if filled.strip():
            return filled.strip()
    return label(end.task_spec)


def handover_to(workflow: BpmnWorkflow) -> str | None:
    """The pathway the final end event hands the client over to (``handover_to``), if any."""
    end = final_end(workflow)
    if end is None:
        return None
    return (attrs(end.task_spec).get("properties", {}).get("handover_to") or "").strip() or None
