"""Deploy-time checks of which BPMN constructs Polku runs, and the refusal of the others.

SpiffWorkflow 3.2.0 parses many constructs it cannot carry to the end (a conditional event
that is never re-evaluated, a compensation that is never done, a link that goes nowhere) or
refuses them in its own words. Each construct here either runs as a Camunda 7 user expects
or is refused with one located message and what to draw instead; docs/engine/constructs.md
lists every decision and why.
"""
from __future__ import annotations

from typing import Protocol

from lxml import etree

from .bpmn_xml import BPMN, C, link_name, local

GATEWAYS = ("exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway")
CONTAINERS = ("subProcess", "transaction", "adHocSubProcess")
# Flow nodes SpiffWorkflow carries (the others are refused below or by the other checks).
RUNNABLE = frozenset({"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
                      "boundaryEvent", "task", "manualTask", "userTask", "serviceTask", "sendTask",
                      "receiveTask", "scriptTask", "businessRuleTask", "callActivity", "subProcess",
                      "transaction", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
                      "eventBasedGateway"})
# Children of a process that are not flow nodes: documentation, data, layout, lanes.
NOT_FLOW_NODES = frozenset({"sequenceFlow", "laneSet", "lane", "dataObject", "dataObjectReference",
                            "dataStoreReference", "textAnnotation", "association", "group", "extensionElements",
                            "documentation", "ioSpecification", "property", "completionCondition",
                            "auditing", "monitoring", "dataInputAssociation", "dataOutputAssociation",
                            "standardLoopCharacteristics", "multiInstanceLoopCharacteristics",
                            "incoming", "outgoing", "category", "categoryValue", "resourceRole",
                            "performer", "humanPerformer", "potentialOwner", "correlationSubscription",
                            "supports", "ioBinding"})
NOTHING_TO_RUN_FIX = ("draw the pathway: a start event, the steps, and an end event, "
                      "connected by sequence flows")
# What each refused construct is, in the designer's words, and what to draw instead.
REFUSED = {
    "complexGateway": ("complex gateways are not supported",
                       "use an inclusive gateway (conditions on each flow) or a parallel gateway"),
    "adHocSubProcess": ("ad-hoc subprocesses are not supported (Camunda 7 does not run them either)",
                        "draw the optional tasks after a parallel or inclusive gateway, "
                        "or as separate user tasks in an embedded subprocess"),
    "compensateEventDefinition": ("compensation is not supported: Polku cannot undo steps that are done",
                                  "draw the undoing as ordinary steps, e.g. after an exclusive gateway or "
                                  "from an error boundary event"),
    "isForCompensation": ("compensation handlers are not supported: Polku cannot undo steps that are done",
                          "remove 'For compensation' and draw the undoing as ordinary steps"),
    "cancelEventDefinition": ("cancel events are not supported: they undo a transaction by compensation, "
                              "which Polku cannot do",
                              "end the transaction normally and draw the undoing as ordinary steps "
                              "after an exclusive gateway"),
    "conditionalEventDefinition": ("conditional events are not supported: the condition is checked only "
                                   "once, so a case whose condition is false would wait forever",
                                   "put an exclusive gateway with the condition where the case should "
                                   "decide, or a user task where someone confirms it"),
    "signalEventDefinition": ("signal events are not supported: nothing in Polku sends a signal, so the "
                              "case would wait forever",
                              "use a message event (POST /api/messages) or a timer"),
}


class Reporter(Protocol):
    def problem(self, el: etree._Element | None, message: str, fix: str | None = None) -> None: ...


def check_constructs(reporter: Reporter, process: etree._Element) -> None:
    """Every problem of ``process`` (and its subprocesses) with the constructs it uses."""
    refused: set[str] = set()
    flow_nodes = [el for el in process.iter() if _is_flow_node(el)]
    ids = {el.get("id") for el in process.iter() if el.get("id")}

    def refuse(el: etree._Element, message: str, fix: str) -> None:
        if el.get("id") not in refused:
            refused.add(el.get("id"))
            reporter.problem(el, message, fix)

    for el in flow_nodes:
        tag = local(el.tag)
        if tag in REFUSED:
            refuse(el, *REFUSED[tag])
        elif tag not in RUNNABLE:
            refuse(el, f"{_words(tag)} elements are not supported",
                   "replace it with a user task, a service task or a gateway")
        elif el.get("isForCompensation") == "true":
            refuse(el, *REFUSED["isForCompensation"])
        else:
            definition = _event_definition(el)
            if definition in REFUSED:
                refuse(el, *REFUSED[definition])
            elif tag in ("task", "manualTask"):
                _check_pass_through(el, refuse)
    _check_links(process, refuse)
    for container in [process, *(n for n in flow_nodes if local(n.tag) in ("subProcess", "transaction"))]:
        _check_nothing_to_run(container, refuse)
    _check_flows(process, ids, refuse)
    for el in flow_nodes:
        if el.get("id") not in refused:
            _check_outgoing(process, el, refuse)


