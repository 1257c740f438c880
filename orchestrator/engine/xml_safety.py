"""Parse untrusted XML without XXE, entity expansion, network access or huge trees."""
from __future__ import annotations

from lxml import etree

from ..errors import DeploymentError, Problem

DEFAULT_MAX_BYTES = 5 * 1024 * 1024


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=False,
    )


def parse_xml(data: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Return the root element, or raise ``DeploymentError`` naming the file and line.

    A DOCTYPE is refused outright: BPMN never needs one, and refusing it closes every
    entity-expansion and external-entity trick at once rather than defusing them one by one.
    """
    if len(data) > max_bytes:
        raise DeploymentError(
            f"{filename} is too large", [Problem(
                f"file is {len(data):,} bytes; the limit is {max_bytes:,} bytes",
                file=filename, fix="split the model or raise POLKU_MAX_UPLOAD_BYTES")])
    if _declares_doctype(data):
        raise DeploymentError(f"{filename} declares a DOCTYPE", [_doctype_problem(filename, data)])
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise DeploymentError(f"{filename} is not well-formed XML", [Problem(
            f"XML syntax error: {exc.msg}", file=filename, line=line,
            fix="the file is not a whole BPMN diagram (cut short or edited by hand): open it in Camunda "
                "Modeler and save it again, or correct the XML at this line")]) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise DeploymentError(f"{filename} declares a DOCTYPE", [_doctype_problem(filename, data)])
    return root


_DOCTYPE_MARKS = [mark.encode(enc) for mark in ("<!DOCTYPE", "<!ENTITY")
                  for enc in ("utf-8", "utf-16-le", "utf-16-be")]


def _declares_doctype(data: bytes) -> bool:
    """Checked on the raw bytes, before libxml2 sees them, so an entity bomb is named as such."""
    return any(mark in data for mark in _DOCTYPE_MARKS)


def _doctype_problem(filename: str, data: bytes) -> Problem:
    head = data.split(b"<!DOCTYPE", 1)[0] if b"<!DOCTYPE" in data else b""
    return Problem("DOCTYPE and entity declarations are not allowed in BPMN files",
                   file=filename, line=head.count(b"\n") + 1,
                   fix="remove the <!DOCTYPE …> block; Camunda Modeler never writes one")
