"""Deploy-time rules for multi-instance activities and the case initiator.

* ``camunda:collection`` names case data (``${list}`` or ``list``), ``camunda:elementVariable``
  becomes a known name inside the activity, and ``loopCardinality`` / ``completionCondition``
  are allow-listed expressions that may read Camunda's instance counters;
* ``${initiator}``, and a start event's ``camunda:initiator="x"``, name the user who started
  the case.
"""
from __future__ import annotations

import re

from lxml import etree

from .bpmn_xml import BPMN, C
from .expressions import ExpressionError, compile_expression, simple_reference

# Camunda's own multi-instance variables, available to a completionCondition
MI_VARIABLES = frozenset({"nrOfInstances", "nrOfCompletedInstances", "nrOfActiveInstances", "loopCounter"})
# The starting user, as ${initiator}: Polku sets it on every case (Camunda needs camunda:initiator)
INITIATOR = "initiator"


def collection_name(value: str | None) -> str | None:
    """``${reviewers}`` or ``reviewers`` → ``reviewers``; None for anything else."""
    if not value:
        return None
    text = value.strip()
    ref = simple_reference(text)
    if ref:
        return ref
    return text if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", text) else None


def element_variables(process: etree._Element) -> set[str]:
    names = set()
    for mi in process.iter(f"{BPMN}multiInstanceLoopCharacteristics"):
        var = (mi.get(f"{C}elementVariable") or "").strip()
        if var:
            names.add(var)
    return names


def check_multi_instance(checker, process: etree._Element) -> None:
    """``checker`` is the ``validation.Checker`` running over ``process``."""
    for mi in process.iter(f"{BPMN}multiInstanceLoopCharacteristics"):
        activity = mi.getparent()
        raw = mi.get(f"{C}collection")
        card = mi.find(f"{BPMN}loopCardinality")
        cond = mi.find(f"{BPMN}completionCondition")
        var = (mi.get(f"{C}elementVariable") or "").strip()
        if raw is not None:
            name = collection_name(raw)
            if name is None:
                checker.problem(activity, f"the multi-instance collection {raw!r} is not a case-data name",
                                'write the name of a list field, e.g. camunda:collection="${reviewers}"')
            else:
                checker._check_names(activity, {name}, "multi-instance collection")
            if not var:
                checker.problem(activity, "a multi-instance activity over a collection needs an element variable",
                                'set Element variable to the name each instance gets its item as, e.g. reviewer')
        elif card is None or not (card.text or "").strip():
            checker.problem(activity, "a multi-instance activity needs a collection or a loop cardinality",
                            'set Collection to a list field (${reviewers}) or Loop cardinality to a number')
        if card is not None and (card.text or "").strip() and raw is None:
            _check_mi_expression(checker, activity, card.text, "loop cardinality", set())
        if cond is not None and (cond.text or "").strip():
            _check_mi_expression(checker, activity, cond.text, "completion condition", MI_VARIABLES)
        if var and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", var):
            checker.problem(activity, f"element variable {var!r} is not a plain name",
                            "use letters, digits and _ only, e.g. reviewer")


def _check_mi_expression(checker, activity: etree._Element, text: str, what: str, extra: frozenset | set) -> None:
    text = text.strip()
    ref = simple_reference(text)
    if ref:
        checker._check_names(activity, {ref} - set(extra), what)
        return
    try:
        compiled = compile_expression(text)
    except ExpressionError as exc:
        checker.problem(activity, f"{what} {text!r} cannot be used: {exc}",
                        "write an expression such as nrOfCompletedInstances >= 2 or approved == True")
        return
    checker._check_names(activity, compiled.names - set(extra), what)


def initiator_names(process: etree._Element) -> set[str]:
    names = {INITIATOR}
    for start in process.findall(f"{BPMN}startEvent"):
        name = (start.get(f"{C}initiator") or "").strip()
        if name:
            names.add(name)
    return names