def _is_flow_node(el: etree._Element) -> bool:
    if not isinstance(el.tag, str) or not el.tag.startswith(BPMN) or not el.get("id"):
        return False
    parent = el.getparent()
    in_container = parent is not None and local(parent.tag) in ("process", *CONTAINERS)
    return in_container and local(el.tag) not in NOT_FLOW_NODES


def _words(tag: str) -> str:
    return "".join(" " + c.lower() if c.isupper() else c for c in tag).strip()


def _event_definition(el: etree._Element) -> str | None:
    for child in el:
        name = local(child.tag)
        if name.endswith("EventDefinition"):
            return name
    return None


def _check_pass_through(el: etree._Element, refuse) -> None:
    """A plain or manual task runs on by itself (as in Camunda 7) — unless it was meant for a person."""
    meant = [label for attr, label in (("formRef", "a form"), ("formKey", "a form"),
                                       ("candidateGroups", "candidate groups"),
                                       ("candidateUsers", "candidate users"), ("assignee", "an assignee"),
                                       ("dueDate", "a due date")) if el.get(f"{C}{attr}")]
    if meant:
        kind = "manual task" if local(el.tag) == "manualTask" else "task without a type"
        refuse(el, f"this {kind} has {meant[0]}, so it is meant for a person, but a {kind} "
                   "does not wait for anyone (Camunda 7 passes it through)",
               "make it a user task (wrench icon → User task)")


def _check_links(process: etree._Element, refuse) -> None:
    """A link throw must have exactly one catch of the same name in the same (sub)process."""
    for container in [process, *process.iter(*(f"{BPMN}{t}" for t in CONTAINERS))]:
        throws, catches = [], {}
        for el in container:
            name = link_name(el)
            if name is None:
                continue
            if local(el.tag) == "intermediateThrowEvent":
                throws.append((el, name))
            elif local(el.tag) == "intermediateCatchEvent":
                catches.setdefault(name, []).append(el)
            else:
                refuse(el, "a link event must be an intermediate throw or catch event",
                       "use an intermediate throw link event and a catch link event of the same name")
        for name, els in catches.items():
            if len(els) > 1:
                refuse(els[1], f"two link catch events are named {name!r}",
                       "give each link catch event its own name")
        for el, name in throws:
            if not name:
                refuse(el, "this link throw event has no name, so it links to nothing",
                       "name it like the link catch event it jumps to")
            elif name not in catches:
                refuse(el, f"no link catch event named {name!r} in the same process or subprocess",
                       "add an intermediate catch link event with that name, or correct the name")


def _check_nothing_to_run(container: etree._Element, refuse) -> None:
    children = [el for el in container if _is_flow_node(el)]
    starts = [el for el in children if local(el.tag) == "startEvent"]
    ends = [el for el in children if local(el.tag) == "endEvent"]
    what = "the process" if local(container.tag) == "process" else "the subprocess"
    if not children:
        refuse(container, f"nothing to run: {what} is empty", NOTHING_TO_RUN_FIX)
    elif not starts:
        refuse(container, f"nothing to run: {what} has no start event",
               "add a start event (the thin circle) and connect it to the first step")
    elif len(children) == len(starts):
        refuse(container, f"nothing to run: {what} has only a start event", NOTHING_TO_RUN_FIX)
    elif not ends:
        refuse(container, f"nothing to run: {what} has no end event, so a case would never finish",
               "add an end event (the thick circle) after the last step")
    plain = [el for el in starts if _event_definition(el) is None]
    if len(plain) > 1:
        # SpiffWorkflow would start every one of them at once; Camunda 7 refuses this too
        refuse(plain[1], f"{what} has {len(plain)} plain start events; a case starts at one",
               "keep one start event and join the ways with an exclusive gateway after it")


def _check_flows(process: etree._Element, ids: set[str | None], refuse) -> None:
    for flow in process.iter(f"{BPMN}sequenceFlow"):
        for attr, what in (("sourceRef", "from"), ("targetRef", "to")):
            ref = flow.get(attr)
            if not ref or ref not in ids:
                refuse(flow, f"the sequence flow goes {what} {ref!r}, which is not in this process",
                       "delete the flow and draw it again between two elements")
                break


def _check_outgoing(process: etree._Element, el: etree._Element, refuse) -> None:
    """SpiffWorkflow takes one flow out of a task; Camunda 7 takes each (conditions honoured)."""
    tag = local(el.tag)
    if tag in GATEWAYS:
        return
    parent = el.getparent()
    outgoing = [f for f in parent.iterfind(f"{BPMN}sequenceFlow") if f.get("sourceRef") == el.get("id")]
    conditional = [f for f in outgoing if f.find(f"{BPMN}conditionExpression") is not None]
    if conditional:
        refuse(el, "conditional sequence flows straight out of an element are not supported "
                   f"(flow {conditional[0].get('id')})",
               "put an exclusive gateway after it and move the conditions onto the gateway's flows")
    elif len(outgoing) > 1 and tag != "startEvent":
        refuse(el, f"{len(outgoing)} sequence flows leave this element; Polku follows one flow out of a step",
               "put a parallel gateway after it (or an exclusive gateway if only one way should be taken)")
