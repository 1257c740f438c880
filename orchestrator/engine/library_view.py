"""The copy of a BPMN document SpiffWorkflow is given: what Camunda 7 ignores or joins is
ignored or joined here too, so the library carries it the way a Camunda 7 user expects.

- Data objects, data stores and their associations (and ``ioSpecification``) are
  documentation in Camunda 7. SpiffWorkflow instead *moves* a task's variable into a data
  object (and fails the case when the variable is not set, or the target is a data store),
  so the associations are left out of the library's copy.
- A link throw event jumps to the link catch event of the same name in the same
  (sub)process. SpiffWorkflow has no link events (the throw ends its branch, the catch is
  never reached), so each pair becomes a plain sequence flow between two none events.

The stored file is never changed: the designer's diagram stays as drawn.
"""
from __future__ import annotations

import copy

from lxml import etree

from .bpmn_xml import BPMN, link_name

IGNORED = ("dataInputAssociation", "dataOutputAssociation", "ioSpecification")
CONTAINERS = ("process", "subProcess", "transaction")


def library_view(root: etree._Element) -> etree._Element:
    """A copy of ``root`` for the parser (line numbers kept: problems still point at the file)."""
    view = copy.deepcopy(root)
    for el in list(view.iter(*(f"{BPMN}{t}" for t in IGNORED))):
        el.getparent().remove(el)
    for container in list(view.iter(*(f"{BPMN}{t}" for t in CONTAINERS))):
        _join_links(container)
    return view


def _join_links(container: etree._Element) -> None:
    catches = {}
    for el in container:
        if el.tag == f"{BPMN}intermediateCatchEvent" and link_name(el):
            catches[link_name(el)] = el
    for el in list(container):
        if el.tag != f"{BPMN}intermediateThrowEvent" or not link_name(el):
            continue
        catch = catches.get(link_name(el))
        if catch is None:
            continue  # refused at deploy by construct_checks; never reaches the parser
        flow = etree.Element(f"{BPMN}sequenceFlow", id=f"{el.get('id')}_link_{catch.get('id')}",
                             sourceRef=el.get("id"), targetRef=catch.get("id"))
        # Flow elements come before artifacts in the schema: put the flow beside the catch.
        catch.addnext(flow)
        el.remove(el.find(f"{BPMN}linkEventDefinition"))
    for catch in catches.values():
        catch.remove(catch.find(f"{BPMN}linkEventDefinition"))  # a none catch event passes through
