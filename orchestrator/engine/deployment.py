"""Turn BPMN + form files into validated, runnable process models — or a list of problems."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from ..errors import DeploymentError, Problem
from .bpmn_xml import BPMN, C
from .calls import Source, called_sources, check_calls
from .forms import FormSchema, parse_form
from .handler_params import TopicSpec
from .library_messages import problem_from_library
from .library_view import library_view
from .parser import PolkuParser, attrs, label
from .validation import Checker, lane_roles
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
    # called process id → (file name, BPMN text) of the files its call activities reach,
    # stored with the version so the called processes are rebuilt as they were deployed
    calls: dict[str, tuple[str, str]] = field(default_factory=dict)
    # ids of its event subprocesses (they stop listening when the rest of the process ends)
    event_subprocesses: frozenset[str] = frozenset()

    @property
    def start_form(self) -> FormSchema | None:
        return self.forms.get(self.start_form_id) if self.start_form_id else None

    def content_hash(self) -> str:
        h = hashlib.sha256(self.bpmn.encode())
        for fid in sorted(self.forms):
            h.update(fid.encode() + b"\0" + self.forms[fid].source.encode())
        for pid in sorted(self.calls):
            h.update(b"\0call\0" + pid.encode() + b"\0" + self.calls[pid][1].encode())
        return h.hexdigest()

    def forms_json(self) -> str:
        stored: dict = {fid: f.source for fid, f in sorted(self.forms.items())}
        if self.calls:  # not a form id: form ids are form-js ids, never starting with '@'
            stored[CALLS_KEY] = {pid: list(src) for pid, src in sorted(self.calls.items())}
        return json.dumps(stored)


CALLS_KEY = "@calls"


def stored_forms(forms_json: str) -> dict[str, str]:
    """Form id → form-js text, as ``ProcessModel.forms_json`` stored them."""
    return {k: v for k, v in json.loads(forms_json).items() if k != CALLS_KEY}


def stored_calls(forms_json: str) -> dict[str, tuple[str, str]]:
    """Called process id → (file name, BPMN text), as ``ProcessModel.forms_json`` stored them."""
    return {pid: (name, text) for pid, (name, text) in json.loads(forms_json).get(CALLS_KEY, {}).items()}


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
                 handler_params: Mapping[str, TopicSpec] | None = None,
                 library: Mapping[str, tuple[str, str]] | None = None) -> list[ProcessModel]:
    """Validate every file and return one model per executable process.

    ``handler_params`` (topic → what its handler declares) checks each service task's
    parameters; without it only the topics are checked (a stored version being reloaded).
    ``library`` (process id → (file name, BPMN text)) holds what call activities may call
    besides the processes of these files: the latest deployed version of each process.

    Raises ``DeploymentError`` listing every problem in every file; nothing is returned
    unless all files are valid, so a deploy is all-or-nothing.
    """
    library = dict(library or {})
    problems: list[Problem] = list(form_problems)
    topics = list(known_topics)
    form_keys = {fid: f.keys for fid, f in forms.items()}
    models: list[ProcessModel] = []
    seen: dict[str, str] = {}
    sources: list[Source] = []
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
        sources.append(Source(filename, text, root))
    call_problems = check_calls(sources, library)
    problems.extend(call_problems)
    failing = {p.file for p in call_problems}
    for src in sources:
        if src.name in failing:
            continue
        filename = src.name
        try:
            extra, calls = called_sources(src, sources, library, max_bytes)
            file_models = _parse(src.root, src.text, filename, forms, extra, calls)
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


def _parse(root: etree._Element, text: str, filename: str, forms: Mapping[str, FormSchema],
           extra: Iterable[Source] = (), calls: Mapping[str, tuple[str, str]] | None = None) -> list[ProcessModel]:
    parser = PolkuParser(validator=_validator())
    try:
        parser.add_bpmn_xml(library_view(root), filename=filename)
        for src in extra:
            parser.add_bpmn_xml(library_view(src.root), filename=src.name)
        result = []
        for process in root.findall(f"{BPMN}process"):
            if process.get("isExecutable") != "true":
                continue
            pid = process.get("id")
            spec = parser.get_spec(pid)
            subprocess_specs = parser.get_subprocess_specs(pid)
            model = _model(pid, process, spec, subprocess_specs, text, filename, forms)
            model.calls = {p: src for p, src in (calls or {}).items() if p in subprocess_specs}
            # event subprocesses of this process and of the processes it calls
            event_subs = [el for r in (root, *(src.root for src in extra))
                          for el in r.iter(f"{BPMN}subProcess") if el.get("triggeredByEvent") == "true"]
            model.event_subprocesses = frozenset(el.get("id") for el in event_subs)
            result.append(model)
        return result
    except ValidationException as ve:
        problem = problem_from_library(ve, root, filename)
        if str(ve).startswith("Duplicate process ID") and extra:
            # a called file reuses a (sub)process id of the caller: Spiff keys both by id
            problem = replace(problem, message=f"the id {ve.id!r} is used both in {filename} and in a process "
                              f"it calls ({', '.join(sorted({src.name for src in extra}))})",
                              fix="give one of them another id (Camunda Modeler: select it, then General → ID)")
        raise DeploymentError("invalid BPMN", [problem]) from None
    except NotImplementedError as exc:
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
        elements[bpmn_id] = Element(bpmn_id, label(ts),
                                    type(ts).__name__, role)
        fid = a.get("form_id")
        if fid:
            used_forms[fid] = forms[fid]
            if type(ts).__name__ == "StartEvent":
                start_form = fid
    # Tasks of embedded subprocesses and called processes: their forms are stored with the
    # version too, and their roles come from the lanes Spiff gives them (a called process's
    # own lanes; an embedded subprocess's enclosing lane).
    for sub in subprocess_specs.values():
        for ts in (sub.task_specs.values() if sub is not None else ()):
            bpmn_id = getattr(ts, "bpmn_id", None)
            if not bpmn_id:
                continue
            a = attrs(ts)
            groups = [role_for_name(g) for g in a.get("candidate_groups", [])]
            kind = type(ts).__name__
            role = None if kind == "StartEvent" else (
                groups[0] if groups else roles.get(bpmn_id) or role_for_name(getattr(ts, "lane", None) or ""))
            elements.setdefault(bpmn_id, Element(bpmn_id, label(ts), kind, role))
            if a.get("form_id") and a["form_id"] in forms:
                used_forms[a["form_id"]] = forms[a["form_id"]]
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
