"""The serializer's fix for SpiffWorkflow 3.2.0's missing ServiceTask converter, done without
touching the library's global configuration."""
from __future__ import annotations

import copy
import json

import pytest
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from orchestrator.engine import serializer
from orchestrator.engine.parser import attrs
from orchestrator.engine.runtime import CaseRuntime

from .helpers import health_check_model


@pytest.fixture(scope="module")
def model():
    return health_check_model()


def parked_at_service_task(model) -> BpmnWorkflow:
    """A health check parked at Task_NotifyNurses (its consent step already done)."""
    rt, _ = CaseRuntime.start(model, {"client_ref": "AS-1", "urgency": "normal"})
    (consent,) = rt.workflow.get_tasks(state=TaskState.STARTED)
    consent.complete()
    rt.workflow.do_engine_steps()
    (task,) = rt.workflow.get_tasks(state=TaskState.STARTED)
    assert type(task.task_spec) is ServiceTask
    return rt.workflow


def test_the_library_config_alone_cannot_serialize_a_plain_service_task(model):
    # The bug the fix exists for: without it a case parked at a service task cannot be saved.
    plain = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(copy.deepcopy(CAMUNDA_CONFIG)))
    with pytest.raises(TypeError, match="ServiceTask is not JSON serializable"):
        plain.serialize_json(parked_at_service_task(model))


def test_full_serializer_round_trips_a_workflow_with_a_service_task(model):
    workflow = parked_at_service_task(model)
    text = serializer.FULL_SERIALIZER.serialize_json(workflow)
    doc = json.loads(text)
    assert "spec" in doc  # the full form carries the spec …
    restored = serializer.FULL_SERIALIZER.deserialize_json(text)
    spec = restored.spec.task_specs["Task_NotifyNurses"]
    assert type(spec) is ServiceTask
    assert attrs(spec)["topic"] == "notify"  # … including what Polku's parser captured
    assert [t.task_spec.bpmn_id for t in restored.get_tasks(state=TaskState.STARTED)] == ["Task_NotifyNurses"]
    assert restored.get_tasks(state=TaskState.STARTED)[0].data["client_ref"] == "AS-1"


def test_the_library_global_config_was_not_mutated():
    assert ServiceTask not in CAMUNDA_CONFIG
    # Polku's own configured registry does know it.
    assert serializer.FULL_SERIALIZER.registry.typenames.get(ServiceTask) == "ServiceTask"


def test_the_case_state_is_much_smaller_than_the_full_form(model):
    workflow = parked_at_service_task(model)
    specless = serializer.dumps(workflow)
    full = serializer.FULL_SERIALIZER.serialize_json(workflow)
    assert "spec" not in json.loads(specless)
    assert len(specless) < len(full) / 2
    restored = serializer.loads(specless, model.spec, model.subprocess_specs)
    assert restored.spec is model.spec
    assert [t.task_spec.bpmn_id for t in restored.get_tasks(state=TaskState.STARTED)] == ["Task_NotifyNurses"]
