"""Hostile and broken XML: refused with a clear problem, never expanded, never read from disk."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from orchestrator.engine import xml_safety
from orchestrator.engine.xml_safety import DEFAULT_MAX_BYTES, parse_xml
from orchestrator.errors import DeploymentError

from .helpers import END, HEADER, START, deploy, diagram, line_of, only_problem, rejected, seq_flow, user_task

PASSWD = Path("/etc/passwd").read_text() if Path("/etc/passwd").exists() else "root:x:0:0:root:/root:/bin/bash\n"
PASSWD_LINES = [line for line in PASSWD.splitlines() if line.strip()][:5]


def with_doctype(doctype: str, body_text: str = "") -> bytes:
    """A valid little diagram with ``doctype`` after the XML declaration and ``body_text``
    as the process's documentation (where an entity reference would expand)."""
    xml = diagram(f"<bpmn:documentation>{body_text}</bpmn:documentation>", START, user_task(formRef="check"),
                  END, chain=["StartEvent_1", "Task_1", "End_1"],
                  lanes={"nurse": ["StartEvent_1", "Task_1", "End_1"]})
    declaration, rest = xml.split("\n", 1)
    return (declaration + "\n" + doctype + "\n" + rest).encode()


def everything_reported(error: DeploymentError) -> str:
    """All the text a user or log could see of an error."""
    return "\n".join([str(error), repr(error), json.dumps(error.details(), ensure_ascii=False),
                      *(repr(p) for p in error.problems)])


def assert_no_file_content(error: DeploymentError) -> None:
    seen = everything_reported(error)
    for line in PASSWD_LINES:
        assert line not in seen
    assert "root:" not in seen


# -- external entities ------------------------------------------------------------------------

@pytest.mark.parametrize(("doctype", "body"), [
    ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', "&e;"),
    ('<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', ""),
    ('<!DOCTYPE x SYSTEM "file:///etc/passwd">', ""),
    ('<!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:9/x">]>', "&e;"),
], ids=["general-entity", "parameter-entity", "external-dtd", "network-entity"])
def test_xxe_in_a_bpmn_is_refused_and_no_file_content_leaks(doctype, body):
    error = rejected(with_doctype(doctype, body))
    problem = only_problem(error)
    assert "DOCTYPE" in problem.message
    assert problem.file == "test.bpmn"
    assert "remove the <!DOCTYPE" in problem.fix
    assert_no_file_content(error)


def test_error_based_xxe_cannot_smuggle_file_content_into_the_syntax_error():
    # The classic trick: make the parser's own error message carry the file's content.
    doctype = ('<!DOCTYPE x [<!ENTITY % file SYSTEM "file:///etc/passwd">'
               "<!ENTITY % eval \"<!ENTITY &#x25; error SYSTEM 'file:///nonexistent/%file;'>\">"
               "%eval;%error;]>")
    error = rejected(with_doctype(doctype))
    assert error.problems, "a hostile DTD must be refused"
    assert_no_file_content(error)


def test_parse_xml_refuses_xxe_directly_too():
    with pytest.raises(DeploymentError) as info:
        parse_xml(b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<x>&e;</x>',
                  "evil.bpmn")
    assert str(info.value).startswith("evil.bpmn declares a DOCTYPE")
    assert_no_file_content(info.value)


# -- entity expansion ---------------------------------------------------------------------------

BILLION_LAUGHS = ['<!DOCTYPE lolz [', ' <!ENTITY lol "lol">']
BILLION_LAUGHS += [f' <!ENTITY lol{i} "' + f"&lol{i - 1 if i > 1 else ''};" * 10 + '">' for i in range(1, 10)]
BILLION_LAUGHS += [']>']


def test_billion_laughs_is_refused_at_once_and_nothing_expanded_reaches_the_error():
    error = rejected(with_doctype("\n".join(BILLION_LAUGHS), "&lol9;"))
    problem = only_problem(error)
    assert problem.file == "test.bpmn"
    assert "lollol" not in everything_reported(error)
    assert len(str(error)) < 500


