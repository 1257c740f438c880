"""What a handler says it takes, and the deploy-time check of a service task against it.

A handler module declares its parameters (``@handler("notify", params=[Param(...)], ...)``
in ``orchestrator/services/handler_api.py``); the service layer hands the declarations to the
deploy checker as the plain data below, so the engine never imports a handler. A task whose
parameters the handler cannot use is refused at deploy, naming the parameter and the fix,
instead of failing every case that reaches it.

Parameter values come from ``camunda:inputParameter`` (``$name`` placeholders filled from the
case data when the task runs, see ``waits.render``) and ``camunda:property`` (taken as
written) of the service task.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from string import Template

from lxml import etree

from ..organisations import ORGANISATIONS
from ..roles import ROLES, role_for_name
from .bpmn_xml import BPMN, C

# kind → what the designer writes (the designer guide prints this table)
KINDS: dict[str, str] = {
    "text": "free text; `$name` (or `${name}`) is replaced by the case's value of `name`",
    "boolean": "`true` or `false`",
    "roles": "one or more roles, comma-separated: a role key or its Finnish, Swedish or English title "
             "(the lane rule)",
    "choice": "one of the listed words",
    "field": "the key of a form field (a case-data name), written without `$`",
    "fields": "form-field keys, comma-separated, written without `$`",
    "name": "a name of your choosing: letters, digits and `_`",
    "organisations": "organisation keys, comma-separated (" + ", ".join(ORGANISATIONS) + ")",
}
# Kinds whose value is filled from case data when the task runs: a placeholder is fine there,
# and the value's own check waits until run time.
FILLED = frozenset({"text", "boolean", "roles", "choice"})
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Choice:
    """One allowed word of a ``choice`` (or an extra word of an ``organisations``) parameter."""

    value: str
    doc: str = ""
    reads: str | None = None  # the case-data name the handler then reads (checked to be known)


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    required: bool = False
    doc: str = ""
    choices: tuple[Choice, ...] = ()
    # what the handler uses when the parameter is absent; for a "field" it is the field's key
    # (checked to be known when the task does not set the parameter)
    default: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"parameter {self.name!r}: a choice needs its choices")


@dataclass(frozen=True)
class TopicSpec:
    """Everything a handler declares: its parameters, rules between them and what it sets."""

    topic: str
    params: tuple[Param, ...]
    one_of: tuple[tuple[str, ...], ...] = ()  # exactly one parameter of each group is set
    sets: tuple[str, ...] = ()  # case-data names the handler's result adds (known to later steps)
    doc: str = ""
    example: tuple[tuple[str, str], ...] = ()  # (parameter, value) pairs of a working task
    by_name: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.params})
        for group in self.one_of:
            for name in group:
                if name not in self.by_name:
                    raise ValueError(f"topic {self.topic!r}: one_of names {name!r}, which is not a parameter")


@dataclass(frozen=True)
class ParamProblem:
    message: str
    fix: str
    param: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class _Value:
    text: str
    line: int | None
    source: str  # "inputParameter" or "property"
    nested: str | None  # "list", "map" or "script" when the value is one instead of text


def task_values(el: etree._Element) -> dict[str, _Value]:
    """The parameters a service task passes, as the runtime merges them (inputs win)."""
    values: dict[str, _Value] = {}
    ext = el.find(f"{BPMN}extensionElements")
    if ext is None:
        return values
    for prop in ext.iterfind(f"{C}properties/{C}property"):
        name = prop.get("name") or ""
        if name and not name.startswith("polku."):  # polku.* properties are Polku's, not the handler's
            values[name] = _Value((prop.get("value") or "").strip(), prop.sourceline, "property", None)
    for param in ext.iterfind(f"{C}inputOutput/{C}inputParameter"):
        name = param.get("name") or ""
        if name:
            child = next((c for c in param if isinstance(c.tag, str)), None)
            nested = etree.QName(child).localname if child is not None else None
            values[name] = _Value((param.text or "").strip(), param.sourceline, "inputParameter", nested)
    return values


def placeholders(text: str) -> tuple[list[str], list[str]]:
    """``"Hei $client_ref (${urgency})"`` → ``(["client_ref", "urgency"], [])``, read the way
    ``render`` fills them (``$$`` is a literal $); the second list holds ``${…}`` that are not
    a name and so stay as written."""
    names, broken = [], []
    for m in Template.pattern.finditer(text):
        if m.group("named") or m.group("braced"):
            names.append(m.group("named") or m.group("braced"))
        elif m.group("invalid") is not None and text[m.start("invalid"):].startswith("{"):
            broken.append(text[m.start() : text.find("}", m.start()) + 1 or len(text)])
    return names, broken


def check_task(spec: TopicSpec, el: etree._Element, known: set[str]) -> list[ParamProblem]:
    """Every way the task's parameters would fail the handler, each with its fix."""
    values = task_values(el)
    problems: list[ParamProblem] = []
    topic = spec.topic
    for name, value in values.items():
        if name not in spec.by_name:
            close = difflib.get_close_matches(name, list(spec.by_name), n=1)
            takes = ", ".join(spec.by_name) or "no parameters"
            problems.append(ParamProblem(
                f"{topic} has no parameter {name!r}",
                (f"did you mean {close[0]!r}? " if close else "remove it; ") + f"{topic} takes: {takes}",
                name, value.line))
    given = {n for n, v in values.items() if v.text or v.nested}
    for param in spec.params:
        if param.required and param.name not in given:
            problems.append(ParamProblem(
                f"{topic} needs the parameter {param.name!r}",
                f'add camunda:inputParameter name="{param.name}": {param.doc}', param.name, el.sourceline))
    for group in spec.one_of:
        present = [n for n in group if n in given]
        names = " or ".join(repr(n) for n in group)
        if not present:
            problems.append(ParamProblem(
                f"{topic} needs one of the parameters {names}",
                "; ".join(f'add camunda:inputParameter name="{n}": {spec.by_name[n].doc}' for n in group),
                group[0], el.sourceline))
        elif len(present) > 1:
            problems.append(ParamProblem(
                f"{topic} takes only one of the parameters {names}, and this task sets {len(present)}",
                f"keep one of {', '.join(present)}", present[1], values[present[1]].line))
    for name, value in values.items():
        param = spec.by_name.get(name)
        if param is not None:
            problems.extend(_check_value(topic, param, value, known))
    for param in spec.params:
        if param.name not in given and param.kind == "field" and param.default and param.default not in known:
            problems.append(ParamProblem(
                f"{topic} reads {param.default!r} when {param.name!r} is not set, and no form of this process "
                "sets it", f'set camunda:inputParameter name="{param.name}" to the field that holds it: '
                f"{param.doc}", param.name, el.sourceline))
    return problems


