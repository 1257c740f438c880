"""Workflow state to and from JSON, without the spec.

The spec is stored once per deployed version and the parsed spec is cached per process, so
a case row holds only its task tree and data (about half the size, and deserializing skips
rebuilding every task spec on every step).
"""
from __future__ import annotations

import copy
import json
from importlib.metadata import version as _installed
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_SERIALIZER_VERSION
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

from ..errors import StateVersionError
from .script_engine import SCRIPT_ENGINE

# What the state is written with, read from the library actually installed (not what the pin
# says): a case written by one version and read by another can load empty without an error.
SERIALIZER_VERSION = SPIFF_SERIALIZER_VERSION
LIBRARY = f"SpiffWorkflow=={_installed('SpiffWorkflow')}"
LIBRARY_KEY = "polku_library"  # the writer's LIBRARY inside every state blob: its own provenance


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Leaves ``spec``/``subprocess_specs`` out and takes them back as arguments."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _config() -> dict:
    # Never mutate the library's global config: copy it, then fix the missing converter
    # for the plain ServiceTask (a SpiffWorkflow 3.2.0 bug) and swap in our converter.
    cfg = copy.deepcopy(CAMUNDA_CONFIG)
    cfg[ServiceTask] = BpmnTaskSpecConverter
    # Polku's multi-instance specs (multi_instance.py) serialize as the Camunda ones they extend
    from SpiffWorkflow.bpmn.serializer.default.task_spec import MultiInstanceTaskConverter

    from .multi_instance import PolkuParallelMultiInstanceTask, PolkuSequentialMultiInstanceTask
    cfg[PolkuParallelMultiInstanceTask] = MultiInstanceTaskConverter
    cfg[PolkuSequentialMultiInstanceTask] = MultiInstanceTaskConverter
    return cfg


FULL_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config()))
_specless_cfg = _config()
_specless_cfg[BpmnWorkflow] = SpeclessWorkflowConverter
_SPECLESS = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_specless_cfg))


def dumps(workflow: BpmnWorkflow) -> str:
    text = _SPECLESS.serialize_json(workflow)
    # spliced in front rather than added to the dict: no second pass over a large document
    return "{" + json.dumps(LIBRARY_KEY) + ": " + json.dumps(LIBRARY) + ", " + text[1:]


def check_library(written_with: str | None) -> None:
    """Refuse state written by another SpiffWorkflow; ``None`` (state older than the mark) passes,
    its case row's ``library_version`` is checked by the caller."""
    if written_with is not None and written_with != LIBRARY:
        raise StateVersionError(written_with, LIBRARY)


def loads(text: str, spec, subprocess_specs: dict) -> BpmnWorkflow:
    dct = json.loads(text)
    check_library(dct.pop(LIBRARY_KEY, None))
    _SPECLESS.migrate(dct)
    workflow = _SPECLESS.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = SCRIPT_ENGINE
    return workflow
