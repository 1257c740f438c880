"""No designer-written text reaches Python's ``eval``, whichever path SpiffWorkflow takes.

The library evaluates some expressions through ``script_engine.environment.evaluate``
directly (ad-hoc completion conditions, standard-loop conditions, message correlation).
These tests parse hostile diagrams *without* Polku's deploy checks — the first lock — and run
them, so they prove the second lock (the allow-listed environment) holds by itself.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from orchestrator.engine.expressions import ExpressionError
from orchestrator.engine.parser import PolkuParser
from orchestrator.engine.script_engine import SCRIPT_ENGINE, AllowListEnvironment

from .helpers import HEADER, deploy, rejected

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def _payload(marker: Path) -> str:
    return f"__import__('pathlib').Path('{marker}').write_text('pwned')"


def _workflow(xml: str, process_id: str = "hostile") -> BpmnWorkflow:
    parser = PolkuParser()
    parser.add_bpmn_xml(etree.fromstring(xml.encode()), filename="hostile.bpmn")
    return BpmnWorkflow(parser.get_spec(process_id), parser.get_subprocess_specs(process_id),
                        script_engine=SCRIPT_ENGINE)


def _run(wf: BpmnWorkflow) -> None:
    """Drive the workflow as Polku does: engine steps, complete whatever people would."""
    for _ in range(5):
        wf.do_engine_steps()
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            return
        for task in ready:
            task.run()


def _adhoc(marker: Path) -> str:
    return HEADER + f"""
  <bpmn:process id="hostile" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:adHocSubProcess id="Adhoc_1" name="Vapaa järjestys">
      <bpmn:userTask id="Task_A" name="A" camunda:candidateGroups="nurse" />
      <bpmn:completionCondition xsi:type="bpmn:tFormalExpression">{_payload(marker)}</bpmn:completionCondition>
    </bpmn:adHocSubProcess>
    <bpmn:endEvent id="End_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Adhoc_1" />
    <bpmn:sequenceFlow id="F2" sourceRef="Adhoc_1" targetRef="End_1" />
  </bpmn:process>
</bpmn:definitions>
"""


def _loop_process(condition: str, process_id: str = "hostile") -> str:
    return HEADER + f"""
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" camunda:formRef="start" />
    <bpmn:userTask id="Task_A" name="A" camunda:candidateGroups="nurse">
      <bpmn:standardLoopCharacteristics>
        <bpmn:loopCondition xsi:type="bpmn:tFormalExpression">{condition}</bpmn:loopCondition>
      </bpmn:standardLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:endEvent id="End_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Task_A" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_A" targetRef="End_1" />
  </bpmn:process>
</bpmn:definitions>
"""


def _standard_loop(marker: Path) -> str:
    return _loop_process(_payload(marker))


@pytest.mark.parametrize("shape", [_adhoc, _standard_loop], ids=["adhoc-completion", "standard-loop"])
def test_the_library_direct_environment_path_never_runs_designer_code(tmp_path, shape):
    marker = tmp_path / "pwned"
    wf = _workflow(shape(marker))
    with pytest.raises((ExpressionError, Exception)) as info:
        _run(wf)
    assert not marker.exists(), "designer-written code ran on the server"
    assert "not allowed" in str(info.value) or isinstance(info.value, ExpressionError), info.value


def test_the_environment_itself_is_the_allow_list(tmp_path):
    env = SCRIPT_ENGINE.environment
    assert isinstance(env, AllowListEnvironment)
    assert env.evaluate("done == True and len(items) > 1", {"done": True, "items": [1, 2]}) is True
    assert env.evaluate("missing", {}) is None  # an unset name is None, as in conditions
    marker = tmp_path / "pwned"
    for hostile in (_payload(marker), "().__class__.__base__.__subclasses__()", "open('/etc/passwd').read()",
                    "[x for x in ().__class__.__mro__]", "exec('import os')"):
        with pytest.raises(ExpressionError):
            env.evaluate(hostile, {})
    assert not marker.exists()
    with pytest.raises(Exception, match="does not run scripts"):
        env.execute("import os", {})


def test_message_correlation_retrieval_goes_through_the_allow_list(tmp_path):
    """``CorrelationProperty.retrieval_expression`` is evaluated with the environment."""
    from SpiffWorkflow.bpmn.specs.event_definitions.message import CorrelationProperty, MessageEventDefinition

    marker = tmp_path / "pwned"
    definition = MessageEventDefinition("reply", correlation_properties=[
        CorrelationProperty("client", _payload(marker), ["key"])])
    with pytest.raises(ExpressionError):
        definition.get_correlations(_FakeTask(), {"client": "AS-1"})
    assert not marker.exists()
    safe = MessageEventDefinition("reply", correlation_properties=[CorrelationProperty("client", "client", ["key"])])
    assert safe.get_correlations(_FakeTask(), {"client": "AS-1"}) == {"key": {"client": "AS-1"}}


class _FakeTask:
    class workflow:  # noqa: N801 - shaped like the attribute chain the library reads
        script_engine = SCRIPT_ENGINE


def test_deploy_refuses_the_hostile_expressions_too(tmp_path):
    """The first lock stays: deploy names the element and the expression."""
    for shape, element in ((_adhoc, "Adhoc_1"), (_standard_loop, "Task_A")):
        error = rejected(shape(tmp_path / "pwned"))
        assert any(p.element_id == element and "not allowed" in p.message for p in error.problems), \
            [str(p) for p in error.problems]


def test_a_harmless_loop_condition_still_deploys():
    assert [m.process_id for m in deploy(_loop_process("approved == True", "fine"))] == ["fine"]


def test_deploy_refuses_a_hostile_correlation_expression(tmp_path):
    xml = HEADER + f"""
  <bpmn:message id="Message_1" name="vastaus" />
  <bpmn:correlationProperty id="CP_1" name="client">
    <bpmn:correlationPropertyRetrievalExpression messageRef="Message_1">
      <bpmn:messagePath>{_payload(tmp_path / "pwned")}</bpmn:messagePath>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>
  <bpmn:process id="hostile" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:endEvent id="End_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="End_1" />
  </bpmn:process>
</bpmn:definitions>
"""
    error = rejected(xml)
    assert any(p.element_id == "CP_1" and "not allowed" in p.message and p.line for p in error.problems), \
        [str(p) for p in error.problems]
