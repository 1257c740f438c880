"""A CamundaParser that keeps what Camunda Modeler writes and SpiffWorkflow drops.

SpiffWorkflow's CamundaParser ignores ``camunda:candidateGroups``, ``candidateUsers``,
``assignee``, ``dueDate``, ``followUpDate``, ``formRef`` and the external-task attributes of
service tasks. The parsers below read them into ``task_spec.extensions`` as one plain dict
(see ``camunda_attributes``), which the rest of the engine reads through ``attrs()``.
"""
from __future__ import annotations

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.specs.defaults import (
    CallActivity,
    EndEvent,
    ManualTask,
    NoneTask,
    ServiceTask,
    StartEvent,
)
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaEndEventParser, CamundaStartEventParser
from SpiffWorkflow.camunda.parser.task_spec import (
    CallActivityParser,
    CamundaTaskParser,
    SubWorkflowParser,
    UserTaskParser,
)
from SpiffWorkflow.camunda.specs.user_task import UserTask

from .bpmn_xml import BPMN, C
from .multi_instance import CamundaCollectionMixin

FORM_KEY_PREFIXES = ("camunda-forms:deployment:", "camunda-forms:app:", "camunda-forms:")


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def form_id_from(form_ref: str | None, form_key: str | None) -> str | None:
    """``formRef="x"`` or ``formKey="camunda-forms:deployment:forms/x.form"`` → ``x``."""
    ref = (form_ref or "").strip()
    if not ref and form_key:
        ref = form_key.strip()
        for prefix in FORM_KEY_PREFIXES:
            if ref.startswith(prefix):
                ref = ref[len(prefix):]
                break
        ref = ref.rsplit("/", 1)[-1]
        if ref.endswith(".form"):
            ref = ref[: -len(".form")]
    return ref or None


def camunda_attributes(node: etree._Element) -> dict:
    """Everything Polku reads from a flow node's Camunda attributes, as JSON-friendly data."""
    properties = {}
    inputs: dict[str, str] = {}
    outputs: dict[str, str] = {}
    ext = node.find(f"{BPMN}extensionElements")
    if ext is not None:
        for prop in ext.iterfind(f"{C}properties/{C}property"):
            properties[prop.get("name")] = prop.get("value")
        for param in ext.iterfind(f"{C}inputOutput/{C}inputParameter"):
            inputs[param.get("name")] = (param.text or "").strip()
        for param in ext.iterfind(f"{C}inputOutput/{C}outputParameter"):
            outputs[param.get("name")] = (param.text or "").strip()
    return {
        "properties": properties,
        "candidate_groups": _split(node.get(f"{C}candidateGroups")),
        "candidate_users": _split(node.get(f"{C}candidateUsers")),
        "assignee": node.get(f"{C}assignee"),
        "due_date": node.get(f"{C}dueDate"),
        "follow_up_date": node.get(f"{C}followUpDate"),
        "form_id": form_id_from(node.get(f"{C}formRef"), node.get(f"{C}formKey")),
        "type": node.get(f"{C}type"),
        "topic": node.get(f"{C}topic"),
        "inputs": inputs,
        "outputs": outputs,
        "initiator": node.get(f"{C}initiator"),
        "line": node.sourceline,
        # a start event of an event subprocess: SpiffWorkflow 3.2.0 ignores isInterrupting
        "interrupting": node.get("isInterrupting") != "false",
    }


class _CamundaAttributesMixin:
    node: etree._Element

    def parse_extensions(self, node=None):  # noqa: ARG002 - signature of the library hook
        return camunda_attributes(self.node)


class PolkuUserTaskParser(CamundaCollectionMixin, _CamundaAttributesMixin, UserTaskParser):
    pass


class PolkuServiceTaskParser(CamundaCollectionMixin, _CamundaAttributesMixin, TaskParser):
    pass


class PolkuSubWorkflowParser(CamundaCollectionMixin, SubWorkflowParser):
    pass


class PolkuCallActivityParser(CamundaCollectionMixin, CallActivityParser):
    pass


class PolkuPassThroughTaskParser(_CamundaAttributesMixin, CamundaTaskParser):
    """A plain ``task`` or ``manualTask``: Camunda 7 passes it through, so does Polku.

    SpiffWorkflow makes both wait for a person (``manual``), but no inbox would ever show them
    (they have no form and no role): the case would sit with a task nobody can see. A task
    that was meant for a person is refused at deploy (``construct_checks``); what is left is
    a step that is recorded in the history and runs on.
    """

    def create_task(self):
        task = super().create_task()
        task.manual = False
        return task


class PolkuStartEventParser(_CamundaAttributesMixin, CamundaStartEventParser):
    pass


class PolkuEndEventParser(_CamundaAttributesMixin, CamundaEndEventParser):
    pass


class PolkuParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (PolkuUserTaskParser, UserTask),
        full_tag("serviceTask"): (PolkuServiceTaskParser, ServiceTask),
        # a send task is an external task like a service task (Camunda 7 treats them alike)
        full_tag("sendTask"): (PolkuServiceTaskParser, ServiceTask),
        full_tag("task"): (PolkuPassThroughTaskParser, NoneTask),
        full_tag("manualTask"): (PolkuPassThroughTaskParser, ManualTask),
        full_tag("startEvent"): (PolkuStartEventParser, StartEvent),
        full_tag("endEvent"): (PolkuEndEventParser, EndEvent),
        # multi-instance reads camunda:collection="${list}" (multi_instance.py)
        full_tag("subProcess"): (PolkuSubWorkflowParser, CallActivity),
        full_tag("callActivity"): (PolkuCallActivityParser, CallActivity),
    }


def label(task_spec) -> str:
    """What a person calls a flow node: its name in the diagram, else its id."""
    return getattr(task_spec, "bpmn_name", None) or task_spec.bpmn_id


def attrs(task_spec) -> dict:
    """The Camunda attributes of a spec parsed by ``PolkuParser`` (empty for other specs)."""
    ext = getattr(task_spec, "extensions", None)
    return ext if isinstance(ext, dict) and "candidate_groups" in ext else {}
