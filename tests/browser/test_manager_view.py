"""The manager view in a real browser (Debian's Chromium driven by Playwright): three health
checks wait to be booked; the manager signs in, sees 3 on the booking step of the live diagram,
clicks the step and gets the three open tasks — with no client reference anywhere.

Where no Chromium can be launched the whole module is skipped with the reason (pytest -ra shows it)."""
from __future__ import annotations

import re

import pytest

from ..api.walk import start
from ..conftest import PASSWORD
from .conftest import why_no_browser

_REASON = why_no_browser()
if _REASON:
    pytest.skip(_REASON, allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402  (only once a browser is known to launch)

REFS = ("AS-5101", "AS-5102", "AS-5103")
STEP = "Task_BookAppointment"


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("button.primary[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(page.locator("header.top .who")).to_have_text(username)


def test_the_manager_sees_where_the_work_waits_and_the_open_tasks_of_a_step(page, client_for, screenshot):
    rita = client_for("rita")
    for ref in REFS:
        assert start(rita, "north", client_ref=ref)["current_steps"] == [STEP]

    sign_in(page, "mia")
    expect(page.locator('header.top nav a[href="/manage"]')).to_have_count(1)
    page.goto("/manage?pathway=unemployed_health_check")
    expect(page.locator('#heatmap[data-ready="true"]')).to_have_count(1)

    count = page.locator(f'#heatmap .step-count[data-element-id="{STEP}"]')
    expect(count).to_have_count(1)
    expect(count).to_have_attribute("data-open", "3")
    expect(count).to_have_attribute("data-overdue", "0")
    expect(count.locator(".open-n")).to_have_text("3")
    expect(page.locator("#heatmap .step-count")).to_have_count(1)  # nothing waits anywhere else

    # the monthly flow is drawn by Chart.js from the JSON in the page; no case has closed yet
    assert page.evaluate("() => !!(window.Chart && Chart.getChart('flow-chart'))")
    expect(page.locator("#outcomes-chart")).to_have_count(0)

    # clicking the step's shape lists its open tasks, pseudonymous
    page.locator(f'#heatmap g.djs-element.djs-shape[data-element-id="{STEP}"]').click()
    expect(page.locator('#step-tasks[data-ready="true"]')).to_have_count(1)
    rows = page.locator(f'#step-tasks table.step-tasks[data-element-id="{STEP}"] tbody tr')
    expect(rows).to_have_count(3)
    listed = page.locator("#step-tasks").inner_text()
    body = page.content()
    for ref in REFS:
        assert ref not in listed and ref not in body
    expect(rows.first.locator("td").nth(2)).to_have_text("north")
    screenshot(page, "manage")
