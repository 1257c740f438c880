"""What every deploy check reads the same way from a BPMN file: its namespaces, an element's
tag, the element a problem is reported on, and that problem's location."""
from __future__ import annotations

from lxml import etree

from ..errors import Problem

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
C = "{http://camunda.org/schema/1.0/bpmn}"


def local(tag: object) -> str:
    """``{namespace}userTask`` → ``userTask`` (comments and processing instructions: "")."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def owner_with_id(el: etree._Element | None, default: etree._Element | None = None) -> etree._Element | None:
    """``el`` or its nearest ancestor with an id: what a designer can select in the modeller
    (``default`` when nothing above it has one)."""
    node = el
    while node is not None and not node.get("id"):
        node = node.getparent()
    return default if node is None else node


def problem_at(el: etree._Element | None, message: str, *, file: str | None, fix: str | None = None,
               **more: object) -> Problem:
    """A problem located at ``el``: its id, name and line (``more`` may name a closer line or a field)."""
    where: dict = {"element_id": el.get("id"), "element_name": el.get("name"), "line": el.sourceline} \
        if el is not None else {"element_id": None, "element_name": None, "line": None}
    return Problem(message, file=file, fix=fix, **{**where, **more})


def link_name(el: etree._Element) -> str | None:
    """The name a link event links by (its definition's, else the event's); None if no link event."""
    link = el.find(f"{BPMN}linkEventDefinition")
    if link is None:
        return None
    return (link.get("name") or el.get("name") or "").strip()
