"""The project's own diagrams stay clean under bpmnlint's recommended rules (``.bpmnlintrc``),
the same check ``make lint`` runs, so a diagram edited in Camunda Modeler that picks up a
fake join or an unnamed conditional flow fails here before it is merged."""
from __future__ import annotations

import subprocess

import pytest

from .helpers import ROOT

BPMNLINT = ROOT / "node_modules" / ".bin" / "bpmnlint"


@pytest.mark.skipif(not BPMNLINT.exists(), reason="bpmnlint is not installed: run `npm ci` (make setup does)")
def test_the_projects_diagrams_have_no_bpmnlint_problem() -> None:
    diagrams = sorted(str(p) for p in (ROOT / "processes").glob("*.bpmn"))
    assert len(diagrams) >= 4
    result = subprocess.run([str(BPMNLINT), *diagrams], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "problem" not in result.stdout
