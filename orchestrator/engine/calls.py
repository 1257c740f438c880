"""Call activities: which process a ``calledElement`` names, and where its BPMN comes from.

A call activity is resolved when the caller is deployed — against the processes of the same
deploy first, then against the latest deployed version of each other process — and the
called files are stored with the caller's version (``ProcessModel.calls``), so a running case
keeps the called process it started with, as it keeps its own version.
"""
from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from ..errors import Problem
from .bpmn_xml import BPMN, C, problem_at
from .xml_safety import parse_xml

# camunda:calledElementBinding values Polku can honour: the called process is pinned when the
# caller is deployed, which is "latest" at that moment (and "deployment" when both come together)
BINDINGS = ("", "latest", "deployment")


@dataclass(frozen=True)
class Source:
    """One BPMN file: its name (as problems cite it), its text and its parsed root."""

    name: str
    text: str
    root: etree._Element


def process_ids(root: etree._Element, executable_only: bool = False) -> list[str]:
    return [p.get("id") for p in root.findall(f"{BPMN}process")
            if p.get("id") and (not executable_only or p.get("isExecutable") == "true")]


def called_elements(root: etree._Element) -> list[etree._Element]:
    return [el for el in root.iter(f"{BPMN}callActivity")]


def check_calls(sources: list[Source], library: Mapping[str, tuple[str, str]]) -> list[Problem]:
    """Every call activity of the deploy must name a process Polku can run."""
    executable: dict[str, str] = {}
    not_executable: set[str] = set()
    for src in sources:
        for process in src.root.findall(f"{BPMN}process"):
            if process.get("isExecutable") == "true":
                executable[process.get("id")] = src.name
            else:
                not_executable.add(process.get("id"))
    known = sorted(set(executable) | set(library))
    problems = []
    for src in sources:
        for el in called_elements(src.root):
            def problem(message: str, fix: str, el: etree._Element = el, src: Source = src) -> None:
                problems.append(problem_at(el, message, file=src.name, fix=fix))
            target = (el.get("calledElement") or "").strip()
            binding = (el.get(f"{C}calledElementBinding") or "").strip()
            if not target:
                problem("the call activity does not say which process it calls",
                        f"set 'Called element' to a process id, one of: {', '.join(known) or '(none deployed)'}")
            elif "${" in target or "#{" in target:
                problem(f"the called process {target!r} is an expression; Polku resolves calls when deploying",
                        "write the called process id itself")
            elif target not in known:
                if target in not_executable:
                    problem(f"the called process {target!r} is not executable",
                            f"tick 'Executable' on process {target!r}")
                else:
                    close = difflib.get_close_matches(target, known, n=1)
                    hint = f"did you mean {close[0]!r}? " if close else ""
                    problem(f"the called process {target!r} is neither in this deploy nor deployed",
                            f"{hint}known processes: {', '.join(known) or '(none)'}; "
                            f"deploy {target!r} together with this file or before it")
            elif binding not in BINDINGS:
                problem(f"calledElementBinding {binding!r} is not supported: Polku calls the version that "
                        "was the latest when the caller was deployed",
                        "remove camunda:calledElementBinding (or set it to 'latest')")
    return problems


def called_sources(own: Source, deploy: list[Source], library: Mapping[str, tuple[str, str]],
                   max_bytes: int) -> tuple[list[Source], dict[str, tuple[str, str]]]:
    """The other files the processes of ``own`` call, directly or through other calls.

    Returns the sources to add to the parser (each holding only the processes it is the source
    of, so an older copy of a redeployed process never shadows the new one) and, per called
    process id, (file name, text) as stored with the caller's version.
    """
    in_deploy = {pid: src for src in deploy for pid in process_ids(src.root)}
    own_ids = set(process_ids(own.root))
    wanted: dict[str, tuple[str, str]] = {}
    roots: dict[str, Source] = {}
    pending = [el.get("calledElement") for el in called_elements(own.root)]
    while pending:
        pid = (pending.pop() or "").strip()
        if not pid or pid in own_ids or pid in wanted:
            continue
        if pid in in_deploy:
            src = in_deploy[pid]
        elif pid in library:
            name, text = library[pid]
            src = roots.get(name) or Source(name, text, parse_xml(text.encode(), name, max_bytes))
        else:
            continue  # check_calls has reported it
        roots[src.name] = src
        wanted[pid] = (src.name, src.text)
        pending.extend(el.get("calledElement") for el in called_elements(src.root))
    sources = []
    for name, src in roots.items():
        keep = {pid for pid, (n, _t) in wanted.items() if n == name}
        root = copy.deepcopy(src.root)
        for process in root.findall(f"{BPMN}process"):
            if process.get("id") not in keep:
                root.remove(process)
        sources.append(Source(name, src.text, root))
    return sources, wanted