def _check_value(topic: str, param: Param, value: _Value, known: set[str]) -> list[ParamProblem]:
    def problem(message: str, fix: str) -> ParamProblem:
        return ParamProblem(message, fix, param.name, value.line)

    what = f"{topic} parameter {param.name!r}"
    if value.nested == "script":
        return []  # refused as code already (validation._refuse_code)
    if value.nested:
        return [problem(f"{what} is a camunda:{value.nested}, which Polku does not read",
                        "write the value as text (several values comma-separated)")]
    text = value.text
    if not text:
        return []  # an empty parameter is an absent one: the required / one-of checks report it
    names, broken = placeholders(text)
    if (names or broken) and param.kind not in FILLED:
        return [problem(f"{what} names a case-data field, but {text!r} would be replaced by the field's value",
                        f"write the field key without $: {text.replace('$', '').strip('{}')}")]
    if (names or broken) and value.source == "property":
        return [problem(f"{what} is a camunda:property, whose $placeholders are not filled from case data",
                        f'make it a camunda:inputParameter name="{param.name}"')]
    if names or broken:
        return _check_placeholders(what, names, broken, known, problem)
    if param.kind == "boolean" and text.lower() not in ("true", "false"):
        return [problem(f"{what} must be true or false, not {text!r}", 'write "true" or "false"')]
    if param.kind == "roles":
        return [problem(f"{what}: {item!r} is not a role", _did_you_mean(item, list(ROLES), "use one of"))
                for item in _items(text) if role_for_name(item) is None]
    if param.kind == "choice":
        choices = {c.value: c for c in param.choices}
        if text not in choices:
            return [problem(f"{what} must be one of {', '.join(choices)}, not {text!r}",
                            _did_you_mean(text, list(choices), "use one of"))]
        reads = choices[text].reads
        if reads and reads not in known:
            return [problem(f"{what} = {text!r} reads the case-data field {reads!r}, which no form of this "
                            "process sets", f"add a form field with the key {reads!r} ({choices[text].doc})")]
        return []
    if param.kind in ("field", "fields"):
        items = [text] if param.kind == "field" else _items(text)
        return [problem(f"{what} names {item!r}, which no form of this process sets",
                        _did_you_mean(item, sorted(known), "add a form field with that key, or correct the name")
                        if NAME.match(item)
                        else "write the key of a form field (letters, digits and _)")
                for item in items if item not in known]
    if param.kind == "name" and not NAME.match(text):
        return [problem(f"{what} {text!r} is not a name", "use letters, digits and _, e.g. health_check_summary")]
    if param.kind == "organisations":
        allowed = [*ORGANISATIONS, *(c.value for c in param.choices)]
        return [problem(f"{what}: {item!r} is not an organisation", _did_you_mean(item, allowed, "use one of"))
                for item in _items(text) if item not in allowed]
    return []


def _check_placeholders(what: str, names: list[str], broken: list[str], known: set[str],
                        problem) -> list[ParamProblem]:
    result = [problem(f"{what}: {raw!r} is not a case-data name, so it would stay as written",
                      "write $name or ${name} with the key of a form field (no expressions, no spaces)")
              for raw in broken]
    for name in sorted(set(names) - known):
        result.append(problem(f"{what} uses ${name}, which no form of this process sets",
                              _did_you_mean(name, sorted(known), "add a form field with that key, or correct "
                                            "the name (write $$ for a literal $)")))
    return result


def _items(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _did_you_mean(word: str, options: list[str], otherwise: str) -> str:
    """"did you mean 'x'?" when a close option exists; else ``otherwise`` ("use one of" lists them)."""
    close = difflib.get_close_matches(word, options, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"use one of: {', '.join(options)}" if otherwise == "use one of" else otherwise


def sets_of(specs: Mapping[str, TopicSpec], topics: Iterable[str]) -> set[str]:
    """Case-data names the handlers of ``topics`` add to a case."""
    return {name for t in topics if t in specs for name in specs[t].sets}
