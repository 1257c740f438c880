"""What a case waits for: its open human tasks, running service calls and timers.

Read from a ``BpmnWorkflow`` without changing it; ``CaseRuntime`` lists them for the
service layer, which turns them into inbox rows, handler runs and scheduled timers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from string import Template

from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, ServiceTask, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from ..errors import ExecutionError
from ..roles import role_for_name
from .deployment import ProcessModel
from .events import gateway_timer_branch
from .expressions import (
    ExpressionError,
    compile_expression,
    is_iso_timer_literal,
    simple_reference,
    to_datetime,
)
from .loops import occurrence
from .parser import attrs, label

CLIENT_LEAD = "client_lead"  # role key and case-data field of the asiakasvastaava


@dataclass(frozen=True)
class HumanTask:
    task_id: str
    element_id: str
    name: str
    role: str | None
    candidate_groups: tuple[str, ...]
    candidate_users: tuple[str, ...]
    assignee: str | None
    form_id: str | None
    due_at: datetime | None
    follow_up_at: datetime | None
    data: dict = field(repr=False, default_factory=dict)
    # How many times loop compaction rewound this engine task: a rewound task keeps its id,
    # so (task_id, occurrence) is what tells one round's inbox row from the next one's.
    occurrence: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return (self.task_id, self.occurrence)


@dataclass(frozen=True)
class ServiceCall:
    task_id: str
    element_id: str
    name: str
    topic: str
    params: dict
    data: dict = field(repr=False, default_factory=dict)
    # When the engine started this execution: stable across retries of the same execution,
    # different for each pass of a loop (a rewound loop may reuse the task id).
    started_at: float = 0.0
    occurrence: int = 0  # as HumanTask.occurrence: which pass of a loop this execution is

    @property
    def execution(self) -> str:
        """Names this execution for idempotency keys: the same across retries, different for
        each loop pass even when the clock did not move between passes."""
        return self.task_id if not self.occurrence else f"{self.task_id}#{self.occurrence}"


@dataclass(frozen=True)
class Timer:
    task_id: str
    element_id: str
    name: str
    due_at: datetime
    boundary: bool
    occurrence: int = 0

    @property
    def key(self) -> tuple[str, datetime, int]:
        return (self.task_id, self.due_at, self.occurrence)


@dataclass(frozen=True)
class Step:
    """A flow node the engine completed (the audit trail records each one)."""

    element_id: str
    name: str
    type: str

    @classmethod
    def of(cls, spec) -> Step:
        """The step a completed task of ``spec`` is (by its BPMN id, name and kind)."""
        return cls(spec.bpmn_id, label(spec), type(spec).__name__)


def render(text: str, data: dict) -> str:
    """Fill ``$name`` placeholders from case data; unknown names stay as written."""
    return Template(text).safe_substitute({k: "" if v is None else v for k, v in data.items()})


def human_tasks(workflow: BpmnWorkflow, model: ProcessModel, now: datetime) -> list[HumanTask]:
    """The tasks waiting for a person, with who may do them and when they are due."""
    result = []
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        a = attrs(task.task_spec)
        data = dict(task.data)
        groups = tuple(r for r in (role_for_name(g) for g in a.get("candidate_groups", [])) if r)
        element = model.elements.get(task.task_spec.bpmn_id)
        # inside a called process or subprocess, the lane Spiff gives the task is the truth
        # (element ids of a called process may repeat the caller's)
        inner = role_for_name(getattr(task.task_spec, "lane", None)) if task.workflow is not workflow else None
        role = groups[0] if groups else (inner or (element.role if element else None))
        try:
            assignee = _value(a.get("assignee"), data, literal_ok=True)
            if assignee in (None, "") and role == CLIENT_LEAD:
                # the one named professional of the case, not everyone with the role
                assignee = data.get(CLIENT_LEAD)
            due = _iso_to_due(_value(a.get("due_date"), data, literal_ok=False), now)
            follow = _iso_to_due(_value(a.get("follow_up_date"), data, literal_ok=False), now)
        except (ExpressionError, ValueError) as exc:
            raise ExecutionError(f"{task.task_spec.bpmn_id}: {exc}") from None
        result.append(HumanTask(
            str(task.id), task.task_spec.bpmn_id, label(task.task_spec),
            role, groups, tuple(a.get("candidate_users", [])),
            str(assignee) if assignee not in (None, "") else None, a.get("form_id"), due, follow, data,
            occurrence(task)))
    return result


def service_calls(workflow: BpmnWorkflow) -> list[ServiceCall]:
    """The service (and external send) tasks running now, each with its handler's parameters."""
    result = []
    for task in workflow.get_tasks(state=TaskState.STARTED):
        if isinstance(task.task_spec, ServiceTask):
            a = attrs(task.task_spec)
            data = dict(task.data)
            params = {k: render(v, data) for k, v in a.get("inputs", {}).items()}
            params.update({k: v for k, v in a.get("properties", {}).items() if k not in params})
            result.append(ServiceCall(str(task.id), task.task_spec.bpmn_id, label(task.task_spec),
                                      a.get("topic") or "", params, data, task.last_state_change,
                                      occurrence(task)))
    return result


def timers(workflow: BpmnWorkflow, model: ProcessModel) -> list[Timer]:
    """The timers waiting to fire, with their due time."""
    result = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        event = getattr(task.task_spec, "event_definition", None)
        # an event-based gateway waits itself for its branches' events; name its timer branch
        spec = gateway_timer_branch(task.task_spec) or task.task_spec
        if spec is task.task_spec and not isinstance(event, TimerEventDefinition):
            continue
        value = task.internal_data.get("event_value")
        if isinstance(value, dict):  # cycle timers keep {'next': iso, 'cycles': n, ...}
            value = value.get("next")
        if not value:
            continue
        # an event subprocess's timer start is a side timer like a boundary one: not where the case is
        side = isinstance(task.task_spec, BoundaryEvent) or (
            isinstance(task.task_spec, StartEvent) and task.workflow is not workflow
            and getattr(workflow.get_task_from_id(task.workflow.parent_task_id).task_spec, "bpmn_id", None)
            in model.event_subprocesses)
        result.append(Timer(str(task.id), spec.bpmn_id, label(spec),
                            to_datetime(value).astimezone(UTC), side, occurrence(task)))
    return result


def _iso_to_due(value: object, now: datetime) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text.startswith("P"):
        delta = TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(text), now)
        return now + delta
    return to_datetime(text).astimezone(UTC)


def _value(expr: str | None, data: dict, *, literal_ok: bool) -> object:
    if not expr:
        return None
    expr = expr.strip()
    ref = simple_reference(expr)
    if ref:
        return data.get(ref)
    if is_iso_timer_literal(expr) or (literal_ok and expr.replace("_", "").replace(".", "").replace("-", "").isalnum()):
        return expr
    return compile_expression(expr).evaluate(data)
