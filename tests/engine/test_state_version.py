"""A case's state carries the SpiffWorkflow version that wrote it, and another version refuses
to read it (SpiffWorkflow 3.1.x reads 3.2.0 state as a case with empty data, without an error)."""
from __future__ import annotations

import json
from importlib.metadata import version

import pytest

from orchestrator.engine import serializer
from orchestrator.engine.runtime import CaseRuntime
from orchestrator.errors import StateVersionError

from .helpers import health_check_model


@pytest.fixture(scope="module")
def model():
    return health_check_model()


@pytest.fixture
def state(model) -> str:
    rt, _ = CaseRuntime.start(model, {"client_ref": "AS-7", "urgency": "normal"})
    return rt.dumps()


def test_the_state_names_the_library_installed_that_wrote_it(state):
    assert f"SpiffWorkflow=={version('SpiffWorkflow')}" == serializer.LIBRARY
    assert json.loads(state)[serializer.LIBRARY_KEY] == serializer.LIBRARY


def test_state_written_here_loads_back_with_its_data(model, state):
    rt = CaseRuntime.load(model, state)
    assert rt.data()["client_ref"] == "AS-7" and rt.service_calls()


def test_state_written_by_another_version_is_refused_naming_both_and_what_to_do(model, state):
    doc = json.loads(state)
    doc[serializer.LIBRARY_KEY] = "SpiffWorkflow==3.1.1"
    with pytest.raises(StateVersionError) as info:
        CaseRuntime.load(model, json.dumps(doc))
    message = info.value.message
    assert "saved with SpiffWorkflow==3.1.1" in message and f"runs {serializer.LIBRARY}" in message
    assert "Run Polku with SpiffWorkflow==3.1.1 for this case, or migrate the case's state" in message
    assert info.value.status == 409 and info.value.code == "case_state_version"


def test_state_from_before_the_mark_still_loads(model, state):
    doc = json.loads(state)
    del doc[serializer.LIBRARY_KEY]  # written by an earlier Polku: the case row's column vouches for it
    assert CaseRuntime.load(model, json.dumps(doc)).data()["client_ref"] == "AS-7"
