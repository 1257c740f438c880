"""The designer guide's topic section, written from what the handlers declare.

``docs/designer-guide.md`` holds the section between ``BEGIN`` and ``END`` below; a test
fails when it differs from the declarations, and ``run.py topics --update-guide`` rewrites it.
"""
from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import escape

from ..engine.handler_params import KINDS, Param, TopicSpec
from .handler_api import HandlerRegistry

BEGIN = "<!-- BEGIN GENERATED: topics (python run.py topics --update-guide docs/designer-guide.md) -->"
END = "<!-- END GENERATED: topics -->"


def topics_markdown(specs: Mapping[str, TopicSpec], undeclared: tuple[str, ...] = ()) -> str:
    """One subsection per topic: what it does, its parameters, the rules, an example task."""
    out = ["Parameters are `camunda:inputParameter`s of the service task (Camunda Modeler: *Inputs*), "
           "or `camunda:property`s (*Extension properties*, taken as written: no `$name`). "
           "Deploy refuses a parameter the handler does not take, a missing required one, and a "
           "value of the wrong kind:", "",
           "| Kind | What to write |", "|---|---|"]
    out += [f"| {kind} | {what} |" for kind, what in KINDS.items()]
    for topic, spec in sorted(specs.items()):
        out += ["", f"### `{topic}`", "", spec.doc, "",
                "| Parameter | Kind | Required | What it is |", "|---|---|---|---|"]
        out += [_row(spec, p) for p in spec.params]
        for group in spec.one_of:
            out += ["", "Exactly one of " + " or ".join(f"`{n}`" for n in group) + " must be set."]
        if spec.sets:
            out += ["", "Sets in the case data (usable in later conditions): "
                    + ", ".join(f"`{n}`" for n in spec.sets) + "."]
        if spec.example:
            out += ["", "```xml", *example_xml(spec), "```"]
    for topic in undeclared:
        out += ["", f"### `{topic}`", "", "This handler declares no parameters; deploy does not check them."]
    return "\n".join(out) + "\n"


def _row(spec: TopicSpec, p: Param) -> str:
    grouped = next((g for g in spec.one_of if p.name in g), None)
    required = "yes" if p.required else ("one of " + ", ".join(f"`{n}`" for n in grouped) if grouped else "no")
    text = p.doc
    if p.choices:
        text += (": " if p.kind == "choice" else "; also ") + "; ".join(f"`{c.value}`" + (f" — {c.doc}" if c.doc and c.doc != c.value else "")
                                 for c in p.choices)
    if p.default:
        text += f" (default: {p.default})"
    return f"| `{p.name}` | {p.kind} | {required} | {text.replace('|', '/')} |"


def example_xml(spec: TopicSpec) -> list[str]:
    name = spec.topic.replace("_", " ").capitalize()
    lines = [f'<bpmn:serviceTask id="Task_{spec.topic.title().replace("_", "")}" name="{name}" '
             f'camunda:type="external" camunda:topic="{spec.topic}">',
             "  <bpmn:extensionElements>", "    <camunda:inputOutput>"]
    lines += [f'      <camunda:inputParameter name="{k}">{escape(v)}</camunda:inputParameter>'
              for k, v in spec.example]
    lines += ["    </camunda:inputOutput>", "  </bpmn:extensionElements>", "</bpmn:serviceTask>"]
    return lines


def with_topics(guide: str, section: str) -> str:
    """``guide`` with the text between the markers replaced by ``section``."""
    start, end = guide.find(BEGIN), guide.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the guide has no generated topic section (the lines {BEGIN!r} … {END!r})")
    return guide[: start + len(BEGIN)] + "\n" + section + guide[end:]


def topics_in(guide: str) -> str | None:
    """The generated section as it stands in ``guide`` (None when the markers are missing)."""
    start, end = guide.find(BEGIN), guide.find(END)
    if start < 0 or end < start:
        return None
    return guide[start + len(BEGIN) + 1: end]


def registry_markdown(registry: HandlerRegistry) -> str:
    """The section for every registered topic, declared or not."""
    specs = registry.specs
    return topics_markdown(specs, tuple(t for t in registry.topics if t not in specs))
