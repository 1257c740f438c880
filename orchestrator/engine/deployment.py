"""Turn BPMN + form files into validated, runnable process models — or a list of problems."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from ..errors import DeploymentError, Problem
from .forms import FormSchema, parse_form
from .handler_params import TopicSpec
from .library_messages import problem_from_library
from .library_view import library_view
from .parser import C, PolkuParser, attrs
from .validation import BPMN, Checker, lane_roles
from .xml_safety import DEFAULT_MAX_BYTES, parse_xml

_VALIDATOR: BpmnValidator | None = None


def _validator() -> BpmnValidator:
    global _VALIDATOR  # the XSD takes ~100 ms to load; build it once per process
    if _VALIDATOR is None:
        _VALIDATOR = BpmnValidator()
    return _VALIDATOR


@dataclass(frozen=True)
class Element:
    """What the task index, dashboards and diagrams need to know of one flow node."""

    id: str
    name: str
    type: str
    role: str | None


@dataclass
class ProcessModel:
    process_id: str
    name: str
    bpmn: str
    filename: str
    forms: dict[str, FormSchema]
    spec: object = field(repr=False)
    subprocess_specs: dict = field(repr=False, default_factory=dict)
    elements: dict[str, Element] = field(default_factory=dict)
    start_form_id: str | None = None
    # case-data fields the process marks listable (process property polku.listable): copied
    # into the task index so inboxes can show and filter them without loading a workflow
    listable: tuple[str, ...] = ()
    # numeric fields recorded as observations at every step that sets them (polku.measures)
    measures: tuple[str, ...] = ()
    # user task id → milestone name (element property polku.milestone), for flow measures
    milestones: dict[str, str] = field(default_factory=dict)

    @property
    def start_form(self) -> FormSchema | None:
        return self.forms.get(self.start_form_id) if self.start_form_id else None

    def content_hash(self) -> str:
        h = hashlib.sha256(self.bpmn.encode())
        for fid in sorted(self.forms):
            h.update(fid.encode() + b"\0" + self.forms[fid].source.encode())
        return h.hexdigest()

    def forms_json(self) -> str:
        return json.dumps({fid: f.source for fid, f in sorted(self.forms.items())})


def read_forms(files: Mapping[str, bytes | str]) -> tuple[dict[str, FormSchema], list[Problem]]:
    forms: dict[str, FormSchema] = {}
    problems: list[Problem] = []
    for name, data in sorted(files.items()):
        try:
            schema = parse_form(data, name)
        except DeploymentError as exc:
            problems.extend(exc.problems)
            continue
        forms[schema.form_id] = schema
    return forms, problems


def build_models(bpmn_files: Mapping[str, bytes | str], forms: Mapping[str, FormSchema],
                 known_topics: Iterable[str], max_bytes: int = DEFAULT_MAX_BYTES,
                 form_problems: Iterable[Problem] = (),
                 handler_params: Mapping[str, TopicSpec] | None = None) -> list[ProcessModel]:
    """Validate every file and return one model per executable process.

    ``handler_params`` (topic → what its handler declares) checks each service task's
    parameters; without it only the topics are checked (a stored version being reloaded).

    Raises ``DeploymentError`` listing every problem in every file; nothing is returned
    unless all files are valid, so a deploy is all-or-nothing.
    """
    problems: list[Problem] = list(form_problems)
    topics = list(known_topics)
    form_keys = {fid: f.keys for fid, f in forms.items()}
    models: list[ProcessModel] = []
    seen: dict[str, str] = {}
    for filename, data in sorted(bpmn_files.items()):
        raw = data.encode() if isinstance(data, str) else data
        try:
            root = parse_xml(raw, filename, max_bytes)
        except DeploymentError as exc:
            problems.extend(exc.problems)
            continue
        found = Checker(root, filename, form_keys, topics, handler_params).run()
        if found:
            problems.extend(found)
            continue
        encoding = root.getroottree().docinfo.encoding or "utf-8"
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            problems.append(Problem(f"the file is not valid {encoding} text", file=filename,
                                    fix="save the file as UTF-8 (Camunda Modeler always does)"))
            continue
        try:
            file_models = _parse(root, text, filename, forms)
        except DeploymentError as exc:
            problems.extend(exc.problems)
            continue
        for m in file_models:
            if m.process_id in seen:
                problems.append(Problem(f"process id {m.process_id!r} is also defined in {seen[m.process_id]}",
                                        file=filename, element_id=m.process_id, fix="give each process its own id"))
            seen[m.process_id] = filename
        models.extend(file_models)
    if problems:
        raise DeploymentError(f"deployment rejected: {len(problems)} problem(s)", problems)
    return models


def _parse(root: etree._Element, text: str, filename: str, forms: Mapping[str, FormSchema]) -> list[ProcessModel]:
    parser = PolkuParser(validator=_validator())
    try:
        parser.add_bpmn_xml(library_view(root), filename=filename)
        result = []
        for process in root.findall(f"{BPMN}process"):
            if process.get("isExecutable") != "true":
                continue
            pid = process.get("id")
            spec = parser.get_spec(pid)
            subprocess_specs = parser.get_subprocess_specs(pid)
            result.append(_model(pid, process, spec, subprocess_specs, text, filename, forms))
        return result
    except (ValidationException, NotImplementedError) as exc:
        raise DeploymentError("invalid BPMN", [problem_from_library(exc, root, filename)]) from None
    except (SpiffWorkflowException, RecursionError, ValueError, KeyError, AttributeError) as exc:
        if isinstance(exc, RecursionError):
            problem = Problem("cannot parse the process: the model is too deeply nested to parse", file=filename,
                              fix="split the pathway into called processes or embedded subprocesses")
        else:
            problem = problem_from_library(exc, root, filename)
        raise DeploymentError("invalid BPMN", [problem]) from None


def _model(pid, process, spec, subprocess_specs, text, filename, forms) -> ProcessModel:
    roles = lane_roles(process)
    elements: dict[str, Element] = {}
    used_forms: dict[str, FormSchema] = {}
    start_form = None
    from ..roles import role_for_name
    for ts in spec.task_specs.values():
        bpmn_id = getattr(ts, "bpmn_id", None)
        if not bpmn_id:
            continue
        a = attrs(ts)
        groups = [role_for_name(g) for g in a.get("candidate_groups", [])]
        role = groups[0] if groups else roles.get(bpmn_id)
        elements[bpmn_id] = Element(bpmn_id, getattr(ts, "bpmn_name", None) or bpmn_id,
                                    type(ts).__name__, role)
        fid = a.get("form_id")
        if fid:
            used_forms[fid] = forms[fid]
            if type(ts).__name__ == "StartEvent":
                start_form = fid
    milestones = {}
    for ts in spec.task_specs.values():
        name = attrs(ts).get("properties", {}).get("polku.milestone")
        if name and getattr(ts, "bpmn_id", None):
            milestones[ts.bpmn_id] = name
    return ProcessModel(pid, process.get("name") or pid, text, filename, used_forms, spec,
                        subprocess_specs, elements, start_form, process_property(process, "polku.listable"),
                        process_property(process, "polku.measures"), milestones)


def process_property(process: etree._Element, name: str) -> tuple[str, ...]:
    """A comma-separated process-level camunda:property (polku.listable, polku.measures)."""
    for prop in process.iterfind(f"{BPMN}extensionElements/{C}properties/{C}property"):
        if prop.get("name") == name:
            return tuple(v.strip() for v in (prop.get("value") or "").split(",") if v.strip())
    return ()


def _line_of(root: etree._Element, element_id: str | None) -> int | None:
    if not element_id:
        return None
    hits = root.xpath("//*[@id=$i]", i=element_id)
    return hits[0].sourceline if hits else None


def _clean_message(text: str) -> str:
    return text.rstrip(". ").replace("Error parsing BPMN: ", "")
