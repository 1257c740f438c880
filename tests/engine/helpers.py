"""Small builders so each engine test can state its BPMN or form in a few lines."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

from orchestrator.engine.deployment import ProcessModel, build_models, read_forms
from orchestrator.engine.forms import FormSchema, parse_form
from orchestrator.errors import DeploymentError, Problem
from orchestrator.services.handler_api import load_handlers

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
HEALTH_CHECK = ROOT / "processes" / "unemployed_health_check.bpmn"
TOPICS = ("notify", "record", "consent", "invite")
# What the project's handlers declare they take: test diagrams are checked as a deploy checks them.
HANDLER_PARAMS = load_handlers().specs

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'id="Definitions_Test" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler">\n'
)
FOOTER = "</bpmn:definitions>\n"

# The usual opening and closing of a test diagram.
START = '<bpmn:startEvent id="StartEvent_1" name="Alku" camunda:formRef="start" />'
END = '<bpmn:endEvent id="End_1" name="Loppu" />'


def diagram(*nodes: str, chain: Sequence[str] = (), lanes: Mapping[str, Sequence[str]] | None = None,
            process_id: str = "test_process", executable: bool = True) -> str:
    """A Camunda 7 BPMN file with one process holding ``nodes`` (one XML element per line).

    ``chain`` links the named ids one after another with sequence flows
    ``Flow_<source>_<target>``; ``lanes`` maps a lane *name* to the node ids in it (lane ids
    are ``Lane_1``, ``Lane_2`` … in order).
    """
    lines = [HEADER.rstrip("\n"),
             f'  <bpmn:process id="{process_id}" name="Testiprosessi" '
             f'isExecutable="{"true" if executable else "false"}">']
    if lanes:
        lines.append('    <bpmn:laneSet id="LaneSet_1">')
        for i, (name, refs) in enumerate(lanes.items(), start=1):
            lines.append(f'      <bpmn:lane id="Lane_{i}" name="{name}">')
            lines.extend(f"        <bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs)
            lines.append("      </bpmn:lane>")
        lines.append("    </bpmn:laneSet>")
    lines.extend("    " + node for node in nodes)
    lines.extend(seq_flow(a, b) for a, b in zip(chain, chain[1:], strict=False))
    lines.append("  </bpmn:process>")
    lines.append(FOOTER)
    return "\n".join(lines)


def seq_flow(source: str, target: str, condition: str | None = None, flow_id: str | None = None) -> str:
    fid = flow_id or f"Flow_{source}_{target}"
    if condition is None:
        return f'    <bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}" />'
    return (f'    <bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}'
            f"</bpmn:conditionExpression></bpmn:sequenceFlow>")


def user_task(task_id: str = "Task_1", name: str = "Tarkastus", **camunda: str) -> str:
    """``user_task("Task_1", formRef="check", candidateGroups="doctor")``."""
    extra = "".join(f' camunda:{k}="{v}"' for k, v in camunda.items())
    return f'<bpmn:userTask id="{task_id}" name="{name}"{extra} />'


# Parameters that satisfy each project handler's declaration in the standard test forms.
VALID_PARAMS = {"notify": {"to_role": "nurse", "message": "Hei $client_ref"},
                "record": {"document": "summary", "fields": "urgency"},
                "consent": {"given": "approved", "organisation_keys": "referrer"}}


def service_task(task_id: str = "Task_1", name: str = "Ilmoita", topic: str = "notify", tag: str = "serviceTask",
                 **params: str) -> str:
    """An external task of ``topic`` whose parameters deploy (``VALID_PARAMS`` unless given)."""
    values = params or VALID_PARAMS.get(topic, {})
    inputs = "".join(f'<camunda:inputParameter name="{k}">{v}</camunda:inputParameter>' for k, v in values.items())
    body = f"<bpmn:extensionElements><camunda:inputOutput>{inputs}</camunda:inputOutput></bpmn:extensionElements>"
    return (f'<bpmn:{tag} id="{task_id}" name="{name}" camunda:type="external" camunda:topic="{topic}">'
            f"{body if values else ''}</bpmn:{tag}>")


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line of ``text`` containing ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the document")


def form_json(*components: dict) -> str:
    return json.dumps({"components": list(components), "type": "default", "schemaVersion": 16}, indent=2)


def field(key: str, ftype: str = "textfield", **extra) -> dict:
    comp = {"id": f"Field_{key}", "key": key, "label": key.replace("_", " ").title(), "type": ftype}
    if ftype in ("radio", "select", "checklist") and "values" not in extra:
        extra["values"] = [{"label": v, "value": v} for v in ("a", "b")]
    comp.update(extra)
    return comp


def simple_forms(**forms: Iterable[dict]) -> dict[str, FormSchema]:
    """``simple_forms(start=[field("urgency")], check=[...])`` → parsed form schemas by id."""
    return {fid: parse_form(form_json(*comps), f"forms/{fid}.form") for fid, comps in forms.items()}


# Forms the small diagrams use unless a test says otherwise.
STANDARD_COMPONENTS = {
    "start": [field("urgency", "radio", values=[{"label": "Normaali", "value": "normal"},
                                                {"label": "Kiireellinen", "value": "urgent"}]),
              field("approved", "checkbox")],
    "check": [field("score", "number"), field("decision", "select")],
}
STANDARD_FORMS = simple_forms(**STANDARD_COMPONENTS)


def standard_forms_plus(form_id: str, *components: dict) -> dict[str, FormSchema]:
    """The standard forms with ``components`` added to form ``form_id``."""
    return simple_forms(**{**STANDARD_COMPONENTS,
                           form_id: [*STANDARD_COMPONENTS.get(form_id, []), *components]})


def deploy(xml: str | bytes, forms: Mapping[str, FormSchema] | None = None, topics: Iterable[str] = TOPICS,
           filename: str = "test.bpmn", **kwargs) -> list[ProcessModel]:
    kwargs.setdefault("handler_params", HANDLER_PARAMS)
    return build_models({filename: xml}, STANDARD_FORMS if forms is None else forms, topics, **kwargs)


def rejected(xml: str | bytes, forms: Mapping[str, FormSchema] | None = None, topics: Iterable[str] = TOPICS,
             **kwargs) -> DeploymentError:
    with pytest.raises(DeploymentError) as info:
        deploy(xml, forms, topics, **kwargs)
    return info.value


def only_problem(error: DeploymentError) -> Problem:
    assert len(error.problems) == 1, [str(p) for p in error.problems]
    return error.problems[0]


def real_forms() -> dict[str, FormSchema]:
    forms, problems = read_forms({p.name: p.read_bytes() for p in sorted((ROOT / "forms").glob("*.form"))})
    assert problems == []
    return forms


def health_check_model() -> ProcessModel:
    (model,) = build_models({HEALTH_CHECK.name: HEALTH_CHECK.read_bytes()}, real_forms(), known_topics=TOPICS,
                            handler_params=HANDLER_PARAMS)
    return model