def test_entity_declarations_are_refused_as_a_doctype_and_the_parser_keeps_references_unexpanded(monkeypatch):
    parsed = []
    real_fromstring = etree.fromstring

    def spy(data, parser=None):
        root = real_fromstring(data, parser)
        parsed.append(root)
        return root

    monkeypatch.setattr(xml_safety.etree, "fromstring", spy)
    error = rejected(with_doctype("\n".join(BILLION_LAUGHS), "&lol2;"))
    problem = only_problem(error)
    assert problem.message == "DOCTYPE and entity declarations are not allowed in BPMN files"
    assert problem.fix.startswith("remove the <!DOCTYPE")
    assert "lollol" not in everything_reported(error)
    # Refused on the raw bytes: the XML parser never saw the entity declarations.
    assert parsed == []


def test_billion_laughs_is_reported_as_a_doctype_problem_with_the_fix():
    problem = only_problem(rejected(with_doctype("\n".join(BILLION_LAUGHS), "&lol9;")))
    assert "DOCTYPE" in problem.message
    assert problem.fix is not None and "remove the <!DOCTYPE" in problem.fix


# -- size -------------------------------------------------------------------------------------

def test_a_50_mb_file_is_refused_by_size_before_it_is_parsed(monkeypatch):
    def must_not_parse(*_args, **_kwargs):
        raise AssertionError("an oversized file must not reach the XML parser")

    monkeypatch.setattr(xml_safety.etree, "fromstring", must_not_parse)
    declaration, rest = diagram(START, END, chain=["StartEvent_1", "End_1"],
                                lanes={"nurse": ["StartEvent_1", "End_1"]}).split("\n", 1)
    padding = b"<!--" + b"x" * (50 * 1024 * 1024) + b"-->"
    data = declaration.encode() + b"\n" + padding + b"\n" + rest.encode()
    error = rejected(data)
    problem = only_problem(error)
    assert problem.file == "test.bpmn"
    assert problem.message == f"file is {len(data):,} bytes; the limit is {DEFAULT_MAX_BYTES:,} bytes"
    assert "5,242,880" in str(error)
    assert "POLKU_MAX_UPLOAD_BYTES" in problem.fix


def test_the_configured_size_limit_is_the_one_named():
    xml = diagram(START, END, chain=["StartEvent_1", "End_1"])
    assert len(xml.encode()) > 100
    problem = only_problem(rejected(xml, max_bytes=100))
    assert problem.message.endswith("the limit is 100 bytes")


def test_a_file_exactly_at_the_limit_is_parsed():
    xml = diagram(START, user_task(formRef="check"), END, chain=["StartEvent_1", "Task_1", "End_1"],
                  lanes={"nurse": ["StartEvent_1", "Task_1", "End_1"]}).encode()
    (model,) = deploy(xml, max_bytes=len(xml))
    assert model.process_id == "test_process"


# -- broken and odd XML ---------------------------------------------------------------------

def test_malformed_xml_names_the_file_and_the_line():
    xml = diagram(START, user_task(formRef="check"), END, chain=["StartEvent_1", "Task_1", "End_1"])
    broken = xml.replace("</bpmn:process>", "</bpmn:proces>")
    error = rejected(broken)
    problem = only_problem(error)
    assert str(error).startswith("deployment rejected")
    assert problem.file == "test.bpmn"
    assert problem.line == line_of(broken, "</bpmn:proces>")
    assert "XML syntax error" in problem.message and "mismatch" in problem.message
    assert f"test.bpmn:{problem.line}" in str(problem)
    assert "save it again" in problem.fix  # what to do, not only what the parser said


def test_an_unclosed_attribute_quote_gives_its_line():
    text = HEADER + '  <bpmn:process id="p" isExecutable="true">\n    <bpmn:startEvent id="S />\n'
    with pytest.raises(DeploymentError) as info:
        parse_xml(text.encode(), "broken.bpmn")
    problem = only_problem(info.value)
    assert problem.line is not None and problem.line >= line_of(text, 'id="S />')
    assert problem.file == "broken.bpmn"


