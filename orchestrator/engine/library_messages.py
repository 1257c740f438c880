"""SpiffWorkflow's and the BPMN schema's complaints, said in Polku's words with a place and a fix.

The deploy checks refuse almost everything first, in their own words; what still reaches the
library (a schema error, a construct no check knows) comes back through here, so a designer
never reads "No start event found", an XSD message full of namespaces, a Python repr such as
``NotImplementedError(...)`` or ``<Element … at 0x…>``.
"""
from __future__ import annotations

import re

from lxml import etree

from ..errors import Problem
from .bpmn_xml import owner_with_id

_NS = re.compile(r"\{[^}]*\}")
_ELEMENT_REPR = re.compile(r"<Element \{[^}]*\}([\w.-]+) at 0x[0-9a-fA-F]+>")
_REPR_CALL = re.compile(r"^\w+(Error|Exception)\((.*)\)$", re.S)
_XSD_ELEMENT = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: (.*)$", re.S)
_MISSING_PROCESS = re.compile(r"The process '([^']*)' was not found")
_ID_IN_XML = re.compile(r"""\bid=["']([^"']+)["']""")
GENERIC_FIX = ("open the diagram in Camunda Modeler, check this element against the designer guide, "
               "and redraw it with a supported element")
SCHEMA_FIX = "open and save the file in Camunda Modeler, or remove what is at this line"

# (text the library writes, our message, our fix); first match wins.
_KNOWN = (
    ("No start event found", "nothing to run: the process has no start event",
     "add a start event (the thin circle) and connect it to the first step"),
    ("Multiple outgoing flows are not supported",
     "several sequence flows leave this element; Polku follows one flow out of a step",
     "put a parallel gateway after it (or an exclusive gateway if only one way should be taken)"),
    ("There is no support implemented for this task type", "this kind of element is not supported",
     "replace it with a user task, a service task or a gateway"),
    ("perhaps a form has the same ID", "a sequence flow goes to an element that is not in this process",
     "delete the flow and draw it again between two elements"),
    ("Unsupported Catch Event", "this event has no type Polku can wait for",
     "give it a timer, message or error definition, or remove it"),
    ("Cannot resolve dataInputAssociation", "a data association points to nothing",
     "delete the data association and draw it again"),
    ("Cannot resolve dataOutputAssociation", "a data association points to nothing",
     "delete the data association and draw it again"),
    ("Cancel Events may only be used with transactions", "cancel events are not supported",
     "end the subprocess normally and draw the undoing as ordinary steps"),
)


def problem_from_library(exc: Exception, root: etree._Element, filename: str) -> Problem:
    """One located ``Problem`` for an exception raised while the library parsed ``root``."""
    raw = str(exc)
    element_id = getattr(exc, "id", None) or _id_in(exc)
    line = getattr(exc, "line_number", None) or None
    missing = _MISSING_PROCESS.search(raw)
    if missing and not element_id:  # the library names the process only: point at who calls it
        callers = root.xpath("//*[@calledElement=$p]", p=missing.group(1))
        element_id = callers[0].get("id") if callers else None
    el = _element(root, element_id, line)
    if el is not None:
        element_id = el.get("id") or element_id
        line = line or el.sourceline
    schema = _schema_message(raw)
    if schema is not None:
        message, fix = schema
    elif missing:
        message = f"the called process {missing.group(1)!r} is not deployed"
        fix = "deploy it in the same deploy or before this one, or correct the called element"
    else:
        message, fix = next(((ours, fix) for text, ours, fix in _KNOWN if text in raw),
                            (f"the engine cannot use this element: {clean(raw)}", GENERIC_FIX))
    return Problem(message, file=filename, element_id=element_id or None,
                   element_name=(el.get("name") if el is not None else None) or getattr(exc, "name", None) or None,
                   line=line or None, fix=fix)


def clean(text: str) -> str:
    """Library text with reprs, namespaces and trailing punctuation taken out."""
    text = text.replace("Error parsing BPMN: ", "").strip().rstrip(". ")
    match = _REPR_CALL.match(text)
    if match:  # "NotImplementedError('Unsupported Catch Event: %r', b'<bpmn:…>')": keep the words
        words = re.findall(r"'([^']*)'", match.group(2))
        text = words[0].replace("%r", "").strip(" :") if words else match.group(1)
    text = _ELEMENT_REPR.sub(lambda m: m.group(1), text)
    text = _NS.sub("", text)
    return text.rstrip(". ")


def _schema_message(raw: str) -> tuple[str, str] | None:
    """An XSD validation message ("Element '{ns}foo': This element is not expected. …")."""
    match = _XSD_ELEMENT.match(raw.strip())
    if not match:
        return None
    tag, attribute, what = _NS.sub("", match.group(1)), match.group(2), match.group(3)
    what = what.split(" Expected is", 1)[0].strip()
    if attribute:
        return (f"the file does not follow the BPMN 2.0 schema: attribute {attribute!r} of <{tag}> — "
                f"{_NS.sub('', what).rstrip('. ')}", SCHEMA_FIX)
    if "not expected" in what:
        return (f"the file does not follow the BPMN 2.0 schema: <{tag}> is not allowed here", SCHEMA_FIX)
    return (f"the file does not follow the BPMN 2.0 schema: <{tag}> — {_NS.sub('', what).rstrip('. ')}",
            SCHEMA_FIX)


def _id_in(exc: Exception) -> str | None:
    for arg in getattr(exc, "args", ()):
        text = arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)
        match = _ID_IN_XML.search(text)
        if match:
            return match.group(1)
    return None


def _element(root: etree._Element, element_id: str | None, line: int | None) -> etree._Element | None:
    if element_id:
        hits = root.xpath("//*[@id=$i]", i=element_id)
        if hits:
            return hits[0]
    if line:
        # a schema error names a line only: the element that starts there, or its nearest owner with an id
        for el in root.iter():
            if isinstance(el.tag, str) and el.sourceline == line:
                return owner_with_id(el)
    return None
