"""Deploy-time checks of a BPMN document: everything Polku would otherwise find at run time.

Each check appends a ``Problem`` naming the file, element id and name, line and the fix;
nothing stops at the first problem, so a designer sees the whole list at once.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from lxml import etree

from ..errors import Problem
from ..roles import ROLES, role_for_name
from .bpmn_xml import BPMN, C, local, owner_with_id, problem_at
from .construct_checks import check_constructs
from .expressions import (
    ExpressionError,
    compile_expression,
    is_iso_timer_literal,
    juel_hint,
    simple_reference,
)
from .handler_params import TopicSpec, check_task, sets_of
from .message_checks import check_messages
from .multi_instance_checks import check_multi_instance, element_variables, initiator_names
from .parser import camunda_attributes
from .timer_checks import cron_fix, cycle_problem, is_cron, timer_placement_problem

SPIFF_NS = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
NS = {"bpmn": BPMN[1:-1], "camunda": C[1:-1]}
# Case data every process has, whatever its forms: set by Polku when a case starts.
SYSTEM_VARIABLES = frozenset({"client_ref", "region", "pathway", "started_by", "completed_by",
                              "handed_over_from"})
RESERVED_IDS = {"Start", "End", "Root"}
# manualTask and task pass through (construct_checks refuses one meant for a person)
HUMAN_TAGS = ("userTask",)
# BPMN elements whose text SpiffWorkflow evaluates as an expression, and what to call them
EMBEDDED_EXPRESSIONS = {
    "completionCondition": "completion condition",
    "loopCondition": "loop condition",
}


class Checker:
    def __init__(self, root: etree._Element, filename: str, form_keys: dict[str, frozenset[str]],
                 known_topics: Iterable[str], handler_params: Mapping[str, TopicSpec] | None = None):
        self.root = root
        self.filename = filename
        self.form_keys = form_keys
        self.topics = set(known_topics)
        # what each handler declares it takes; None (stored versions being reloaded) checks none
        self.handler_params = handler_params or {}
        self.problems: list[Problem] = []

    def problem(self, el: etree._Element | None, message: str, fix: str | None = None) -> None:
        self.problems.append(problem_at(el, message, file=self.filename, fix=fix))

    # -- entry point -------------------------------------------------------------------
    def run(self) -> list[Problem]:
        if local(self.root.tag) != "definitions" or not self.root.tag.startswith(BPMN):
            self.problem(None, "this is not a BPMN 2.0 file (root element is "
                         f"{local(self.root.tag)!r})", "export the diagram as BPMN from Camunda Modeler")
            return self.problems
        self._refuse_code()
        self._reserved_ids()
        check_messages(self.root, self.problem)
        processes = self.root.findall(f"{BPMN}process")
        if not any(p.get("isExecutable") == "true" for p in processes):
            self.problem(processes[0] if processes else None, "no executable process in this file",
                         "tick 'Executable' on the process in Camunda Modeler")
        for process in processes:
            if process.get("isExecutable") == "true":
                self._check_process(process)
        for path in self.root.iter(f"{BPMN}messagePath", f"{BPMN}dataPath"):
            try:  # message payload names, not case data: only the allow-list applies
                compile_expression(path.text or "")
            except ExpressionError as exc:
                self.problem(owner_with_id(path, path), f"correlation expression {(path.text or '').strip()!r} "
                             f"cannot be used: {exc}", "correlate messages by name and case; remove it")
        return self.problems

    # -- things that would run designer-written code --------------------------------------
    def _refuse_code(self) -> None:
        for el in self.root.iter(f"{BPMN}scriptTask"):
            self.problem(el, "script tasks are not run by Polku (no designer-written code runs)",
                         'use a service task with camunda:type="external" and a registered topic, '
                         "or a gateway condition")
        for tag, what in ((f"{C}executionListener", "execution listener"), (f"{C}taskListener", "task listener"),
                          (f"{C}script", "camunda:script"), (f"{SPIFF_NS}preScript", "pre-script"),
                          (f"{SPIFF_NS}postScript", "post-script")):
            for el in self.root.iter(tag):
                owner = owner_with_id(el, el)
                self.problem(owner, f"{what} found: Polku does not run code written in a diagram",
                             "remove it; call a handler from a service task instead")
        for el in self.root.iter(f"{BPMN}businessRuleTask"):
            self.problem(el, "business rule (DMN) tasks are not supported yet",
                         "use an exclusive gateway with conditions")

    def _reserved_ids(self) -> None:
        for el in self.root.iter():
            eid = el.get("id")
            if eid in RESERVED_IDS or (eid and (eid.endswith(".BoundaryEventSplit") or eid.endswith(".EndJoin"))):
                self.problem(el, f"the id {eid!r} is reserved by the engine (the element would be skipped)",
                             "rename the element's id, e.g. StartEvent_1")

    # -- one process ---------------------------------------------------------------------
    def _check_process(self, process: etree._Element) -> None:
        lanes = inherit_subprocess_lanes(process, _lanes_by_node(process))
        nodes = {el.get("id"): el for el in process.iter() if el.get("id")}
        form_ids = set()
        for el in process.iter(*(f"{BPMN}{t}" for t in (*HUMAN_TAGS, "startEvent"))):
            fid = camunda_attributes(el)["form_id"]
            if fid:
                form_ids.add(fid)
        known = set(SYSTEM_VARIABLES)
        for fid in form_ids:
            known |= self.form_keys.get(fid, frozenset())
        for el in process.iter(f"{BPMN}userTask", f"{BPMN}manualTask", f"{BPMN}serviceTask", f"{BPMN}sendTask"):
            known |= set(camunda_attributes(el)["outputs"])
        known |= sets_of(self.handler_params, (el.get(f"{C}topic") for el in process.iter(
            f"{BPMN}serviceTask", f"{BPMN}sendTask")))
        known |= element_variables(process) | initiator_names(process)
        self.known = known

        for prop in process.iterfind(f"{BPMN}extensionElements/{C}properties/{C}property"):
            if prop.get("name") in ("polku.listable", "polku.measures"):
                names = {v.strip() for v in (prop.get("value") or "").split(",") if v.strip()}
                self._check_names(process, names, prop.get("name"))
        bad_lanes: set[str] = set()
        for el in process.iter(*(f"{BPMN}{t}" for t in HUMAN_TAGS)):
            self._check_human_task(el, lanes, bad_lanes)
        for el in process.iter(f"{BPMN}startEvent"):
            fid = camunda_attributes(el)["form_id"]
            if fid and fid not in self.form_keys:
                self.problem(el, f"form {fid!r} referenced by {el.get('id')} not found in forms/",
                             f"add forms/{fid}.form or correct camunda:formRef")
        for el in process.iter(f"{BPMN}serviceTask", f"{BPMN}sendTask"):
            self._check_service_task(el)
        for el in process.iter(f"{BPMN}sequenceFlow"):
            source = nodes.get(el.get("sourceRef"))
            # a condition straight out of a task is refused whole by construct_checks, once
            if source is None or local(source.tag).endswith("Gateway"):
                self._check_flow(el)
        for el in process.iter(f"{BPMN}timerEventDefinition"):
            self._check_timer(el)
        for el in process.iter(f"{BPMN}exclusiveGateway", f"{BPMN}inclusiveGateway"):
            self._check_gateway(el, nodes)
        self._check_embedded_expressions(process)
        check_constructs(self, process)
        check_multi_instance(self, process)

    def _check_human_task(self, el: etree._Element, lanes: dict[str, etree._Element],
                          bad_lanes: set[str]) -> None:
        a = camunda_attributes(el)
        roles = []
        for group in a["candidate_groups"]:
            role = role_for_name(group)
            if role is None:
                self.problem(el, f"candidate group {group!r} is not a role",
                             f"use one of: {', '.join(ROLES)}")
            roles.append(role)
        if not a["candidate_groups"]:
            lane = lanes.get(el.get("id"))
            if lane is not None:
                if role_for_name(lane.get("name")) is None and lane.get("id") not in bad_lanes:
                    bad_lanes.add(lane.get("id"))
                    self.problem(lane, f"lane {lane.get('name') or lane.get('id')!r} has no role mapping",
                                 "name the lane with a role key or title (e.g. 'Terveydenhoitaja' or "
                                 "'nurse'), or set camunda:candidateGroups on its tasks")
            elif not (a["assignee"] or a["candidate_users"]):
                self.problem(el, "this task has no role: it is in no lane and has no candidate groups",
                             "put it in a lane named after a role, or set camunda:candidateGroups")
        if a["assignee"]:
            self._check_value_expression(el, a["assignee"], "camunda:assignee", allow_literal=True)
        for attr, label in (("due_date", "camunda:dueDate"), ("follow_up_date", "camunda:followUpDate")):
            if a[attr]:
                self._check_value_expression(el, a[attr], label, allow_literal=False, timer=True)
        form_key = el.get(f"{C}formKey")
        if form_key and not el.get(f"{C}formRef") and not form_key.startswith("camunda-forms:"):
            self.problem(el, f"form key {form_key!r} is not a Camunda Form",
                         'link a form-js form: camunda:formRef="<form id>"')
        elif a["form_id"] and a["form_id"] not in self.form_keys:
            self.problem(el, f"form {a['form_id']!r} referenced by {el.get('id')} not found in forms/",
                         f"add forms/{a['form_id']}.form or correct camunda:formRef")
        if el.find(f"{BPMN}extensionElements/{C}formData") is not None:
            self.problem(el, "generated task forms (camunda:formData) are not supported",
                         "design the form in Camunda Modeler as a form-js form and link it with camunda:formRef")

    def _check_service_task(self, el: etree._Element) -> None:
        if el.get(f"{C}class") or el.get(f"{C}expression") or el.get(f"{C}delegateExpression"):
            self.problem(el, "Java delegates and expressions cannot run in Polku",
                         'use camunda:type="external" camunda:topic="<handler topic>"')
            return
        topic = el.get(f"{C}topic")
        if el.get(f"{C}type") != "external" or not topic:
            kind = "send task" if local(el.tag) == "sendTask" else "service task"
            self.problem(el, f"a {kind} needs an external topic",
                         f'set camunda:type="external" camunda:topic to one of: {", ".join(sorted(self.topics))}')
        elif topic not in self.topics:
            self.problem(el, f"no handler is registered for topic {topic!r}",
                         f"use one of: {', '.join(sorted(self.topics)) or '(none registered)'}")
        elif topic in self.handler_params:
            for p in check_task(self.handler_params[topic], el, self.known):
                self.problems.append(problem_at(el, p.message, file=self.filename, fix=p.fix,
                                                line=p.line or el.sourceline, field=p.param))

    def _check_flow(self, el: etree._Element) -> None:
        cond = el.find(f"{BPMN}conditionExpression")
        if cond is None:
            return
        lang = cond.get("language")
        if lang and lang.lower() not in ("python", ""):
            self.problem(el, f"condition in script language {lang!r} would run code",
                         "write the condition as an expression, e.g. decision == 'doctor_needed'")
            return
        self._check_expression(el, cond.text or "", "condition")

    def _check_timer(self, ted: etree._Element) -> None:
        event = ted.getparent()
        for kind in ("timeDuration", "timeDate", "timeCycle"):
            node = ted.find(f"{BPMN}{kind}")
            if node is not None:
                text = (node.text or "").strip()
                placement = timer_placement_problem(ted, kind)
                if placement:
                    self.problem(event, *placement)
                elif not text:
                    self.problem(event, f"the timer's {kind} is empty", "write e.g. P3D or R/P6W")
                elif is_cron(text):
                    self.problem(event, f"the timer {kind} {text!r} is a Camunda 7 cron expression, "
                                 "which Polku does not read", cron_fix(text))
                elif kind == "timeCycle" and is_iso_timer_literal(text) and cycle_problem(text):
                    self.problem(event, cycle_problem(text), cron_fix(""))
                elif simple_reference(text):
                    self._check_names(event, {simple_reference(text)}, f"timer {kind}")
                elif not is_iso_timer_literal(text):
                    self._check_timer_expression(event, text, kind)
                return
        self.problem(event, "the timer has no duration, date or cycle", "write e.g. P3D, R/P6W or a date")

    def _check_timer_expression(self, event: etree._Element, text: str, kind: str) -> None:
        fix = ("write an ISO-8601 duration (P3D, PT1H), a cycle (R/P6W), a date (2026-12-01T09:00), "
               "a case-data name as ${name}, or an expression such as add_days(appointment_at, -3)")
        try:
            compiled = compile_expression(text)
        except ExpressionError as exc:
            reason = "it is JUEL" if juel_hint(text) else str(exc)
            self.problem(event, f"timer {kind} {text!r} is neither ISO-8601 nor a valid expression ({reason})", fix)
            return
        self._check_names(event, compiled.names, f"timer {kind}")

    def _check_gateway(self, el: etree._Element, nodes: dict[str, etree._Element]) -> None:
        outgoing = [n for n in nodes.values()
                    if local(n.tag) == "sequenceFlow" and n.get("sourceRef") == el.get("id")]
        if len(outgoing) < 2:
            return
        default = el.get("default")
        for flow in outgoing:
            if flow.find(f"{BPMN}conditionExpression") is None and flow.get("id") != default:
                self.problem(flow, f"flow from gateway {el.get('id')} has no condition and is not the default",
                             "add a condition, or mark the flow as the gateway's default flow")

    # -- expressions -----------------------------------------------------------------------
    def _check_embedded_expressions(self, process: etree._Element) -> None:
        """Expressions the library evaluates on its own (loop and completion conditions,
        cardinalities): the same allow-list as gateway conditions."""
        for tag, what in EMBEDDED_EXPRESSIONS.items():
            for node in process.iter(f"{BPMN}{tag}"):
                # multi-instance expressions have names of their own: check_multi_instance
                if local(node.getparent().tag) == "multiInstanceLoopCharacteristics":
                    continue
                if (node.text or "").strip():
                    self._check_expression(owner_with_id(node.getparent(), node.getparent()), node.text or "", what)

    def _check_value_expression(self, el, text: str, what: str, *, allow_literal: bool,
                                timer: bool = False) -> None:
        text = text.strip()
        ref = simple_reference(text)
        if ref:
            self._check_names(el, {ref}, what)
        elif timer and is_iso_timer_literal(text):
            return
        elif allow_literal and _is_plain_name(text):
            return  # a literal user name, e.g. camunda:assignee="anna"
        else:
            self._check_expression(el, text, what)

    def _check_expression(self, el, text: str, what: str) -> None:
        try:
            compiled = compile_expression(text)
        except ExpressionError as exc:
            hint = juel_hint(text)
            self.problem(el, f"{what} {text.strip()!r} cannot be used: {exc}" if not hint else f"{what}: {hint}",
                         None if hint else "write a Python-style expression, e.g. score < 5 and urgent == True")
            return
        self._check_names(el, compiled.names, what)

    def _check_names(self, el, names: Iterable[str], what: str) -> None:
        for name in sorted(set(names) - self.known):
            close = difflib.get_close_matches(name, sorted(self.known), n=1)
            self.problem(el, f"{what} uses {name!r}, which no form of this process sets",
                         f"did you mean {close[0]!r}?" if close else
                         "add a form field with that key, or correct the name")


def _is_plain_name(text: str) -> bool:
    return text.replace("_", "").replace(".", "").replace("-", "").isalnum()


def _lanes_by_node(process: etree._Element) -> dict[str, etree._Element]:
    """Node id → its innermost lane (a nested lane's flowNodeRef overrides its parent's)."""
    result: dict[str, etree._Element] = {}
    depth: dict[str, int] = {}
    for lane in process.iter(f"{BPMN}lane"):
        d = sum(1 for _ in lane.iterancestors(f"{BPMN}lane"))
        for ref in lane.findall(f"{BPMN}flowNodeRef"):
            node_id = (ref.text or "").strip()
            if node_id and d >= depth.get(node_id, -1):
                result[node_id], depth[node_id] = lane, d
    return result


def lane_roles(process: etree._Element) -> dict[str, str | None]:
    return {nid: role_for_name(lane.get("name")) for nid, lane in _lanes_by_node(process).items()}


def inherit_subprocess_lanes(process: etree._Element, lanes: dict) -> dict:
    """A node inside an embedded subprocess that no lane lists is in its subprocess's lane
    (Camunda Modeler lists only the subprocess itself in the lane)."""
    result = dict(lanes)
    for sub in process.iter(f"{BPMN}subProcess", f"{BPMN}transaction", f"{BPMN}adHocSubProcess"):
        lane = result.get(sub.get("id"))
        if lane is None:
            continue
        for node in sub.iter():
            if node is not sub and node.get("id") and node.get("id") not in result:
                result[node.get("id")] = lane
    return result
