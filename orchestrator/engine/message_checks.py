"""Deploy-time checks of message waits and error events: what would deploy and then never move.

Called from ``validation.Checker``; each finding goes through the checker's ``problem`` (file,
element id and name, line, fix). What runs is described in docs/engine/messages.md.
"""
from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from .bpmn_xml import BPMN, owner_with_id

ReportProblem = Callable[..., None]
CATCHING = ("intermediateCatchEvent", "boundaryEvent", "startEvent")
THROWING = ("intermediateThrowEvent", "endEvent")
PICK_MESSAGE = ("select the event, and in the properties panel under Message pick a message "
                "(or create one) and give it a name, e.g. payment_received")


def check_messages(root: etree._Element, problem: ReportProblem) -> None:
    messages = {m.get("id"): m for m in root.iter(f"{BPMN}message")}
    for process in root.iter(f"{BPMN}process"):
        if process.get("isExecutable") != "true":
            continue
        for tag in CATCHING:
            for event in process.iter(f"{BPMN}{tag}"):
                definition = event.find(f"{BPMN}messageEventDefinition")
                if definition is not None:
                    _check_ref(event, definition.get("messageRef"), messages, problem)
                    if tag == "startEvent":
                        _check_start(process, event, problem)
        for task in process.iter(f"{BPMN}receiveTask"):
            _check_ref(task, task.get("messageRef"), messages, problem)
        for tag in THROWING:
            for event in process.iter(f"{BPMN}{tag}"):
                if event.find(f"{BPMN}messageEventDefinition") is not None:
                    problem(event, "a message throw event sends nothing in Polku: no system receives it",
                            'to tell someone, use a service task with camunda:type="external" and a topic '
                            "such as notify; another case is moved with POST /api/messages")
        for gateway in process.iter(f"{BPMN}eventBasedGateway"):
            _check_gateway(process, gateway, problem)
    errors = {e.get("id") for e in root.iter(f"{BPMN}error")}
    for definition in root.iter(f"{BPMN}errorEventDefinition"):
        ref = definition.get("errorRef")
        if ref and ref not in errors:
            problem(definition.getparent(), f"the error {ref!r} this event refers to is not defined in this file",
                    "select the event and under Error pick (or create) an error with an Error code, "
                    "e.g. REJECTED — or remove the reference to catch every error code")
    for el in root.iter(f"{BPMN}correlationProperty", f"{BPMN}correlationKey", f"{BPMN}correlationSubscription"):
        owner = owner_with_id(el, el)
        problem(owner, "message correlation keys are not used by Polku (their expressions would run in the engine)",
                "remove the correlation key; a message is addressed by case_id, or client_ref + pathway, "
                "and matched by the message name")


def _check_ref(el: etree._Element, ref: str | None, messages: dict[str, etree._Element],
               problem: ReportProblem) -> None:
    if not ref:
        problem(el, "this message event names no message, so nothing could ever be sent to it", PICK_MESSAGE)
    elif ref not in messages:
        problem(el, f"the message {ref!r} it waits for is not defined in this file", PICK_MESSAGE)
    elif not (messages[ref].get("name") or "").strip():
        problem(el, f"the message {ref!r} it waits for has no name: senders address a message by its name",
                f"give message {ref} a name in the properties panel (Message → Name), e.g. payment_received")


def _check_start(process: etree._Element, event: etree._Element, problem: ReportProblem) -> None:
    parent = event.getparent()
    if parent is process:
        problem(event, "a process that starts by a message cannot be started in Polku: a case needs a region "
                "and a person allowed to start it",
                "use a plain start event (cases start from the inbox or POST /api/cases), followed by an "
                "intermediate message catch event if the case must wait for the message")
    elif parent.get("triggeredByEvent") == "true" and parent.getparent() is not process:
        problem(event, "a message event subprocess inside a subprocess is never started by SpiffWorkflow 3.2.0",
                "move the event subprocess to the process level, or use a message boundary event on the subprocess")


def _check_gateway(process: etree._Element, gateway: etree._Element, problem: ReportProblem) -> None:
    gid = gateway.get("id")
    targets = {f.get("targetRef") for f in process.iter(f"{BPMN}sequenceFlow") if f.get("sourceRef") == gid}
    timers = [n for n in process.iter(f"{BPMN}intermediateCatchEvent") if n.get("id") in targets
              and n.find(f"{BPMN}timerEventDefinition") is not None]
    if len(timers) > 1:
        problem(gateway, "an event-based gateway with more than one timer branch: the engine keeps one deadline "
                "per gateway", "keep one timer branch (the earliest deadline) behind the gateway")