def test_absurdly_deep_nesting_is_refused_not_recursed_into():
    data = HEADER.encode() + b"<bpmn:documentation>" * 300 + b"</bpmn:documentation>" * 300 + b"</bpmn:definitions>"
    problem = only_problem(rejected(data))
    assert "depth" in problem.message.lower()


def test_a_file_that_is_not_bpmn_says_so():
    problem = only_problem(rejected(b'<?xml version="1.0"?>\n<html><body>hello</body></html>'))
    assert "not a BPMN 2.0 file" in problem.message
    assert "'html'" in problem.message
    assert "Camunda Modeler" in problem.fix


# -- hostile expressions inside otherwise valid XML -----------------------------------------

def test_a_subclasses_escape_in_a_flow_condition_is_refused_at_deploy_with_the_flow_id():
    xml = diagram(
        START, '<bpmn:exclusiveGateway id="Gateway_1" default="Flow_Default" />', user_task(formRef="check"), END,
        seq_flow("Gateway_1", "Task_1", "().__class__.__base__.__subclasses__()", flow_id="Flow_Evil"),
        seq_flow("Gateway_1", "End_1", flow_id="Flow_Default"),
        chain=["StartEvent_1", "Gateway_1"],
        lanes={"nurse": ["StartEvent_1", "Gateway_1", "Task_1", "End_1"]},
    )
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Flow_Evil"
    assert problem.line == line_of(xml, 'id="Flow_Evil"')
    assert "__subclasses__" in problem.message and "not allowed" in problem.message
    assert "score < 5" in problem.fix  # shows what an allowed condition looks like


def test_a_condition_in_a_script_language_is_refused_at_deploy():
    xml = diagram(
        START, '<bpmn:exclusiveGateway id="Gateway_1" default="Flow_Default" />', user_task(formRef="check"), END,
        '<bpmn:sequenceFlow id="Flow_Groovy" sourceRef="Gateway_1" targetRef="Task_1">'
        '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="groovy">'
        "execution.getVariable('x')</bpmn:conditionExpression></bpmn:sequenceFlow>",
        seq_flow("Gateway_1", "End_1", flow_id="Flow_Default"),
        chain=["StartEvent_1", "Gateway_1"],
        lanes={"nurse": ["StartEvent_1", "Gateway_1", "Task_1", "End_1"]},
    )
    problem = only_problem(rejected(xml))
    assert problem.element_id == "Flow_Groovy"
    assert problem.message == "condition in script language 'groovy' would run code"


def test_a_pathologically_long_condition_is_a_deploy_problem_not_a_crash():
    xml = diagram(
        START, '<bpmn:exclusiveGateway id="Gateway_1" default="Flow_Default" />', user_task(formRef="check"), END,
        seq_flow("Gateway_1", "Task_1", " + ".join(["score"] * 2000) + " &gt; 5", flow_id="Flow_Long"),
        seq_flow("Gateway_1", "End_1", flow_id="Flow_Default"),
        chain=["StartEvent_1", "Gateway_1"],
        lanes={"nurse": ["StartEvent_1", "Gateway_1", "Task_1", "End_1"]},
    )
    assert only_problem(rejected(xml)).element_id == "Flow_Long"


def test_a_latin1_encoded_bpmn_is_deployed_or_refused_cleanly():
    xml = diagram(START, user_task(name="Lääkärin arvio", formRef="check"), END,
                  chain=["StartEvent_1", "Task_1", "End_1"],
                  lanes={"Lääkäri": ["StartEvent_1", "Task_1", "End_1"]})
    data = xml.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1")
    try:
        (model,) = deploy(data)
    except DeploymentError as exc:
        assert "test.bpmn" in str(exc)
    else:
        assert model.elements["Task_1"].name == "Lääkärin arvio"
