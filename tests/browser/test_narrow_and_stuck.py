"""In a real browser: the manager view fits a 390 px phone (wide tables scroll inside their
box, the page itself does not scroll sideways), and a stuck case's diagram marks the step the
case stopped after.

Where no Chromium can be launched the whole module is skipped with the reason (pytest -ra shows it)."""
from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.services import deploy

from ..api.test_stuck_cases import start as start_stuck
from ..api.walk import do, start
from .conftest import why_no_browser
from .test_manager_view import sign_in

_REASON = why_no_browser()
if _REASON:
    pytest.skip(_REASON, allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402  (only once a browser is known to launch)

# a fake join drawn as Camunda Modeler draws it (with its layout, so the browser can show it)
DATA = Path(__file__).parent / "data"


def test_the_manager_view_fits_a_phone(page, client_for, screenshot):
    start(client_for("rita"), "north", client_ref="AS-5201")  # one open task: a small cell, marked
    sign_in(page, "mia")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/manage?pathway=unemployed_health_check")
    expect(page.locator('#heatmap[data-ready="true"]')).to_have_count(1)
    expect(page.locator("td.small").first).to_be_attached()
    # the small-cell marks' screen-reader text sits in cells scrolled out of view; it must not widen the page
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "manage-390")


def test_a_stuck_case_diagram_marks_where_it_stopped(page, deployed, token_client_for, screenshot):
    deploy.deploy(deployed, None, {"stuck_drawn.bpmn": (DATA / "stuck_drawn.bpmn").read_bytes()},
                  {"stuck_start.form": (DATA / "stuck_start.form").read_bytes()})
    nina = token_client_for("nina")
    case_id = start_stuck(nina, "stuck_drawn", "ST-B1")
    do(nina, case_id, "Task_Normal", {})

    sign_in(page, "nina")
    page.goto(f"/cases/{case_id}")
    expect(page.locator('#diagram[data-ready="true"]')).to_have_count(1)
    expect(page.locator('#diagram g.djs-element.stuck-step[data-element-id="Task_Normal"]')).to_have_count(1)
    expect(page.locator("#diagram g.stuck-step")).to_have_count(1)
    expect(page.locator("p.stuck")).to_contain_text("Käsittely")
    screenshot(page, "case-stuck")
